package providers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// MaxSecretKeyLength is the longest key a Secret's data may have, in bytes
// (a DNS subdomain).
const MaxSecretKeyLength = 253

// ValidSecretKey reports whether k may be a key of a Secret's data: 1 to
// [MaxSecretKeyLength] bytes of ASCII letters, digits, '-', '_' and '.'
// (^[-._a-zA-Z0-9]+$), and neither "." nor starting with "..", which the
// API server also refuses.
func ValidSecretKey(k string) bool {
	if k == "" || len(k) > MaxSecretKeyLength || k == "." || strings.HasPrefix(k, "..") {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !validKeyByte(k[i]) {
			return false
		}
	}
	return true
}

func validKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.'
}

// ConvertKey applies a conversionStrategy to a key read from a provider,
// replacing each character a Secret key may not hold:
//   - Default, or unset: by "_" ("db/password" → "db_password").
//   - Unicode: by "_U" + its code point in at least four hex digits + "_"
//     ("db/password" → "db_U002f_password"), which ESO's PushSecret
//     ReverseUnicode turns back.
//
// ESO keeps any Unicode letter or digit as it is; sealsync converts them
// too, because the API server refuses them in a key and a Secret ESO
// could never have written is no behaviour worth keeping.
func ConvertKey(strategy esv1.ExternalSecretConversionStrategy, key string) string {
	var b strings.Builder
	for _, r := range key {
		if r < 0x80 && validKeyByte(byte(r)) {
			b.WriteRune(r)
			continue
		}
		if strategy == esv1.ExternalSecretConversionUnicode {
			fmt.Fprintf(&b, "_U%04x_", r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ConvertKeys applies [ConvertKey] to every key of in. Two keys that
// convert to the same one are an error rather than a silent overwrite.
func ConvertKeys(strategy esv1.ExternalSecretConversionStrategy, in map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	from := make(map[string]string, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		c := ConvertKey(strategy, k)
		if prev, dup := from[c]; dup {
			return nil, fmt.Errorf("keys %q and %q both convert to %q", prev, k, c)
		}
		from[c] = k
		out[c] = in[k]
	}
	return out, nil
}

// ValidateKeys checks that every key of m may be a Secret key, as ESO does
// after reading a dataFrom entry: an empty key (a rewrite that matched
// everything) is dropped from m, any other invalid key is an error naming
// it.
func ValidateKeys(m map[string][]byte) error {
	delete(m, "")
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !ValidSecretKey(k) {
			return fmt.Errorf("key %q is not a valid Secret key (^[-._a-zA-Z0-9]+$, at most %d bytes)", truncate(k), MaxSecretKeyLength)
		}
	}
	return nil
}

// truncate keeps error messages bounded when a key is huge.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
