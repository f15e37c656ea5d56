package keybackup

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sealsync/sealsync/crypto"
)

// seeds returns the files matching pattern under testdata, failing when
// there are none: a fuzz target without its corpus tests little.
func seeds(f *testing.F, pattern string) [][]byte {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatalf("no seeds match testdata/%s (run go test ./keybackup -run TestTestdata -update)", pattern)
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzOpen feeds arbitrary input to Open. Nothing may panic, and since no
// fuzzer can forge age's MACs, anything that opens must be a golden bundle
// (whose armor may have been re-spaced, which changes no ciphertext).
func FuzzOpen(f *testing.F) {
	for _, b := range seeds(f, "golden/*.age") {
		f.Add(b)
	}
	ids := append(identities(f, "age.key"), identities(f, "id_ed25519")...)
	want := wireManifestOf(goldenBundle(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Open(bytes.NewReader(in), ids...)
		if err != nil {
			if b != nil {
				t.Fatal("a bundle with an error")
			}
			return
		}
		if got := wireManifestOf(b); !reflect.DeepEqual(got, want) {
			t.Fatalf("opened a bundle that is not the golden one: %+v", got)
		}
	})
}

// FuzzDecodePayload feeds arbitrary plaintext to the manifest parser, as
// if it had been decrypted. Nothing may panic; what it accepts must hold
// keys that match their manifest, and survive a round trip unchanged.
func FuzzDecodePayload(f *testing.F) {
	for _, b := range seeds(f, "payload/*.json") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, pt []byte) {
		b, err := decodePayload(pt)
		if err != nil {
			return
		}
		m := b.Manifest()
		for i, k := range b.Keys() {
			if k.ID != crypto.KeyIDOf(&k.PrivateKey.PublicKey) || k.ID != m.Keys[i].ID {
				t.Fatalf("key %d does not match the manifest", i)
			}
		}
		re, err := encodePayload(b)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodePayload(re)
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if !reflect.DeepEqual(again.Manifest(), m) || !reflect.DeepEqual(again.Secrets("ns"), b.Secrets("ns")) {
			t.Fatal("round trip changed the bundle")
		}
	})
}
