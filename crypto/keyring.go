package crypto

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Status says what a key may be used for.
type Status int

const (
	// StatusActive keys seal and unseal.
	StatusActive Status = iota
	// StatusCompromised keys still unseal what was sealed with them, so that
	// nothing is lost, but never seal anything new.
	StatusCompromised
)

// String returns the label value Bitnami's key Secrets use for the status.
func (s Status) String() string {
	switch s {
	case StatusActive:
		return "active"
	case StatusCompromised:
		return "compromised"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// ParseStatus parses "active" or "compromised".
func ParseStatus(s string) (Status, error) {
	switch s {
	case "active":
		return StatusActive, nil
	case "compromised":
		return StatusCompromised, nil
	}
	return StatusActive, fmt.Errorf("crypto: unknown key status %q", s)
}

// Key is one sealing key: an RSA private key, its certificate and its status.
type Key struct {
	// ID is [KeyIDOf] the public key, computed by [NewKey].
	ID KeyID
	// PrivateKey unseals; its public half seals.
	PrivateKey *rsa.PrivateKey
	// Certificate is what kubeseal fetches to seal. It is nil for keys
	// recovered from a bare PEM private key, which can only unseal.
	Certificate *x509.Certificate
	// Status is active or compromised.
	Status Status
	// Created orders keys: the newest active key seals. It is the
	// certificate's NotBefore unless the caller chose otherwise.
	Created time.Time
}

// NewKey returns a key with its ID computed. A zero created time is taken
// from the certificate's NotBefore when there is one.
func NewKey(priv *rsa.PrivateKey, cert *x509.Certificate, status Status, created time.Time) (*Key, error) {
	if priv == nil {
		return nil, errors.New("crypto: nil private key")
	}
	if cert != nil {
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || !pub.Equal(&priv.PublicKey) {
			return nil, errors.New("crypto: certificate does not match the private key")
		}
		if created.IsZero() {
			created = cert.NotBefore
		}
	}
	return &Key{ID: KeyIDOf(&priv.PublicKey), PrivateKey: priv, Certificate: cert, Status: status, Created: created}, nil
}

// ErrNoActiveKey is returned by [Keyring.Latest] when no key may seal.
var ErrNoActiveKey = errors.New("crypto: no active sealing key")

// Keyring is an immutable set of keys, newest first. Lookup by key ID is
// O(1). Build a new Keyring to add or drop keys; a Keyring is safe for
// concurrent use.
type Keyring struct {
	keys []*Key // newest first
	byID map[KeyID]*Key
	// lastTried is the key that last opened a blob without a usable
	// hint: values without one come in bulk from the same key (all
	// sealed before a renewal), so it is tried first.
	lastTried atomic.Pointer[Key]
	// ops counts RSA private-key operations; see Operations.
	ops atomic.Uint64
}

// NewKeyring returns a keyring holding keys, ordered newest first (ties
// broken by key ID so the order is stable). When two keys share an ID (one
// key held by two Secrets) one is kept: a compromised one if there is
// one, so that a copy still labelled active never hides a compromise,
// else the first given.
func NewKeyring(keys ...*Key) *Keyring {
	r := &Keyring{byID: make(map[KeyID]*Key, len(keys))}
	at := make(map[KeyID]int, len(keys))
	for _, k := range keys {
		if k == nil {
			continue
		}
		if i, dup := at[k.ID]; dup {
			if k.Status == StatusCompromised && r.keys[i].Status != StatusCompromised {
				r.keys[i] = k
				r.byID[k.ID] = k
			}
			continue
		}
		at[k.ID] = len(r.keys)
		r.byID[k.ID] = k
		r.keys = append(r.keys, k)
	}
	slices.SortStableFunc(r.keys, func(a, b *Key) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return r
}

// Len returns the number of keys.
func (r *Keyring) Len() int { return len(r.keys) }

// Keys returns the keys, newest first. The slice is a copy.
func (r *Keyring) Keys() []*Key { return slices.Clone(r.keys) }

// Lookup returns the key with the given ID.
func (r *Keyring) Lookup(id KeyID) (*Key, bool) {
	k, ok := r.byID[id]
	return k, ok
}

// Latest returns the newest active key that has a certificate: the one to
// seal with.
func (r *Keyring) Latest() (*Key, error) {
	for _, k := range r.keys {
		if k.Status == StatusActive && k.Certificate != nil {
			return k, nil
		}
	}
	return nil, ErrNoActiveKey
}

// Decrypt opens a blob with the keyring and reports which key did it.
//
// hint orders the attempts: the key it names, if any, is tried first, then
// every other key newest first. Without a hint the key that last opened a
// blob without one is tried first: unhinted values come in bulk, sealed
// before a renewal, so a run of them costs one trial, not one per value. The hint is never trusted beyond that. Keys
// whose modulus size differs from the wrapped session key's are skipped
// without a private-key operation. Failure is [ErrMalformed] or
// [ErrDecryption], never anything more specific.
func (r *Keyring) Decrypt(blob, label []byte, hint KeyID) ([]byte, *Key, error) {
	wrapped, sealed, err := SplitBlob(blob)
	if err != nil {
		return nil, nil, err
	}
	first, hinted := r.byID[hint]
	if !hinted {
		first = r.lastTried.Load()
	}
	if first != nil {
		if pt, err := r.open(first, wrapped, sealed, label); err == nil {
			return pt, first, nil
		}
	}
	for _, k := range r.keys {
		if k == first {
			continue
		}
		if pt, err := r.open(k, wrapped, sealed, label); err == nil {
			if !hinted {
				r.lastTried.Store(k)
			}
			return pt, k, nil
		}
	}
	return nil, nil, ErrDecryption
}

// open tries one key, counting the private-key operation it costs.
func (r *Keyring) open(k *Key, wrapped, sealed, label []byte) ([]byte, error) {
	if len(wrapped) == k.PrivateKey.Size() {
		r.ops.Add(1)
	}
	return openSplit(k.PrivateKey, wrapped, sealed, label)
}

// Operations returns how many RSA private-key operations [Keyring.Decrypt]
// has made with this keyring. They are what unsealing costs, milliseconds
// each, and what callers that unseal untrusted input bound; attempts
// skipped because the modulus size differs are free and not counted.
func (r *Keyring) Operations() uint64 { return r.ops.Load() }
