package template

import (
	"encoding/hex"
	"testing"
)

// TestRC2Vectors: the RC2 test vectors of RFC 2268 section 5, both ways.
func TestRC2Vectors(t *testing.T) {
	for _, tt := range []struct {
		key, plain, cipher string
		bits               int
	}{
		{"0000000000000000", "0000000000000000", "ebb773f993278eff", 63},
		{"ffffffffffffffff", "ffffffffffffffff", "278b27e42e2f0d49", 64},
		{"3000000000000000", "1000000000000001", "30649edf9be7d2c2", 64},
		{"88", "0000000000000000", "61a8a244adacccf0", 64},
		{"88bca90e90875a", "0000000000000000", "6ccf4308974c267f", 64},
		{"88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "1a807d272bbe5db1", 64},
		{"88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "2269552ab0f85ca6", 128},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", "0000000000000000", "5b78d3a43dfff1f1", 129},
	} {
		c := newRC2(unhex(t, tt.key), tt.bits)
		var got [rc2BlockSize]byte
		c.Encrypt(got[:], unhex(t, tt.plain))
		if hex.EncodeToString(got[:]) != tt.cipher {
			t.Errorf("key %s/%d: encrypt = %x, want %s", tt.key, tt.bits, got, tt.cipher)
		}
		c.Decrypt(got[:], unhex(t, tt.cipher))
		if hex.EncodeToString(got[:]) != tt.plain {
			t.Errorf("key %s/%d: decrypt = %x, want %s", tt.key, tt.bits, got, tt.plain)
		}
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
