// Package crypto seals and unseals values in the Bitnami Sealed Secrets wire
// format and manages the RSA keys that do it.
//
// # Wire format
//
// Each value is sealed on its own ([HybridEncrypt]): a fresh 32-byte session
// key encrypts the value with AES-256-GCM (all-zero 12-byte nonce, which is
// safe because every session key seals exactly one message), and the session
// key itself is wrapped with RSA-OAEP using SHA-256 for both the hash and
// MGF1. The blob is
//
//	uint16_be(len(rsaCiphertext)) || rsaCiphertext || gcmCiphertext || gcmTag
//
// and a SealedSecret carries it in standard padded base64. With RSA-4096 keys
// the length prefix is 0x0200, so sealed values start with "AgA" to "AgD".
//
// # Scopes
//
// The OAEP label binds a value to where it may be unsealed ([Label]): strict
// binds namespace and name, namespace-wide binds only the namespace and
// cluster-wide binds nothing. A value sealed for one place fails to unseal
// anywhere else because the label does not match.
//
// # Keys and key IDs
//
// A [Key] is an RSA private key with its self-signed certificate. Its [KeyID]
// is the SHA-256 of the public key's DER SubjectPublicKeyInfo, which is stable
// across certificate renewals of the same key. The wire format carries no key
// ID, so a [Keyring] finds the right key from an out-of-band hint in O(1) and
// otherwise tries its keys newest first. The hint is only ever used to order
// the attempts: the OAEP and GCM checks decide whether a key is right.
//
// # Errors
//
// Unsealing fails with [ErrDecryption] whatever went wrong after the blob was
// parsed: wrong key, wrong label, tampered ciphertext. The error is
// deliberately vague, like crypto/rsa's, so that it is no oracle and never
// carries secret bytes.
package crypto
