package syncer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
)

// DataHash returns a stable SHA-256 over a Secret's data: keys sorted,
// each key and value length-prefixed so that no two maps collide.
func DataHash(data map[string][]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, k := range slices.Sorted(maps.Keys(data)) {
		for _, b := range [][]byte{[]byte(k), data[k]} {
			l := uint64(len(b))
			for i := range n {
				n[i] = byte(l >> (8 * i))
			}
			h.Write(n[:])
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SourceHash returns a SHA-256 over any JSON-encodable value: the spec a
// Secret was derived from. Recorded on the Secret, it tells a controller
// that the source has not changed since the last write.
func SourceHash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Source specs are API types: always encodable.
		panic("syncer: source hash: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
