package template

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// toYAML renders v as YAML without the trailing newline; an unencodable
// value renders as "" (template functions that fail silently are ESO's
// contract for toYaml).
func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// fromYAML parses a YAML mapping. As in ESO, a parse error does not fail
// the template: it is returned under the key "Error" for the template to
// test. The message names a line, not the text.
func fromYAML(s string) map[string]any {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}
