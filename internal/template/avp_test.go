package template_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sealsync/sealsync/internal/avp"
	"github.com/sealsync/sealsync/internal/template"
)

// avpSecret is a secret as the plugin's reference mode has the controller
// fetch it whole (remoteRef without a property): provider data, which
// the tenant who owns the path writes.
const avpSecret = `{
	"user": "app",
	"password": "hunter2-very-secret",
	"port": 5432,
	"ratio": 1.50,
	"big": 12345678901234567890,
	"enabled": true,
	"pem": "-----BEGIN-----\nline1\nline2\n-----END-----",
	"config": "{\"url\":\"postgres://db\",\"port\":5432,\"nested\":{\"b\":1,\"a\":[1,\"two\"]},\"html\":\"<a&b>\"}",
	"yaml": "a:\n  b: yes-value\n  list: [1, 2]\nurl: http://x\n",
	"encoded": "aHVudGVyMi12ZXJ5LXNlY3JldA==",
	"obj": {"z": 1, "a": "x", "m": {"k": [true, null]}},
	"list": [1, "two", 3.0],
	"empty": "",
	"unicode": "pässwörd \"<q>\"\n\t✓",
	"none": null
}`

// resolveLike is what the plugin's resolve mode (internal/cmp/placeholder,
// objectWalk.resolve then value) writes into a Secret for <expr> over
// secret: the field, its modifiers applied within the room, stringified.
func resolveLike(t *testing.T, secret, expr string) (string, error) {
	t.Helper()
	fields, err := avp.DecodeSecret([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	e, err := avp.Parse(expr)
	if err != nil {
		return "", err
	}
	v := fields[e.Key]
	if v == nil {
		return "", errors.New("missing")
	}
	if v, err = e.Apply(v, template.MaxRenderSize); err != nil {
		return "", err
	}
	return avp.Stringify(v), nil
}

func renderAVP(t *testing.T, b *template.Budget, text, secret string) (string, error) {
	t.Helper()
	out, err := template.ESO().Execute(b, "k", text, map[string]string{"avp-0": secret})
	return string(out), err
}

// avpCall is the template the plugin writes for a placeholder.
func avpCall(expr string) string {
	return `{{ avp (index . "avp-0") ` + strconv.Quote(expr) + ` }}`
}

// TestAVPMatchesResolve: avp over a fetched secret (tenant-owned provider
// data; the expressions are the tenant's placeholders, written into the
// template by the plugin) gives exactly what the plugin's resolve mode
// writes for the same placeholder, for every modifier and chains of
// them; where the case has a literal want, that too.
func TestAVPMatchesResolve(t *testing.T) {
	sum := sha256.Sum256([]byte("app"))
	tests := []struct {
		name, expr string
		want       string // "" to check against resolveLike only
	}{
		{"plain string", "user", "app"},
		{"key with spaces around", "  user  ", "app"},
		{"empty string", "empty", ""},
		{"integer keeps its text", "port", "5432"},
		{"decimal keeps its text", "ratio", "1.50"},
		{"integer past int64 keeps its text", "big", "12345678901234567890"},
		{"boolean", "enabled", "true"},
		{"object as compact JSON, sorted keys", "obj", `{"a":"x","m":{"k":[true,null]},"z":1}`},
		{"list as JSON", "list", `[1,"two",3.0]`},
		{"non-ASCII and quotes unchanged", "unicode", "pässwörd \"<q>\"\n\t✓"},
		{"base64encode", "user | base64encode", "YXBw"},
		{"base64decode", "encoded | base64decode", "hunter2-very-secret"},
		{"sha256sum", "user | sha256sum", hex.EncodeToString(sum[:])},
		{"indent", "pem | indent 4", "-----BEGIN-----\n    line1\n    line2\n    -----END-----"},
		{"indent 0", "pem | indent 0", ""},
		{"jsonParse", "config | jsonParse", `{"html":"\u003ca\u0026b\u003e","nested":{"a":[1,"two"],"b":1},"port":5432,"url":"postgres://db"}`},
		{"jsonParse then jsonPath", "config | jsonParse | jsonPath {.url}", "postgres://db"},
		{"jsonPath on a JSON string", "config | jsonPath {.nested.a[1]}", "two"},
		{"jsonPath of a number", "config | jsonPath {.port}", "5432"},
		{"jsonPath of an object", "config | jsonPath {.nested}", ""},
		{"jsonPath wildcard", "config | jsonPath {.nested.a[*]}", ""},
		{"jsonPath slice", "config | jsonPath {.nested.a[0:1]}", ""},
		{"jsonPath with text", "config | jsonPath url={.url};port={.port}", "url=postgres://db;port=5432"},
		{"jsonPath on an object field", "obj | jsonPath {.m.k[0]}", "true"},
		{"yamlParse", "yaml | yamlParse", `{"a":{"b":"yes-value","list":[1,2]},"url":"http://x"}`},
		{"yamlParse then jsonPath", "yaml | yamlParse | jsonPath {.a.b}", "yes-value"},
		{"chain: base64encode twice", "user | base64encode | base64encode", "WVhCdw=="},
		{"chain: encode, decode, hash", "user | base64encode | base64decode | sha256sum", hex.EncodeToString(sum[:])},
		{"chain: indent then base64encode", "pem | indent 2 | base64encode", ""},
		{"chain: jsonPath then indent", "yaml | yamlParse | jsonPath {.a.list} | indent 2", ""},
		{"chain: jsonPath then base64encode", "config | jsonPath {.url} | base64encode", "cG9zdGdyZXM6Ly9kYg=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := resolveLike(t, avpSecret, tt.expr)
			if err != nil {
				t.Fatalf("resolve mode: %v", err)
			}
			if tt.want != "" && want != tt.want {
				t.Fatalf("resolve mode gives %q, the case wants %q", want, tt.want)
			}
			got, err := renderAVP(t, nil, avpCall(tt.expr), avpSecret)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("avp %q = %q, resolve mode writes %q", tt.expr, got, want)
			}
		})
	}
}

// TestAVPInText: values that mix text and placeholders, as the plugin
// writes them (template text from the tenant's placeholders, data from
// the tenant's provider), and avp piped on to other functions.
func TestAVPInText(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"text and placeholders", `postgres://{{ avp (index . "avp-0") "user" }}:{{ avp (index . "avp-0") "password | base64encode" }}@db`,
			"postgres://app:aHVudGVyMi12ZXJ5LXNlY3JldA==@db"},
		{"piped to toJson", `{{ avp (index . "avp-0") "unicode" | toJson }}`, `"pässwörd \"\u003cq\u003e\"\n\t✓"`},
		{"raw string expression", "{{ avp (index . \"avp-0\") `port` }}", "5432"},
		{"avpHas present, null, absent", `{{ avpHas (index . "avp-0") "user" }} {{ avpHas (index . "avp-0") "none" }} {{ avpHas (index . "avp-0") "nope" }}`, "true false false"},
		{"avpHas of an empty string", `{{ avpHas (index . "avp-0") "empty" }}`, "true"},
		{"avpHas guards avp", `{{ if avpHas (index . "avp-0") "token" }}{{ avp (index . "avp-0") "token" }}{{ else }}none{{ end }}`, "none"},
		{"avpHas key from data", `{{ $k := "user" }}{{ avpHas (index . "avp-0") $k }}`, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderAVP(t, nil, tt.text, avpSecret)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAVPErrors: a missing key, a refused expression or a modifier
// failing on a value is an error naming the expression (template text),
// never the secret or any of its values (tenant provider data, which the
// ExternalSecret's status and events must not show).
func TestAVPErrors(t *testing.T) {
	tests := []struct {
		name, text, secret string
		want               string // a substring of the error
	}{
		{"missing key", avpCall("token"), avpSecret, `error calling avp: the secret has no key "token"`},
		{"null key", avpCall("none | base64encode"), avpSecret, `the secret has no key "none"`},
		{"inline path refused", avpCall("path:secret/data/db#password"), avpSecret, "not a path: placeholder <path:secret/data/db#password>"},
		{"inline path with version refused", avpCall("path:kv/db#password#3 | base64encode"), avpSecret, "not a path"},
		{"expression from data refused", `{{ avp (index . "avp-0") (index . "avp-0") }}`, avpSecret, "avp takes argument 2 as a quoted string"},
		{"expression from a variable refused", `{{ $e := "user" }}{{ avp (index . "avp-0") $e }}`, avpSecret, "avp takes argument 2 as a quoted string"},
		{"expression piped refused", `{{ "user" | avp (index . "avp-0") }}`, avpSecret, "avp takes argument 2 as a quoted string"},
		{"expression missing", `{{ avp (index . "avp-0") }}`, avpSecret, "avp takes argument 2 as a quoted string"},
		{"unknown modifier", avpCall("user | rot13"), avpSecret, `unknown modifier "rot13"`},
		{"empty modifier", avpCall("user |"), avpSecret, "empty modifier"},
		{"indent too wide", avpCall("pem | indent 257"), avpSecret, "indent width must be 0 to 256"},
		{"indent without width", avpCall("pem | indent"), avpSecret, "indent takes one argument"},
		{"jsonPath recursive descent", avpCall("config | jsonPath {..url}"), avpSecret, "malformed placeholder: jsonPath {..url}"},
		{"jsonPath filter", avpCall("config | jsonPath {.nested.a[?(@.x)]}"), avpSecret, "only fields, indexes, slices and wildcards"},
		{"jsonPath union", avpCall("config | jsonPath {['url','port']}"), avpSecret, "only fields, indexes, slices and wildcards"},
		{"jsonPath range", avpCall("config | jsonPath {range .nested.a[*]}{end}"), avpSecret, "only fields, indexes, slices and wildcards"},
		{"jsonPath missing field", avpCall("config | jsonPath {.nope}"), avpSecret, "jsonPath {.nope}: the expression does not apply to the value"},
		{"base64encode of a number", avpCall("port | base64encode"), avpSecret, "base64encode: the value is a json.Number, not a string"},
		{"base64decode of text", avpCall("password | base64decode"), avpSecret, "base64decode: the value is not base64"},
		{"jsonParse of text", avpCall("password | jsonParse"), avpSecret, "jsonParse: the value is not JSON"},
		{"jsonPath of text", avpCall("password | jsonPath {.a}"), avpSecret, "jsonPath: the value is not JSON"},
		{"yamlParse of bad YAML", avpCall("bad | yamlParse"), `{"bad": "a: [hunter2-very-secret"}`, "yamlParse: the value is not YAML"},
		{"secret not JSON", avpCall("user"), `hunter2-very-secret`, "error calling avp: the secret is not an object of fields"},
		{"secret a JSON list", avpCall("user"), `["hunter2-very-secret"]`, "the secret is not an object of fields"},
		{"secret null", avpCall("user"), `null`, "the secret is not an object of fields"},
		{"avpHas of a secret not JSON", `{{ avpHas (index . "avp-0") "user" }}`, `{"user": "hunter2-very-secret"`, "error calling avpHas: the secret is not an object of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderAVP(t, nil, tt.text, tt.secret)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if errors.Is(err, template.ErrBudgetExceeded) {
				t.Errorf("a budget error: %v", err)
			}
			assertNoSecretIn(t, err, tt.secret)
		})
	}
}

// assertNoSecretIn checks that err quotes neither secret nor any of its
// values of six bytes or more (shorter ones collide with words).
func assertNoSecretIn(t *testing.T, err error, secret string) {
	t.Helper()
	msg := err.Error()
	values := []string{secret, "hunter2"}
	var fields map[string]any
	if json.Unmarshal([]byte(secret), &fields) == nil {
		for _, v := range fields {
			if s, ok := v.(string); ok {
				values = append(values, s)
			}
		}
	}
	for _, v := range values {
		if len(v) >= 6 && strings.Contains(msg, v) {
			t.Errorf("error leaks a value: %v", err)
		}
	}
}

// TestAVPBudget: avp is charged a pass over the secret to decode it, a
// pass over the field's value per modifier, and the growth of a value
// before the modifiers that read it; the room of Expr.Apply is what the
// render may still write. The expressions are tenant template text, the
// secrets tenant provider data.
func TestAVPBudget(t *testing.T) {
	const field = 100_000
	secret := `{"k":"` + strings.Repeat("x", field) + `","nl":"` + strings.Repeat(`a\n`, 4000) + `"}`
	steps := func(t *testing.T, text string) int64 {
		t.Helper()
		b := template.NewBudget()
		if _, err := renderAVP(t, b, text, secret); err != nil {
			t.Fatal(err)
		}
		return b.Steps()
	}
	// Decoding, then each modifier passes over the field once more.
	one := steps(t, avpCall("k | sha256sum"))
	three := steps(t, avpCall("k | sha256sum | sha256sum | sha256sum"))
	if min := int64(len(secret)+field) / 32; one < min {
		t.Errorf("one modifier: %d steps, want at least %d", one, min)
	}
	if three < one+2*field/32 {
		t.Errorf("three modifiers: %d steps, one: %d", three, one)
	}
	// yamlParse weighs a step a byte.
	if y := steps(t, avpCall("k | yamlParse")); y < field {
		t.Errorf("yamlParse: %d steps, want at least %d", y, field)
	}
	// The expression is charged by the byte, before it is parsed.
	if spaced := steps(t, avpCall("k"+strings.Repeat(" ", 10_000)+"| sha256sum")); spaced < one+4*10_000 {
		t.Errorf("10 kB more expression: %d steps, without: %d", spaced, one)
	}
	// A value grown to a megabyte pays for the hash that shrinks it.
	grown := steps(t, avpCall("nl | indent 256 | sha256sum"))
	if min := int64(4000*258) / 32; grown < min {
		t.Errorf("indent then hash: %d steps, want at least %d", grown, min)
	}
	// The room is what the render may still write: after 600 kB of
	// output, 100 kB encoded six times (560 kB) no longer fits.
	b := template.NewBudget()
	text := `{{ repeat 600000 "x" }}` + avpCall("k | base64encode | base64encode | base64encode | base64encode | base64encode | base64encode")
	_, err := renderAVP(t, b, text, secret)
	if !errors.Is(err, template.ErrOutputTooLarge) {
		t.Errorf("err = %v, want the output error", err)
	}
	if _, err := renderAVP(t, nil, avpCall("k | base64encode | base64encode | base64encode | base64encode | base64encode | base64encode"), secret); err != nil {
		t.Errorf("without the output before: %v", err)
	}
}

// TestAVPManyPlaceholdersFit: what the plugin writes for a Secret of 500
// placeholders of one path (operator-sized: the benchmark), each
// key a template of its own over the same 500-field secret, fits one
// render's budget with room to spare, though each call decodes the whole
// secret.
func TestAVPManyPlaceholdersFit(t *testing.T) {
	fields := map[string]string{}
	for i := range 500 {
		fields["field-"+strconv.Itoa(i)] = strings.Repeat("v", 20)
	}
	secret, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	b := template.NewBudget()
	for i := range 500 {
		expr := "field-" + strconv.Itoa(i) + " | base64encode"
		got, err := renderAVP(t, b, avpCall(expr), string(secret))
		if err != nil {
			t.Fatalf("placeholder %d: %v", i, err)
		}
		if got != "dnZ2dnZ2dnZ2dnZ2dnZ2dnZ2dnY=" {
			t.Fatalf("placeholder %d = %q", i, got)
		}
	}
	if b.Steps() > template.MaxSteps/2 {
		t.Errorf("500 placeholders took %d steps, over half the budget", b.Steps())
	}
	t.Logf("500 placeholders over a %d-byte secret: %d steps", len(secret), b.Steps())
}
