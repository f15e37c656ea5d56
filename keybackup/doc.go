// Package keybackup makes and opens backups of the controller's sealing
// keys: the key Secrets and a manifest of their key IDs, encrypted with age
// (https://age-encryption.org) to X25519, post-quantum hybrid or SSH
// recipients, or to a passphrase.
//
// A bundle is ciphertext, ASCII-armored by default, so it is safe to commit
// to Git. Whoever holds one of its identities can restore every key in it
// and unseal everything those keys sealed: keep the identities offline.
//
// The package is pure. [Seal] and [Open] work on byte streams in memory; no
// function here touches a disk or a cluster. kubeseal keys backup and
// restore, --recovery-unseal and the controller's automatic backup do the
// I/O, and only ever write ciphertext. Key Secrets are read with
// sealsync's one codec of Bitnami's format (internal/keys/keysecret), which
// is pure too.
//
// # Format
//
// A bundle is an age v1 file, armored (PEM type "AGE ENCRYPTED FILE", 64
// columns, strict base64) unless it was written by [SealBinary]. Its
// plaintext is one UTF-8 JSON object:
//
//	{
//	  "manifest": {
//	    "format": "sealsync.dev/keybackup",
//	    "version": 1,
//	    "created": "2027-02-01T10:00:00Z",
//	    "keys": [
//	      {
//	        "id": "<64 lowercase hex digits>",
//	        "status": "active",
//	        "notBefore": "2027-01-01T00:00:00Z",
//	        "notAfter": "2036-12-30T00:00:00Z",
//	        "secret": "sealed-secrets-keyx8q2m"
//	      }
//	    ]
//	  },
//	  "secrets": [
//	    {
//	      "apiVersion": "v1", "kind": "Secret",
//	      "metadata": {"name": "sealed-secrets-keyx8q2m", "creationTimestamp": "…",
//	                   "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
//	      "type": "kubernetes.io/tls",
//	      "data": {"tls.crt": "<base64 PEM>", "tls.key": "<base64 PEM>"}
//	    }
//	  ]
//	}
//
// manifest.keys[i] describes secrets[i]:
//
//   - id is the key's [crypto.KeyID], the SHA-256 of its public key's
//     SubjectPublicKeyInfo, in hex.
//   - status is "active" or "compromised", the value of the Secret's label
//     sealedsecrets.bitnami.com/sealed-secrets-key.
//   - notBefore and notAfter are the validity of the first certificate in
//     tls.crt.
//   - secret is the Secret's name; it is absent for a key that never had a
//     Secret (one converted from a PEM file).
//
// Each Secret is a key Secret in Bitnami's format reduced to what a restore
// needs: name, labels, annotations (without kubectl's last-applied
// configuration, which would be a second copy of the key), creation time,
// type kubernetes.io/tls, and tls.crt and tls.key byte for byte as they
// were stored. No namespace, UID, owner or finalizer is carried. Keys are
// ordered newest first by notBefore, then by id.
//
// manifest.version is 1. A reader refuses a version it does not know and,
// within version 1, any field version 1 does not define; a writer that
// adds or changes anything must bump the version.
//
// # Verification
//
// [Open] returns a bundle only when all of this holds:
//
//   - One of the identities unwraps the file key. age's header MAC then
//     covers every header byte, and each 64 KiB payload chunk carries a
//     Poly1305 tag with a last-chunk flag, so a flipped, inserted, removed
//     or truncated byte anywhere is refused. The armor must be canonical
//     (age's strict reader).
//   - The plaintext is exactly one version 1 object, with no unknown field
//     and nothing after it.
//   - Each manifest entry matches its Secret: the id equals [crypto.KeyIDOf]
//     the private key, the certificate's public key is the private key's,
//     the status equals the label, the validity equals the certificate's,
//     the name equals the Secret's; no key and no name appears twice.
//
// # Security
//
// age encrypts but does not sign: anyone who knows a recipient's public key
// can make a bundle that [Open] accepts with the matching identity. A
// restored active key seals new Secrets, so restore only bundles you made
// and stored yourself, and compare the key IDs kubeseal prints with the
// ones you expect. Passphrase bundles are the exception: making one needs
// the passphrase.
//
// age allows a passphrase only as the sole recipient of a file (so that a
// passphrase file stays authenticated); [Seal] refuses to mix one with
// other recipients. Back up twice to use both.
//
// Plaintext lives only in memory, and [Seal] and [Open] clear their
// plaintext buffers before returning. That is best effort: the Go runtime
// may have copied them, and the keys themselves stay in memory as long as
// the caller holds them.
//
// # Errors
//
// Errors never carry key material or plaintext. They name the structure
// that failed ("secret 2 (sealed-secrets-keyx8q2m): key ID does not match
// the manifest") but are deliberately vague about why decryption failed:
// [ErrNoIdentity] for a wrong identity or passphrase, [ErrCorrupt] for
// anything that fails authentication.
package keybackup
