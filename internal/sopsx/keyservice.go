package sopsx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/getsops/sops/v3/keyservice"
)

// keyService is the only key service a Decryptor gives sops. It unwraps
// age-wrapped data keys with the identities it was made with, and nothing
// else: sops's own local service would read identities from the process
// environment and reach KMS, Vault or GnuPG with the process's
// credentials, at addresses the (untrusted) file names.
//
// Each wrapped key is unwrapped once: results, failures included, are
// cached by the SHA-256 of the wrapped blob for the Decryptor's life (one
// render). sops itself has no such cache (getsops/sops#1079), so a render
// reading copies of one file, or one file twice, would pay each time.
type keyService struct {
	ids []age.Identity

	mu      sync.Mutex
	cache   map[[sha256.Size]byte]unwrapped
	unwraps int // age decryptions run, for tests
}

type unwrapped struct {
	key []byte
	err error
}

var _ keyservice.KeyServiceServer = (*keyService)(nil)

var (
	errOnlyAge = errors.New("only age master keys are supported")
	errNoIDs   = errors.New("no age identities")
)

func newKeyService(ids []age.Identity) *keyService {
	return &keyService{ids: ids, cache: map[[sha256.Size]byte]unwrapped{}}
}

// Encrypt is refused: a render only decrypts.
func (s *keyService) Encrypt(context.Context, *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("sopsx: the key service does not encrypt")
}

// Decrypt unwraps an age-wrapped data key. The recipient named in the
// request is not used: age finds the stanza an identity opens, so a file
// cannot steer which identity is tried.
func (s *keyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	if req.GetKey().GetAgeKey() == nil {
		return nil, errOnlyAge
	}
	if len(s.ids) == 0 {
		return nil, errNoIDs
	}
	if len(req.Ciphertext) > maxWrappedKeySize {
		return nil, fmt.Errorf("wrapped data key larger than %d bytes", maxWrappedKeySize)
	}
	h := sha256.Sum256(req.Ciphertext)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.cache[h]
	if !ok {
		s.unwraps++
		u.key, u.err = unwrapAge(req.Ciphertext, s.ids)
		s.cache[h] = u
	}
	if u.err != nil {
		return nil, u.err
	}
	return &keyservice.DecryptResponse{Plaintext: bytes.Clone(u.key)}, nil
}

// unwrapAge decrypts an armored age file holding a data key, as sops
// writes it under "enc".
func unwrapAge(wrapped []byte, ids []age.Identity) ([]byte, error) {
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(wrapped)), ids...)
	if err != nil {
		var none *age.NoIdentityMatchError
		if errors.As(err, &none) {
			return nil, errors.New("no identity matched")
		}
		return nil, errors.New("age could not read the wrapped data key")
	}
	key, err := io.ReadAll(io.LimitReader(r, maxDataKeySize+1))
	if err != nil || len(key) > maxDataKeySize {
		return nil, errors.New("age could not read the wrapped data key")
	}
	return key, nil
}
