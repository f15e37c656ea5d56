package reencrypt

import (
	"context"
	"errors"
	"io"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/sealing"
)

// Offline re-seals with private keys held in memory, without a cluster:
// from key files or a restored backup. Each value is opened with whichever
// key of the keyring sealed it and, unless that is already the newest
// active key, sealed again with it.
type Offline struct {
	ring   *crypto.Keyring
	sealer *sealing.Sealer
}

var _ Resealer = (*Offline)(nil)

// NewOffline returns a resealer that opens values with any key of ring and
// seals them with seal's public key, drawing randomness from random
// (crypto/rand.Reader but in tests). seal should be the newest active key:
// the caller decides which that is (keyfile.Newest for keys from files),
// since re-sealing onto an older key would undo a renewal.
func NewOffline(ring *crypto.Keyring, seal *crypto.Key, random io.Reader) (*Offline, error) {
	if seal == nil || seal.Status != crypto.StatusActive {
		return nil, errors.New("no active key to seal with")
	}
	return &Offline{ring: ring, sealer: sealing.NewSealer(random, &seal.PrivateKey.PublicKey)}, nil
}

// KeyID returns the ID of the key values are sealed with.
func (o *Offline) KeyID() crypto.KeyID { return o.sealer.KeyID() }

// Reseal re-seals ss with [sealing.Reseal]; it does no I/O.
func (o *Offline) Reseal(_ context.Context, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error) {
	return sealing.Reseal(o.ring, o.sealer, ss)
}
