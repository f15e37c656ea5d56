package crypto

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

const (
	// DefaultKeyBits is the RSA modulus size in bits of a generated key, as in
	// Bitnami's controller.
	DefaultKeyBits = 4096
	// MinKeyBits is the smallest RSA modulus size in bits this package
	// generates or accepts for sealing.
	MinKeyBits = 2048
	// DefaultCertValidity is how long a generated certificate is valid:
	// ten years, as in Bitnami's controller (--key-ttl 87600h).
	DefaultCertValidity = 10 * 365 * 24 * time.Hour
	// serialBits is the size in bits of a certificate's random serial number.
	serialBits = 128
)

// KeyID identifies an RSA key: the SHA-256 of the DER encoding of its
// public key's SubjectPublicKeyInfo.
type KeyID [sha256.Size]byte

// KeyIDOf returns the key ID of pub.
func KeyIDOf(pub *rsa.PublicKey) KeyID {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		// MarshalPKIXPublicKey fails only for key types it does not know;
		// *rsa.PublicKey is always known.
		panic("crypto: marshal RSA public key: " + err.Error())
	}
	return sha256.Sum256(der)
}

// ParseKeyID parses the lowercase hex form that [KeyID.String] returns.
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	if len(s) != hex.EncodedLen(len(id)) {
		return id, fmt.Errorf("crypto: key ID %q: want %d hex digits", s, hex.EncodedLen(len(id)))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("crypto: key ID %q: %w", s, err)
	}
	return id, nil
}

// String returns the key ID as 64 lowercase hex digits.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits, enough to tell keys apart in a listing.
func (id KeyID) Short() string { return id.String()[:12] }

// IsZero reports whether id is the zero value, which names no key.
func (id KeyID) IsZero() bool { return id == KeyID{} }

// GenerateKey generates an RSA private key of the given size in bits from
// random (most callers pass crypto/rand.Reader).
func GenerateKey(random io.Reader, bits int) (*rsa.PrivateKey, error) {
	if bits < MinKeyBits {
		return nil, fmt.Errorf("crypto: key size %d bits is below the minimum of %d", bits, MinKeyBits)
	}
	key, err := rsa.GenerateKey(random, bits)
	if err != nil {
		return nil, fmt.Errorf("crypto: generate RSA key: %w", err)
	}
	return key, nil
}

// NewCertificate self-signs a certificate for key, valid from notBefore for
// validFor, with common name cn. It has the shape of Bitnami's: a random
// 128-bit serial, IsCA, key usage EncipherOnly and a SHA256-RSA signature.
// Sealing only reads the public key and the validity period from it.
func NewCertificate(random io.Reader, key *rsa.PrivateKey, notBefore time.Time, validFor time.Duration, cn string) (*x509.Certificate, error) {
	if random == nil {
		random = rand.Reader
	}
	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), serialBits))
	if err != nil {
		return nil, fmt.Errorf("crypto: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		Issuer:                pkix.Name{CommonName: cn},
		NotBefore:             notBefore.UTC(),
		NotAfter:              notBefore.Add(validFor).UTC(),
		KeyUsage:              x509.KeyUsageEncipherOnly,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("crypto: create certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// ParsePrivateKeyPEM parses the first PEM block of b as an RSA private key,
// PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY").
func ParsePrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("crypto: no RSA private key PEM block found")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("crypto: parse PKCS#1 private key: %w", err)
			}
			return key, nil
		case "PRIVATE KEY":
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("crypto: parse PKCS#8 private key: %w", err)
			}
			rsaKey, ok := key.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("crypto: private key is %T, want RSA", key)
			}
			return rsaKey, nil
		}
	}
}

// ParseCertificatesPEM parses every CERTIFICATE block in b, in order.
func ParseCertificatesPEM(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("crypto: parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("crypto: no certificate PEM block found")
	}
	return certs, nil
}

// ParseSealingCertificate returns the RSA public key of the first
// certificate in b, the one kubeseal seals to. It refuses a certificate that
// is expired at now, whose key is not RSA, or whose key is smaller than
// [MinKeyBits] ([ErrWeakKey]).
func ParseSealingCertificate(b []byte, now time.Time) (*x509.Certificate, *rsa.PublicKey, error) {
	certs, err := ParseCertificatesPEM(b)
	if err != nil {
		return nil, nil, err
	}
	c := certs[0]
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("crypto: certificate key is %T, want RSA", c.PublicKey)
	}
	if err := CheckSealingKey(pub); err != nil {
		return nil, nil, err
	}
	if now.After(c.NotAfter) {
		return nil, nil, fmt.Errorf("crypto: refusing to seal with a certificate that expired on %s", c.NotAfter.Format("January 2, 2006"))
	}
	return c, pub, nil
}

// ErrWeakKey is returned when a value would be sealed to an RSA key of
// fewer than [MinKeyBits] bits.
var ErrWeakKey = errors.New("crypto: refusing to seal with a weak key")

// CheckSealingKey refuses an RSA public key too small to seal with: a
// value sealed to it is only as safe as the key is hard to factor, for as
// long as the sealed value sits in Git.
func CheckSealingKey(pub *rsa.PublicKey) error {
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return fmt.Errorf("%w: the RSA key has %d bits, the minimum is %d", ErrWeakKey, bits, MinKeyBits)
	}
	return nil
}

// EncodePrivateKeyPEM returns key as a PKCS#1 "RSA PRIVATE KEY" PEM block,
// the form Bitnami stores in a key Secret's tls.key.
func EncodePrivateKeyPEM(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// EncodeCertificatePEM returns c as a "CERTIFICATE" PEM block.
func EncodeCertificatePEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
