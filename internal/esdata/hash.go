package esdata

import (
	"crypto/sha3"
	"fmt"
)

// Hash is ESO's hash of any value: SHA3-224 over fmt's %+v rendering
// (which sorts map keys). Over a Secret's data it is the data-hash
// annotation; over other values, the created-by label and
// syncedResourceVersion. It must be byte-for-byte ESO's so that a Secret
// written by ESO is recognised as intact after migrating, and the other
// way round.
func Hash(v any) string {
	return fmt.Sprintf("%x", sha3.Sum224([]byte(fmt.Sprintf("%+v", v))))
}
