package placeholder

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// A modifier transforms a placeholder's value. Errors say what failed,
// never the value: a parse error of encoding/json or YAML quotes the
// character it stopped at.
type modifier struct {
	name  string
	apply func(v any) (any, error)
}

// parseModifier parses one "| name args" step.
func parseModifier(stmt string) (modifier, error) {
	fields := strings.Fields(stmt)
	if len(fields) == 0 {
		return modifier{}, fmt.Errorf("%w: empty modifier", ErrSyntax)
	}
	name, args := fields[0], fields[1:]
	noArgs := func(f func(any) (any, error)) (modifier, error) {
		if len(args) > 0 {
			return modifier{}, fmt.Errorf("%w: %s takes no arguments", ErrSyntax, name)
		}
		return modifier{name: name, apply: f}, nil
	}
	switch name {
	case "base64encode":
		return noArgs(func(v any) (any, error) {
			s, err := asString(name, v)
			return base64.StdEncoding.EncodeToString([]byte(s)), err
		})
	case "base64decode":
		return noArgs(func(v any) (any, error) {
			s, err := asString(name, v)
			if err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("base64decode: the value is not base64")
			}
			return string(b), nil
		})
	case "jsonParse":
		return noArgs(func(v any) (any, error) {
			s, err := asString(name, v)
			if err != nil {
				return nil, err
			}
			var out any
			if err := decodeJSON([]byte(s), &out); err != nil {
				return nil, fmt.Errorf("jsonParse: the value is not JSON")
			}
			return out, nil
		})
	case "yamlParse":
		return noArgs(func(v any) (any, error) {
			s, err := asString(name, v)
			if err != nil {
				return nil, err
			}
			var out any
			if err := yaml.Unmarshal([]byte(s), &out); err != nil {
				return nil, fmt.Errorf("yamlParse: the value is not YAML")
			}
			return out, nil
		})
	case "sha256sum":
		return noArgs(func(v any) (any, error) {
			s, err := asString(name, v)
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:]), err
		})
	case "indent":
		if len(args) != 1 {
			return modifier{}, fmt.Errorf("%w: indent takes one argument, the width", ErrSyntax)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > maxIndent {
			return modifier{}, fmt.Errorf("%w: indent width must be 0 to %d", ErrSyntax, maxIndent)
		}
		return modifier{name: name, apply: func(v any) (any, error) {
			s, err := asString(name, v)
			return indent(s, n), err
		}}, nil
	case "jsonPath":
		if len(args) == 0 {
			return modifier{}, fmt.Errorf("%w: jsonPath takes an expression", ErrSyntax)
		}
		expr := strings.Join(args, " ")
		jp := jsonpath.New("placeholder")
		jp.AllowMissingKeys(false)
		if err := jp.Parse(expr); err != nil {
			return modifier{}, fmt.Errorf("%w: jsonPath %s: %v", ErrSyntax, expr, err)
		}
		return modifier{name: name, apply: func(v any) (any, error) {
			obj := v
			if s, ok := v.(string); ok {
				if err := decodeJSON([]byte(s), &obj); err != nil {
					return nil, fmt.Errorf("jsonPath: the value is not JSON")
				}
			}
			var b bytes.Buffer
			if err := jp.Execute(&b, obj); err != nil {
				return nil, fmt.Errorf("jsonPath %s: the expression does not apply to the value", expr)
			}
			return b.String(), nil
		}}, nil
	}
	return modifier{}, fmt.Errorf("%w: unknown modifier %q", ErrSyntax, name)
}

// asString returns v if it is a string: AVP's modifiers take strings.
func asString(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: the value is a %T, not a string", name, v)
	}
	return s, nil
}

// decodeJSON decodes keeping numbers exact.
func decodeJSON(b []byte, out *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(out)
}

// indent trims every line and indents all but the first by n spaces,
// dropping empty lines after the first, as AVP's indent does.
func indent(s string, n int) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.WriteString(strings.TrimSpace(lines[0]))
	if len(lines) > 1 {
		b.WriteString("\n")
	}
	pad := strings.Repeat(" ", n)
	for i := 1; i < len(lines); i++ {
		if len(lines[i]) == 0 {
			continue
		}
		b.WriteString(pad)
		b.WriteString(strings.TrimSpace(lines[i]))
		if i < len(lines)-1 {
			b.WriteString("\n")
		}
	}
	return b.String()
}
