package providers

import (
	"errors"
	"fmt"
	"strings"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// MaxSecretKeyLength is the longest key a Secret's data may have, in bytes
// (a DNS subdomain).
const MaxSecretKeyLength = 253

// SecretKeyRule describes a valid Secret key for error messages, which
// name the rule instead of quoting the key: keys can be built from secret
// values (a template's "my-application-{{ .user }}", the JSON keys of a
// merged value).
const SecretKeyRule = "1 to 253 bytes of ^[-._a-zA-Z0-9]+$, not . or starting with .."

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
// convert to the same one are an error rather than a silent overwrite; it
// does not quote them, as they may come from a value (a JSON object read
// as a map).
func ConvertKeys(strategy esv1.ExternalSecretConversionStrategy, in map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	seen := make(map[string]bool, len(in))
	for k, v := range in {
		c := ConvertKey(strategy, k)
		if seen[c] {
			return nil, errors.New("two keys convert to the same Secret key")
		}
		seen[c] = true
		out[c] = v
	}
	return out, nil
}

// ValidateKeys checks that every key of m may be a Secret key, as ESO does
// after reading a dataFrom entry: an empty key (a rewrite that matched
// everything) is dropped from m, any other invalid key is an error. The
// error does not quote the key, which may come from a value.
func ValidateKeys(m map[string][]byte) error {
	delete(m, "")
	for k := range m {
		if !ValidSecretKey(k) {
			return fmt.Errorf("a key is not a valid Secret key (%s)", SecretKeyRule)
		}
	}
	return nil
}
