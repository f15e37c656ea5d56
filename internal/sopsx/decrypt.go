package sopsx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"

	"github.com/sealsync/sealsync/internal/redact"
)

// Defaults of [Limits], for an Argo CD application's source.
const (
	// DefaultMaxFileSize is the largest SOPS file decrypted, in bytes, as
	// committed (encrypted). Secrets are at most 1 MiB; sops's encoding
	// of a binary file is about 1.4 times its size.
	DefaultMaxFileSize = 4 << 20
	// DefaultMaxFiles is how many files one Decryptor decrypts at most.
	DefaultMaxFiles = 1000
)

const (
	// maxMasterKeys is how many master keys (of every kind, in all key
	// groups) one file may list. sops tries them one by one; a real file
	// lists a handful.
	maxMasterKeys = 64
	// maxWrappedKeySize is the largest wrapped data key handed to age, in
	// bytes. An armored age file holding a 32-byte key for one X25519
	// recipient is about 400 bytes, for a post-quantum one under 3 KiB;
	// bounding it bounds the stanzas age tries our identities against.
	maxWrappedKeySize = 16 << 10
	// maxDataKeySize bounds what an unwrapped data key may be: sops's
	// data keys are 32 bytes, Shamir shares of them 33.
	maxDataKeySize = 256
)

// Errors the callers of [Decryptor.Decrypt] may branch on. The messages
// wrapping them name the file and the reason, never a value.
var (
	// ErrTooLarge is wrapped when a file exceeds [Limits.MaxFileSize].
	ErrTooLarge = errors.New("SOPS file too large")
	// ErrTooManyFiles is wrapped when a Decryptor was asked for more than
	// [Limits.MaxFiles] files.
	ErrTooManyFiles = errors.New("too many SOPS files")
	// ErrNotEncrypted is wrapped when Decrypt is given a file that
	// [IsEncrypted] does not recognize.
	ErrNotEncrypted = errors.New("not a SOPS-encrypted file")
	// ErrMalformed is wrapped when a file is not a SOPS file sops can
	// read: bad metadata, bad encoding of a value, unknown value type.
	ErrMalformed = errors.New("malformed SOPS file")
	// ErrNoKey is wrapped when no identity given to the Decryptor opens
	// the file's data key: the file was encrypted for other recipients.
	ErrNoKey = errors.New("no identity of this project can decrypt the file's data key")
	// ErrIntegrity is wrapped when a value fails authentication or the
	// file's MAC does not match its content: the file was changed after
	// sops wrote it.
	ErrIntegrity = errors.New("SOPS file failed its integrity check")
)

// Limits bound what one [Decryptor] reads. Zero fields take the defaults.
type Limits struct {
	// MaxFileSize is the largest file decrypted, in bytes as committed.
	// Default [DefaultMaxFileSize].
	MaxFileSize int64
	// MaxFiles is how many files the Decryptor decrypts at most. Default
	// [DefaultMaxFiles].
	MaxFiles int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// Decryptor decrypts the SOPS files of one render with one project's age
// identities. It caches unwrapped data keys by their wrapped form and
// keeps what it decrypted for [Decryptor.Quotes]; make one per render and
// drop it afterwards. It is safe for concurrent use.
type Decryptor struct {
	limits Limits
	keys   *keyService
	svcs   []keyservice.KeyServiceClient

	mu    sync.Mutex
	files int
	// values are the plaintexts decrypted, for Quotes.
	values redact.Values
	// strings are the string values decrypted, for Plaintexts.
	strings []Plaintext
}

// NewDecryptor returns a Decryptor that opens data keys with ids only.
// With no identities every file fails with [ErrNoKey].
func NewDecryptor(ids []age.Identity, limits Limits) *Decryptor {
	ks := newKeyService(ids)
	return &Decryptor{
		limits: limits.withDefaults(),
		keys:   ks,
		svcs:   []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ks)},
	}
}

// DecryptFile returns the plaintext of data, the content of the file
// name, if [IsEncrypted] says it is SOPS-encrypted (with true), or data
// itself (with false). It is the entry point for callers that hand every
// file of a source through.
func (d *Decryptor) DecryptFile(ctx context.Context, name string, data []byte) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if !IsEncrypted(name, data) {
		return data, false, nil
	}
	out, err := d.Decrypt(name, data)
	return out, err == nil, err
}

// Decrypt returns the plaintext of the SOPS file name, whose content is
// data, in the file's own format (see [FormatForPath]): YAML with all its
// documents, JSON, dotenv, INI, or a binary file's bytes. The file's MAC
// must match. Errors wrap one of the package's Err values and name the
// file, never a value.
func (d *Decryptor) Decrypt(name string, data []byte) (_ []byte, err error) {
	format := FormatForPath(name)
	if int64(len(data)) > d.limits.MaxFileSize {
		return nil, fmt.Errorf("sopsx: %s: %w: more than %d bytes", name, ErrTooLarge, d.limits.MaxFileSize)
	}
	if !IsEncrypted(name, data) {
		return nil, fmt.Errorf("sopsx: %s: %w (as %s)", name, ErrNotEncrypted, format)
	}
	d.mu.Lock()
	d.files++
	n := d.files
	d.mu.Unlock()
	if n > d.limits.MaxFiles {
		return nil, fmt.Errorf("sopsx: %s: %w: more than %d", name, ErrTooManyFiles, d.limits.MaxFiles)
	}
	// sops panics on some malformed input (a value of type "bytes" is an
	// unhashable map key in its cipher's stash, for one). The panic's
	// value may quote the input, so it is not passed on.
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("sopsx: %s: %w: sops could not read it", name, ErrMalformed)
		}
	}()
	return d.decrypt(name, format, data)
}

func (d *Decryptor) decrypt(name string, format Format, data []byte) ([]byte, error) {
	store := common.StoreForFormat(format.sops(), config.NewStoresConfig())
	// Loading parses the file as committed: its errors quote at most
	// ciphertext and the unencrypted parts, which are in Git for anyone
	// who can read the file.
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("sopsx: %s: %w as %s: %s", name, ErrMalformed, format, truncate(err.Error(), maxQuotedError))
	}
	if err := checkMasterKeys(tree.Metadata); err != nil {
		return nil, fmt.Errorf("sopsx: %s: %w", name, err)
	}
	key, err := tree.Metadata.GetDataKeyWithKeyServices(d.svcs, sops.DefaultDecryptionOrder)
	if err != nil {
		// sops's message lists each key's failure; ours says the same in
		// one line. Recipients are public, but the file chose them.
		return nil, fmt.Errorf("sopsx: %s: %w", name, ErrNoKey)
	}

	var plain [][]byte
	var strs []Plaintext
	cipher := recordingCipher{Cipher: aes.NewCipher(), record: func(path string, v []byte, isString bool) {
		plain = append(plain, v)
		if isString {
			strs = append(strs, Plaintext{File: name, Key: path, Value: v})
		}
	}}
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		// The error may quote a decrypted value (strconv's, for a value
		// typed int that is not one), so only its kind is kept.
		return nil, fmt.Errorf("sopsx: %s: %w: a value could not be decrypted", name, ErrIntegrity)
	}
	// As sops's decrypt.DataWithFormat: the MAC, encrypted with the data
	// key and the last-modified time as additional data, must be the one
	// computed over the tree as decrypted.
	stored, err := aes.NewCipher().Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != mac {
		return nil, fmt.Errorf("sopsx: %s: %w: the MAC does not match", name, ErrIntegrity)
	}
	// Recorded only once the file is known good: a failed file's values
	// never leave this function, and Quotes need not look for them.
	d.values.Add(plain...)
	d.addStrings(format, tree.Branches, strs)
	out, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, fmt.Errorf("sopsx: %s: the decrypted tree cannot be written as %s", name, format)
	}
	return out, nil
}

// checkMasterKeys bounds the master keys sops will try: their number, and
// the size of each age-wrapped data key.
func checkMasterKeys(m sops.Metadata) error {
	n := 0
	for _, g := range m.KeyGroups {
		n += len(g)
		for _, k := range g {
			if ak, ok := k.(*sopsage.MasterKey); ok && len(ak.EncryptedKey) > maxWrappedKeySize {
				return fmt.Errorf("%w: a wrapped data key is larger than %d bytes", ErrMalformed, maxWrappedKeySize)
			}
		}
	}
	if n > maxMasterKeys {
		return fmt.Errorf("%w: more than %d master keys", ErrMalformed, maxMasterKeys)
	}
	return nil
}

// recordingCipher decrypts as sops's AES cipher does and hands every
// decrypted value to record, so that the Decryptor knows what no error
// message may quote.
type recordingCipher struct {
	aes.Cipher
	// record is given each value with its path in the file (sops's
	// additional data: the keys joined by ":", with a trailing ":"), and
	// whether it is a string.
	record func(path string, v []byte, isString bool)
}

var _ sops.Cipher = recordingCipher{}

func (c recordingCipher) Decrypt(ciphertext string, key []byte, additionalData string) (any, error) {
	v, err := c.Cipher.Decrypt(ciphertext, key, additionalData)
	if err != nil {
		return v, err
	}
	switch v := v.(type) {
	case string:
		c.record(additionalData, []byte(v), true)
	case []byte:
		c.record(additionalData, v, true)
	case sops.Comment:
		c.record(additionalData, []byte(v.Value), false)
	default:
		// ints, floats, bools and times: recorded as YAML and JSON print
		// them, which is how they could show up in a message.
		c.record(additionalData, fmt.Appendf(nil, "%v", v), false)
	}
	return v, nil
}

// maxQuotedError is how much of an error about a file as committed is
// kept.
const maxQuotedError = 200

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
