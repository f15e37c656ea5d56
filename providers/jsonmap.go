package providers

import (
	"encoding/json"
	"errors"
)

// ErrNotJSONObject is returned by [SecretMapFromJSON] for a value that is
// not a JSON object.
var ErrNotJSONObject = errors.New("value is not a JSON object")

// SecretMapFromJSON splits a JSON object into one Secret key per property,
// as ESO's providers answer dataFrom extract: string properties are
// unquoted, every other property (number, boolean, null, object, array)
// keeps its JSON text. The error never quotes the value.
func SecretMapFromJSON(value []byte) (map[string][]byte, error) {
	var kv map[string]json.RawMessage
	if err := json.Unmarshal(value, &kv); err != nil || kv == nil {
		// json's syntax errors quote the offending character; say only
		// what is wrong.
		return nil, ErrNotJSONObject
	}
	out := make(map[string][]byte, len(kv))
	for k, raw := range kv {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			out[k] = []byte(s)
			continue
		}
		out[k] = []byte(raw)
	}
	return out, nil
}
