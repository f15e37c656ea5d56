package vault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/sealsync/sealsync/providers"
)

// extractProperty returns property of a secret's fields, as ESO does: a
// field named exactly property wins, so keys holding dots stay reachable;
// otherwise property is a gjson path into the fields' JSON. A property that
// matches nothing wraps [providers.ErrSecretNotFound].
//
// It is the one place this package evaluates properties; it gives way to
// the shared providers helper once that exists.
func extractProperty(fields map[string]any, property string) ([]byte, error) {
	if v, ok := fields[property]; ok {
		return byteValue(v)
	}
	doc, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode secret as JSON: %w", err)
	}
	r := gjson.GetBytes(doc, property)
	if !r.Exists() {
		// ESO returns a plain error here; a missing property is as gone as
		// a missing secret for deletionPolicy.
		return nil, providers.NotFound("property %q", property)
	}
	return []byte(r.String()), nil
}

// byteValue is a field's value as a Secret holds it, as ESO converts it:
// strings as they are, numbers and booleans as their JSON text, objects
// and arrays as JSON, null as empty.
func byteValue(v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(t), nil
	case json.Number:
		return []byte(t.String()), nil
	case float64:
		return []byte(strconv.FormatFloat(t, 'f', -1, 64)), nil
	case bool:
		return []byte(strconv.FormatBool(t)), nil
	case map[string]any, []any:
		return json.Marshal(t)
	}
	return nil, fmt.Errorf("cannot store a value of type %T", v)
}

// fieldsOf decodes a JSON object, keeping numbers as written.
func fieldsOf(doc []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var fields map[string]any
	if err := d.Decode(&fields); err != nil || fields == nil {
		return nil, fmt.Errorf("value is not a JSON object")
	}
	return fields, nil
}
