package keybackup

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// MaxSize is the largest bundle in bytes that [Open] reads, armored or
// binary, and the largest plaintext it decrypts. A bundle of 24 RSA-4096
// keys is about 200 KiB armored.
const MaxSize = 16 << 20

// binaryIntro starts every binary age file.
const binaryIntro = "age-encryption.org/"

// maxLeadingSpace is how much whitespace age's armor reader skips before
// the armor header.
const maxLeadingSpace = 1024

var (
	// ErrNotBundle is returned by [Open] for input that is not an age
	// file, armored or binary.
	ErrNotBundle = errors.New("keybackup: not an age-encrypted bundle")
	// ErrTooLarge is returned by [Open] for input over [MaxSize].
	ErrTooLarge = errors.New("keybackup: bundle is larger than the limit")
	// ErrNoIdentity is returned by [Open] when none of the identities
	// opens the bundle: a wrong identity or passphrase, or a damaged
	// recipient stanza; age does not tell them apart.
	ErrNoIdentity = errors.New("keybackup: none of the identities opens this bundle (wrong identity or passphrase?)")
	// ErrCorrupt is returned by [Open] when the bundle fails
	// authentication: it was damaged, truncated or tampered with.
	ErrCorrupt = errors.New("keybackup: bundle is damaged or was tampered with")
	// ErrPassphraseNotAlone is returned by [Seal] when a passphrase is
	// mixed with other recipients, which age forbids.
	ErrPassphraseNotAlone = errors.New("keybackup: a passphrase must be the only recipient: age forbids mixing it with other recipients, so back up twice to use both")
)

// IsAgeFile reports whether b starts like an age file, armored or binary.
// It proves nothing about the rest; [Open] does.
func IsAgeFile(b []byte) bool {
	if bytes.HasPrefix(b, []byte(binaryIntro)) {
		return true
	}
	lead := b[:min(len(b), maxLeadingSpace+len(armor.Header))]
	return bytes.HasPrefix(bytes.TrimSpace(lead), []byte(armor.Header))
}

// Seal writes b to w as an ASCII-armored age file encrypted to every
// recipient. It writes nothing if it fails.
func Seal(w io.Writer, b *Bundle, recipients ...age.Recipient) error {
	return seal(w, b, true, recipients)
}

// SealBinary is [Seal] without the armor: a smaller file, but binary.
func SealBinary(w io.Writer, b *Bundle, recipients ...age.Recipient) error {
	return seal(w, b, false, recipients)
}

func seal(w io.Writer, b *Bundle, armored bool, recipients []age.Recipient) error {
	if b == nil || len(b.entries) == 0 {
		return ErrNoKeys
	}
	if len(recipients) == 0 {
		return errors.New("keybackup: no recipients: a bundle nobody can open would be no backup")
	}
	for _, r := range recipients {
		if _, ok := r.(*age.ScryptRecipient); ok && len(recipients) > 1 {
			return ErrPassphraseNotAlone
		}
	}
	pt, err := encodePayload(b)
	if err != nil {
		return fmt.Errorf("keybackup: encode: %w", err)
	}
	defer clear(pt)

	// Everything goes to memory first, so that a failure leaves w
	// untouched; a bundle is small.
	var out bytes.Buffer
	var dst io.Writer = &out
	var aw io.WriteCloser
	if armored {
		aw = armor.NewWriter(&out)
		dst = aw
	}
	ew, err := age.Encrypt(dst, recipients...)
	if err != nil {
		return fmt.Errorf("keybackup: %w", err)
	}
	if _, err := ew.Write(pt); err != nil {
		return fmt.Errorf("keybackup: encrypt: %w", err)
	}
	if err := ew.Close(); err != nil {
		return fmt.Errorf("keybackup: encrypt: %w", err)
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			return fmt.Errorf("keybackup: armor: %w", err)
		}
	}
	_, err = w.Write(out.Bytes())
	return err
}

// Open reads a bundle, armored or binary, decrypts it with the first
// identity that fits and verifies it (see the package documentation). It
// reads at most [MaxSize] bytes. Failures are [ErrNotBundle],
// [ErrTooLarge], [ErrNoIdentity], [ErrCorrupt], [ErrUnsupportedVersion] or
// [ErrInvalid], wrapped with what failed.
func Open(r io.Reader, identities ...age.Identity) (*Bundle, error) {
	if len(identities) == 0 {
		return nil, errors.New("keybackup: no identities to open the bundle with")
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("keybackup: read: %w", err)
	}
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, MaxSize)
	}
	if !IsAgeFile(raw) {
		return nil, ErrNotBundle
	}
	var src io.Reader = bytes.NewReader(raw)
	if !bytes.HasPrefix(raw, []byte(binaryIntro)) {
		src = armor.NewReader(src)
	}
	dec, err := age.Decrypt(src, identities...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrNoIdentity
		}
		// A malformed or unauthenticated header, or bad armor. age's
		// messages describe the structure, never key material.
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	pt, err := io.ReadAll(io.LimitReader(dec, MaxSize+1))
	defer clear(pt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(pt) > MaxSize {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, MaxSize)
	}
	return decodePayload(pt)
}
