// Package reencrypt moves every SealedSecret in a tree of manifests to the
// newest sealing key, rewriting only the values that change.
//
// [Run] walks the given paths, finds every SealedSecret (bitnami.com/v1alpha1)
// in each YAML or JSON file, multi-document streams and v1 Lists included,
// and hands each to a [Resealer]: [Offline] re-seals with keys held in
// memory, and kubeseal has one that asks the controller's /v1/rotate.
//
// # Only the ciphertext changes
//
// Re-sealing a file with kubeseal re-encodes the whole object, so a Git diff
// shows every line. Here a file is parsed only to find where each value
// lies; the new ciphertext is then spliced into the original bytes at those
// offsets. Comments, key order, quoting, indentation, other documents, "---"
// separators, line endings and the final newline stay as they were. Values
// already sealed with the target key keep their ciphertext, so re-running
// changes nothing. The one addition is the sealsync.dev/key-id annotation,
// updated to name the new key or inserted into metadata.annotations (as
// its first entry in YAML, its last in JSON), which is created when absent
// with the indentation and line endings around it.
//
// # Checked before written
//
// The rewritten bytes are parsed again and compared with the original
// tree: every node must be the same, in kind, tag, style and value, except
// the replaced values and the inserted annotation. A file that fails the
// check, or that changed while it was being re-sealed, is left untouched
// and reported; files are replaced atomically and keep their mode.
//
// # What is not rewritten
//
// A value written through a YAML alias, anchor, tag or merge key, a block
// scalar with an explicit indentation indicator, or a duplicate key makes
// its SealedSecret fail with a reason rather than be rewritten blindly.
// Files that do not contain the word SealedSecret are not parsed at all, so
// Helm templates and other non-manifests with a .yaml name are left alone.
//
// # Errors
//
// Reports name the file, the document and the object, never a value: parse
// errors are scrubbed of quoted input as package manifest does, and
// unsealing errors are package crypto's deliberately vague ones.
package reencrypt
