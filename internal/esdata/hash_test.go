package esdata_test

import (
	"testing"

	"github.com/sealsync/sealsync/internal/esdata"
)

// TestHash pins the value ESO computes for a known map, so that
// Secrets written by ESO stay valid after migrating.
func TestHash(t *testing.T) {
	got := esdata.Hash(map[string][]byte{"b": []byte("2"), "a": []byte("1")})
	// ESO: fmt.Sprintf("%x", sha3.Sum224([]byte("map[a:[49] b:[50]]")))
	if want := "11bffda0250c76e915bd17398f34c2ea8f5125e5692cc05061807c31"; got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
	if got != esdata.Hash(map[string][]byte{"a": []byte("1"), "b": []byte("2")}) {
		t.Fatal("map order changed the hash")
	}
}
