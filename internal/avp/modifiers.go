package avp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// MaxIndent is the widest indent modifier, in spaces.
const MaxIndent = 256

// A Modifier transforms a placeholder's value. Errors say what failed,
// never the value: a parse error of encoding/json or YAML quotes the
// character it stopped at.
type Modifier struct {
	// Name is the modifier's name, as AVP spells it.
	Name string
	// Args are its arguments (indent's width, jsonPath's expression).
	Args []string
	// weight is the passes over its input the modifier makes.
	weight int64
	apply  func(v any, room int64) (any, error)
}

// Weight is how many passes over its value the modifier makes, at most.
func (m Modifier) Weight() int64 { return m.weight }

// Apply applies the modifier to v. Its result may not be a string longer
// than room bytes: a modifier that would write one fails with ErrLimit
// before it does.
func (m Modifier) Apply(v any, room int64) (any, error) {
	v, err := m.apply(v, room)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok && int64(len(s)) > room {
		return nil, fmt.Errorf("%w: the value grows too large", ErrLimit)
	}
	return v, nil
}

// String writes the modifier as a placeholder does.
func (m Modifier) String() string {
	return strings.Join(append([]string{m.Name}, m.Args...), " ")
}

// parseModifier parses one "| name args" step.
func parseModifier(stmt string) (Modifier, error) {
	fields := strings.Fields(stmt)
	if len(fields) == 0 {
		return Modifier{}, fmt.Errorf("%w: empty modifier", ErrSyntax)
	}
	name, args := fields[0], fields[1:]
	m := Modifier{Name: name, Args: args, weight: 1}
	noArgs := func(f func(s string, room int64) (any, error)) (Modifier, error) {
		if len(args) > 0 {
			return Modifier{}, fmt.Errorf("%w: %s takes no arguments", ErrSyntax, name)
		}
		m.apply = func(v any, room int64) (any, error) {
			s, err := asString(name, v)
			if err != nil {
				return nil, err
			}
			return f(s, room)
		}
		return m, nil
	}
	switch name {
	case "base64encode":
		return noArgs(func(s string, room int64) (any, error) {
			if int64(base64.StdEncoding.EncodedLen(len(s))) > room {
				return nil, fmt.Errorf("%w: base64encode: the value grows too large", ErrLimit)
			}
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		})
	case "base64decode":
		return noArgs(func(s string, _ int64) (any, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, errors.New("base64decode: the value is not base64")
			}
			return string(b), nil
		})
	case "jsonParse":
		return noArgs(func(s string, _ int64) (any, error) {
			var out any
			if err := decodeJSON([]byte(s), &out); err != nil {
				return nil, errors.New("jsonParse: the value is not JSON")
			}
			return out, nil
		})
	case "yamlParse":
		return noArgs(func(s string, _ int64) (any, error) {
			var out any
			if err := yaml.Unmarshal([]byte(s), &out); err != nil {
				return nil, errors.New("yamlParse: the value is not YAML")
			}
			return out, nil
		})
	case "sha256sum":
		return noArgs(func(s string, _ int64) (any, error) {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:]), nil
		})
	case "indent":
		if len(args) != 1 {
			return Modifier{}, fmt.Errorf("%w: indent takes one argument, the width", ErrSyntax)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > MaxIndent {
			return Modifier{}, fmt.Errorf("%w: indent width must be 0 to %d", ErrSyntax, MaxIndent)
		}
		m.apply = func(v any, room int64) (any, error) {
			s, err := asString(name, v)
			if err != nil {
				return nil, err
			}
			if int64(len(s))+int64(strings.Count(s, "\n"))*int64(n) > room {
				return nil, fmt.Errorf("%w: indent: the value grows too large", ErrLimit)
			}
			return Indent(s, n), nil
		}
		return m, nil
	case "jsonPath":
		if len(args) == 0 {
			return Modifier{}, fmt.Errorf("%w: jsonPath takes an expression", ErrSyntax)
		}
		expr := strings.Join(args, " ")
		jp := jsonpath.New("placeholder")
		jp.AllowMissingKeys(false)
		if err := jp.Parse(expr); err != nil {
			return Modifier{}, fmt.Errorf("%w: jsonPath %s: %v", ErrSyntax, expr, err)
		}
		// Parse again into a tree to check: Parse keeps its own private.
		p, err := jsonpath.Parse("placeholder", expr)
		if err != nil {
			return Modifier{}, fmt.Errorf("%w: jsonPath %s: %v", ErrSyntax, expr, err)
		}
		nodes, err := simplePath(p.Root)
		if err != nil {
			return Modifier{}, fmt.Errorf("%w: jsonPath %s: %w", ErrSyntax, expr, err)
		}
		m.Args = []string{expr}
		m.weight = 1 + nodes
		m.apply = func(v any, room int64) (any, error) {
			obj := v
			if s, ok := v.(string); ok {
				if err := decodeJSON([]byte(s), &obj); err != nil {
					return nil, errors.New("jsonPath: the value is not JSON")
				}
			}
			w := &limitedBuffer{room: room}
			if err := jp.Execute(w, obj); err != nil {
				if w.over {
					return nil, fmt.Errorf("%w: jsonPath %s: the result is too large", ErrLimit, expr)
				}
				return nil, fmt.Errorf("jsonPath %s: the expression does not apply to the value", expr)
			}
			return w.String(), nil
		}
		return m, nil
	}
	return Modifier{}, fmt.Errorf("%w: unknown modifier %q", ErrSyntax, name)
}

// simplePath checks that a jsonPath expression only walks down the value
// (fields, indexes, slices, wildcards, text): each of its lists yields at
// most as many results as the value has elements, so its cost is linear
// in the value times the expression. Recursive descent, unions, filters
// and range can each multiply that, and are refused. It returns the
// number of nodes.
func simplePath(n jsonpath.Node) (int64, error) {
	switch n := n.(type) {
	case *jsonpath.ListNode:
		var total int64 = 1
		for _, c := range n.Nodes {
			k, err := simplePath(c)
			if err != nil {
				return 0, err
			}
			total += k
		}
		return total, nil
	case *jsonpath.TextNode, *jsonpath.FieldNode, *jsonpath.ArrayNode, *jsonpath.WildcardNode:
		return 1, nil
	}
	return 0, fmt.Errorf("only fields, indexes, slices and wildcards are supported ({.a.b[0]}), not %s", n.Type())
}

// limitedBuffer is a buffer that fails once it would hold more than room
// bytes.
type limitedBuffer struct {
	bytes.Buffer
	room int64
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len()+len(p)) > b.room {
		b.over = true
		return 0, ErrLimit
	}
	return b.Buffer.Write(p)
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

// DecodeSecret decodes a secret read whole (a JSON object of fields), as
// placeholders see it: numbers stay exact (json.Number).
func DecodeSecret(b []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil || dec.Decode(new(any)) != io.EOF {
		// Not quoted: it is a secret.
		return nil, errors.New("the secret is not an object of fields")
	}
	return m, nil
}

// Indent trims every line and indents all but the first by n spaces,
// dropping empty lines after the first, as AVP's indent does.
func Indent(s string, n int) string {
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

// Stringify writes a value as AVP writes it into a Secret or a ConfigMap:
// strings as they are, numbers and booleans as JSON writes them, maps and
// lists as JSON.
func Stringify(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
