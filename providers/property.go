package providers

import (
	"errors"
	"strings"

	"github.com/tidwall/gjson"
)

// ErrNotJSON is returned by [Property] when a property is asked of a value
// that is not JSON. It is a configuration error, not a missing secret, so
// deletionPolicy does not apply to it.
var ErrNotJSON = errors.New("value is not JSON, so it has no properties")

// Property returns one property of a JSON value, as ESO's providers read
// remoteRef.property: property is a gjson path ("user", "db.password",
// "hosts.0", "a\.b" for a key holding a dot). A key that itself contains
// dots is tried literally first, so {"tls.crt": "..."} answers "tls.crt"
// without escaping, as ESO's AWS provider does.
//
// A string result is returned unquoted; numbers, booleans, objects and
// arrays as their JSON text. A property the value does not hold wraps
// [ErrSecretNotFound]. Errors name the property, never the value.
func Property(value []byte, property string) ([]byte, error) {
	if !gjson.ValidBytes(value) {
		return nil, ErrNotJSON
	}
	if strings.Contains(property, ".") {
		// gjson escapes with a backslash; escaping every dot asks for the
		// literal key first.
		literal := strings.ReplaceAll(property, ".", `\.`)
		if r := gjson.GetBytes(value, literal); r.Exists() {
			return []byte(r.String()), nil
		}
	}
	r := gjson.GetBytes(value, property)
	if !r.Exists() {
		return nil, NotFound("property %q", property)
	}
	return []byte(r.String()), nil
}
