package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

const (
	// SessionKeySize is the size in bytes of the AES-256 key that seals one value.
	SessionKeySize = 32
	// NonceSize is the size in bytes of the GCM nonce. The nonce is always
	// zero: each session key encrypts exactly one message.
	NonceSize = 12
	// Overhead is the size in bytes of the GCM tag appended to each value.
	Overhead = 16
	// lengthPrefixSize is the size in bytes of the big-endian length of the
	// RSA ciphertext at the start of a blob.
	lengthPrefixSize = 2
)

var (
	// ErrDecryption is returned when a sealed value cannot be opened: no key
	// fits, the scope label differs or the ciphertext was altered. It is
	// deliberately vague to avoid adaptive attacks.
	ErrDecryption = errors.New("crypto: no key could decrypt the value")
	// ErrMalformed is returned when a blob is not in the sealed format at all
	// (too short for its own length prefix). It says nothing about any key.
	ErrMalformed = errors.New("crypto: malformed sealed value")
)

// zeroNonce is safe because a session key never seals more than one value.
var zeroNonce = make([]byte, NonceSize)

// HybridEncrypt seals plaintext for pub in the Bitnami wire format.
//
// random supplies the session key and the OAEP seed; most callers pass
// crypto/rand.Reader. label binds the value to its scope (see [Label]): the
// same label must be given to decrypt. The returned blob is raw bytes; a
// SealedSecret stores it base64-encoded. A key smaller than [MinKeyBits]
// is refused with [ErrWeakKey].
func HybridEncrypt(random io.Reader, pub *rsa.PublicKey, plaintext, label []byte) ([]byte, error) {
	if err := CheckSealingKey(pub); err != nil {
		return nil, err
	}
	sessionKey := make([]byte, SessionKeySize)
	if _, err := io.ReadFull(random, sessionKey); err != nil {
		return nil, fmt.Errorf("crypto: read session key: %w", err)
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), random, pub, sessionKey, label)
	if err != nil {
		return nil, fmt.Errorf("crypto: wrap session key: %w", err)
	}
	if len(wrapped) > math.MaxUint16 {
		return nil, fmt.Errorf("crypto: RSA ciphertext of %d bytes does not fit the length prefix", len(wrapped))
	}
	out := make([]byte, lengthPrefixSize, lengthPrefixSize+len(wrapped)+len(plaintext)+Overhead)
	binary.BigEndian.PutUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	return aead.Seal(out, zeroNonce, plaintext, nil), nil
}

// HybridDecrypt opens a blob sealed by [HybridEncrypt] with one private key.
// It returns [ErrMalformed] if the blob cannot be split, and [ErrDecryption]
// for every other failure.
func HybridDecrypt(priv *rsa.PrivateKey, blob, label []byte) ([]byte, error) {
	wrapped, sealed, err := SplitBlob(blob)
	if err != nil {
		return nil, err
	}
	return openSplit(priv, wrapped, sealed, label)
}

func openSplit(priv *rsa.PrivateKey, wrapped, sealed, label []byte) ([]byte, error) {
	// A ciphertext longer or shorter than the modulus cannot be for this key;
	// skipping it saves a full private-key operation.
	if len(wrapped) != priv.Size() {
		return nil, ErrDecryption
	}
	// The random argument of DecryptOAEP is ignored since Go 1.20; blinding
	// is done internally.
	sessionKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, label)
	if err != nil || len(sessionKey) != SessionKeySize {
		return nil, ErrDecryption
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, ErrDecryption
	}
	plaintext, err := aead.Open(nil, zeroNonce, sealed, nil)
	if err != nil {
		return nil, ErrDecryption
	}
	return plaintext, nil
}

// SplitBlob splits a sealed blob into the RSA-wrapped session key and the
// GCM ciphertext with its tag. The returned slices alias blob.
func SplitBlob(blob []byte) (wrapped, sealed []byte, err error) {
	if len(blob) < lengthPrefixSize {
		return nil, nil, ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(blob))
	if len(blob) < lengthPrefixSize+n+Overhead {
		return nil, nil, ErrMalformed
	}
	return blob[lengthPrefixSize : lengthPrefixSize+n], blob[lengthPrefixSize+n:], nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	return cipher.NewGCM(block)
}
