package sopsx

// Quotes reports whether msg holds a value this Decryptor decrypted (a
// run of 8 of its bytes, or a short value of 4 to 7 bytes whole), as is
// or base64-encoded as Kubernetes Secrets hold it (see [redact.Values]).
// A caller whose later steps may quote what they read (kustomize and Helm
// print objects and values in some of their errors) checks its error with
// Quotes and, when it reports true, shows a message of its own instead.
//
// Only the first 64 KiB of msg are checked; callers cut longer messages.
// The cost is linear in len(msg) plus the size of everything decrypted,
// paid only when there is an error to show.
func (d *Decryptor) Quotes(msg string) bool { return d.values.Quotes(msg) }
