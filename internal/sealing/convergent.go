package sealing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"io"
)

// MinConvergenceKeySize is the smallest convergence key
// [NewConvergentSealer] accepts, in bytes: 256 bits.
const MinConvergenceKeySize = 32

// ErrShortConvergenceKey is returned by [NewConvergentSealer] for a key
// shorter than [MinConvergenceKeySize].
var ErrShortConvergenceKey = errors.New("convergence key must be at least 32 bytes")

// convergenceDomain separates this derivation from any other use of the
// same key.
const convergenceDomain = "sealsync convergent sealing v1"

// NewConvergentSealer returns a sealer for pub whose output is a function
// of its input: sealing the same value for the same scope, name,
// namespace and item key to the same certificate gives the same bytes
// every time. A GitOps tool that renders manifests again and again (Argo
// CD's config-management plugin) then sees no change where there is none.
//
// The wire format is Bitnami's, unchanged: only where the randomness
// comes from differs. For each value, the session key and the OAEP seed
// HybridEncrypt draws are read from AES-256-CTR keyed by
//
//	HMAC-SHA256(key, domain ‖ key ID ‖ label ‖ item key ‖ plaintext)
//
// (each field length-prefixed), so any controller holding the private key
// opens the value as it opens any other.
//
// Why the derivation is keyed: with randomness derived from public inputs
// alone, anyone holding the certificate (which is public) could seal a
// guess for a value (a password from a dictionary, a short PIN) with the
// same scope and compare the result to the committed or cached
// ciphertext: equal bytes would confirm the guess. The certificate's
// holder and every reader of Argo CD's cache could run that dictionary
// attack offline. Keyed by a secret only the sealer holds, the derived
// randomness is unpredictable to everyone else, so a guess sealed without
// the key never matches, and the ciphertext reveals nothing more than
// randomly sealed ciphertext does, except that one value sealed twice in
// the same place gives the same bytes (which is the point). The label and
// the item key are part of the input so that one value in two Secrets, or
// under two keys of one Secret, is sealed differently and equal values
// cannot be told apart across places; the key ID is, so that a new
// certificate gives new randomness.
//
// key must hold at least [MinConvergenceKeySize] bytes of secret,
// uniformly random data; it is copied.
func NewConvergentSealer(key []byte, pub *rsa.PublicKey) (*Sealer, error) {
	if len(key) < MinConvergenceKeySize {
		return nil, ErrShortConvergenceKey
	}
	s := NewSealer(nil, pub)
	s.convergence = append([]byte(nil), key...)
	return s, nil
}

// randomFor returns the randomness that seals value under label and item:
// the sealer's reader, or for a convergent sealer a stream derived as
// NewConvergentSealer describes.
func (s *Sealer) randomFor(label []byte, item string, value []byte) io.Reader {
	if s.convergence == nil {
		return s.random
	}
	mac := hmac.New(sha256.New, s.convergence)
	writeField(mac, []byte(convergenceDomain))
	writeField(mac, s.keyID[:])
	writeField(mac, label)
	writeField(mac, []byte(item))
	writeField(mac, value)
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		panic("sealing: AES-256 with a 32-byte key: " + err.Error()) // cannot happen
	}
	// One key per value, so the all-zero counter start is never reused
	// under one key.
	return cipher.StreamReader{S: cipher.NewCTR(block, make([]byte, aes.BlockSize)), R: zeros{}}
}

// writeField writes b with its length first, so that no two different
// field lists hash the same.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// zeros reads as an endless run of zero bytes: XORed with a key stream,
// it yields the key stream.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
