package crypto_test

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/sealsync/sealsync/crypto"
)

// The benchmarks seal and unseal one item with RSA-4096 keys, the default
// size. bench-01 is the oldest of twelve keys, so an unhinted unseal of a
// value it sealed tries all twelve: the worst case after a year of 30-day
// renewals.

var benchPlaintext = []byte("a typical 32-byte database secret")

func benchRing(b *testing.B) (*crypto.Keyring, *crypto.Key) {
	b.Helper()
	var keys []*crypto.Key
	for i := 1; i <= 12; i++ {
		keys = append(keys, loadKey(b, fmt.Sprintf("bench-%02d", i)))
	}
	return crypto.NewKeyring(keys...), keys[0]
}

func BenchmarkSeal4096(b *testing.B) {
	k := loadKey(b, "bench-01")
	label := crypto.Label(crypto.ScopeStrict, "default", "db")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, benchPlaintext, label); err != nil {
			b.Fatal(err)
		}
	}
}

// unsealMode is how a benchmark's blob is opened.
type unsealMode int

const (
	byID      unsealMode = iota // the key-ID hint names the key
	trialCold                   // no hint, a fresh keyring each time
	trialWarm                   // no hint, the keyring has seen such a blob
)

func benchUnseal(b *testing.B, mode unsealMode) {
	ring, oldest := benchRing(b)
	keys := ring.Keys()
	label := crypto.Label(crypto.ScopeStrict, "default", "db")
	blob, err := crypto.HybridEncrypt(rand.Reader, &oldest.PrivateKey.PublicKey, benchPlaintext, label)
	if err != nil {
		b.Fatal(err)
	}
	var hint crypto.KeyID
	if mode == byID {
		hint = oldest.ID
	}
	b.ReportAllocs()
	for b.Loop() {
		if mode == trialCold {
			ring = crypto.NewKeyring(keys...)
		}
		if _, _, err := ring.Decrypt(blob, label, hint); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnseal4096ByID opens with the key named by the key-ID hint: one
// private-key operation.
func BenchmarkUnseal4096ByID(b *testing.B) { benchUnseal(b, byID) }

// BenchmarkUnseal4096Trial12Keys opens without a hint, sealed by the oldest
// of twelve keys, with a keyring that has not opened such a blob before:
// twelve private-key operations, as Bitnami does on average half of.
func BenchmarkUnseal4096Trial12Keys(b *testing.B) { benchUnseal(b, trialCold) }

// BenchmarkUnseal4096Trial12KeysRepeat opens without a hint after an
// earlier unhinted blob from the same key: the keyring tries that key
// first, one private-key operation.
func BenchmarkUnseal4096Trial12KeysRepeat(b *testing.B) { benchUnseal(b, trialWarm) }
