package testkit

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DiffData names the keys whose values differ between a Secret's data
// got and want (missing, differing by length, unexpected), never the
// values, which may be secrets. It returns "" when they are equal.
func DiffData(got, want map[string][]byte) string {
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			diff = append(diff, "missing "+k)
		case !bytes.Equal(g, want[k]):
			diff = append(diff, fmt.Sprintf("%s differs (%d bytes, want %d)", k, len(g), len(want[k])))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			diff = append(diff, "unexpected "+k)
		}
	}
	return strings.Join(diff, ", ")
}
