package avp

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"k8s.io/client-go/util/jsonpath"
)

// big is room enough for every value of these tests.
const big = 1 << 20

// TestModifiers: each modifier over values as a provider returns them
// (tenant data), with placeholders as manifests hold them (tenant text).
func TestModifiers(t *testing.T) {
	config := `{"url":"postgres://db","port":5432,"ratio":1.50,"tags":["a","b"],"nested":{"b":1,"a":[1,"two"]},"html":"<a&b>"}`
	tests := []struct {
		name, expr string
		value      any
		want       string // Stringify of the result
	}{
		{"base64encode", "v | base64encode", "app", "YXBw"},
		{"base64encode empty", "v | base64encode", "", ""},
		{"base64encode binary", "v | base64encode", "\x00\xff", "AP8="},
		{"base64decode", "v | base64decode", "aHVudGVyMg==", "hunter2"},
		{"base64decode to binary", "v | base64decode", "AP8=", "\x00\xff"},
		{"sha256sum", "v | sha256sum", "app", "a172cedcae47474b615c54d510a5d84a8dea3032e958587430b413538be3f333"},
		{"sha256sum empty", "v | sha256sum", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"indent", "v | indent 4", "-----BEGIN-----\nline1\nline2\n-----END-----", "-----BEGIN-----\n    line1\n    line2\n    -----END-----"},
		{"indent trims and drops empty lines", "v | indent 2", "  first  \n\n  second\t\n\nthird", "first\n  second\n  third"},
		{"indent one line", "v | indent 8", "  only  ", "only"},
		{"indent trailing newline", "v | indent 2", "a\nb\n", "a\n  b\n"},
		{"indent 0", "v | indent 0", "a\n b", "a\nb"},
		{"jsonParse keeps numbers", "v | jsonParse", `{"n":1.50,"big":12345678901234567890}`, `{"big":12345678901234567890,"n":1.50}`},
		{"jsonParse sorted, HTML escaped as encoding/json", "v | jsonParse", config, `{"html":"\u003ca\u0026b\u003e","nested":{"a":[1,"two"],"b":1},"port":5432,"ratio":1.50,"tags":["a","b"],"url":"postgres://db"}`},
		{"jsonParse string", "v | jsonParse", `"text"`, "text"},
		{"jsonParse number", "v | jsonParse", `42`, "42"},
		{"jsonParse null", "v | jsonParse", `null`, ""},
		{"yamlParse", "v | yamlParse", "a:\n  b: 1\nlist: [x, z]\n", `{"a":{"b":1},"list":["x","z"]}`},
		{"yamlParse of JSON", "v | yamlParse", config, `{"html":"\u003ca\u0026b\u003e","nested":{"a":[1,"two"],"b":1},"port":5432,"ratio":1.5,"tags":["a","b"],"url":"postgres://db"}`},
		{"jsonPath on a JSON string", "v | jsonPath {.url}", config, "postgres://db"},
		{"jsonPath keeps the number's text", "v | jsonPath {.ratio}", config, "1.50"},
		{"jsonPath index", "v | jsonPath {.nested.a[1]}", config, "two"},
		{"jsonPath quoted field", "v | jsonPath {.nested['b']}", config, "1"},
		{"jsonPath wildcard", "v | jsonPath {.tags[*]}", config, "a b"},
		{"jsonPath slice", "v | jsonPath {.tags[0:1]}", config, "a"},
		{"jsonPath with text", "v | jsonPath url={.url} port={.port}", config, "url=postgres://db port=5432"},
		{"jsonPath root", "v | jsonPath {$.port}", config, "5432"},
		{"jsonPath of an object", "v | jsonPath {.nested}", config, `{"a":[1,"two"],"b":1}`},
		{"jsonPath on a parsed map", "v | jsonParse | jsonPath {.tags[1]}", config, "b"},
		{"jsonPath on a map value", "v | jsonPath {.k}", map[string]any{"k": "v"}, "v"},
		{"chain", "v | base64encode | base64decode | jsonParse | jsonPath {.url} | base64encode", config, "cG9zdGdyZXM6Ly9kYg=="},
		{"no modifiers keep a number", "v", json.Number("1.50"), "1.50"},
		{"no modifiers keep a map", "v", map[string]any{"b": json.Number("2"), "a": true}, `{"a":true,"b":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Apply(tt.value, big)
			if err != nil {
				t.Fatal(err)
			}
			if s := Stringify(got); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

// TestModifierErrors: a modifier that does not apply to its value (tenant
// data) fails, saying which and why, never quoting the value.
func TestModifierErrors(t *testing.T) {
	const secret = "hunter2-very-secret"
	tests := []struct {
		name, expr string
		value      any
		want       string
	}{
		{"base64encode of a number", "v | base64encode", json.Number("5432"), "base64encode: the value is a json.Number, not a string"},
		{"indent of a map", "v | indent 2", map[string]any{"k": secret}, "indent: the value is a map[string]interface {}, not a string"},
		{"sha256sum of a bool", "v | sha256sum", true, "sha256sum: the value is a bool, not a string"},
		{"base64decode of text", "v | base64decode", secret, "base64decode: the value is not base64"},
		{"jsonParse of text", "v | jsonParse", secret, "jsonParse: the value is not JSON"},
		{"jsonParse of broken JSON", "v | jsonParse", `{"k":"` + secret, "jsonParse: the value is not JSON"},
		{"yamlParse of broken YAML", "v | yamlParse", "k: [" + secret, "yamlParse: the value is not YAML"},
		{"jsonPath of text", "v | jsonPath {.a}", secret, "jsonPath: the value is not JSON"},
		{"jsonPath missing field", "v | jsonPath {.nope}", `{"k":"` + secret + `"}`, "jsonPath {.nope}: the expression does not apply to the value"},
		{"jsonPath index out of range", "v | jsonPath {.k[3]}", `{"k":["` + secret + `"]}`, "the expression does not apply to the value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Apply(tt.value, big)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the value: %v", err)
			}
			if errors.Is(err, ErrLimit) || errors.Is(err, ErrSyntax) {
				t.Errorf("error %v is ErrLimit or ErrSyntax", err)
			}
		})
	}
}

// TestApplyRoom: no value grows past the room (the caller's, operator-
// or budget-set), and indent and base64encode refuse before they
// allocate what they would write. Values are tenant data.
func TestApplyRoom(t *testing.T) {
	tests := []struct {
		name, expr string
		value      string
		room       int64
		maxAlloc   uint64 // bytes Apply may allocate before failing
	}{
		{"indent of many newlines", "v | indent 256", strings.Repeat("a\n", 100_000), big, 64 << 10},
		{"indent just past the room", "v | indent 1", "a\nb\nc", 6, 64 << 10},
		{"base64encode past the room", "v | base64encode", strings.Repeat("x", 800_000), big, 64 << 10},
		{"base64encode just past the room", "v | base64encode", "abcd", 7, 64 << 10},
		{"base64encode chain", "v" + strings.Repeat(" | base64encode", 100), "x", big, 8 << 20},
		{"jsonPath output past the room", "v | jsonPath {.k[*]}", `{"k":[` + strings.Repeat(`"xxxxxxxx",`, 1000) + `"x"]}`, 100, 1 << 20},
		{"sha256sum past a tiny room", "v | sha256sum", "x", 10, 64 << 10},
		{"text of jsonPath past the room", "v | jsonPath " + strings.Repeat("t", 200) + "{.k}", `{"k":"v"}`, 100, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = e.Apply(tt.value, tt.room)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > tt.maxAlloc {
				t.Errorf("allocated %d bytes before failing, want at most %d", n, tt.maxAlloc)
			}
		})
	}
	// At the room exactly, it fits.
	for _, tt := range []struct {
		expr, value string
		room        int64
	}{
		{"v | indent 1", "a\nb\nc", 7},
		{"v | base64encode", "abcd", 8},
		{"v | jsonPath {.k}", `{"k":"0123456789"}`, 10},
	} {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(tt.value, tt.room); err != nil {
			t.Errorf("%s in room %d: %v", tt.expr, tt.room, err)
		}
	}
}

// TestSimplePath: jsonPath expressions (tenant text) whose cost can
// multiply with the value are refused; the walks down it are counted.
func TestSimplePath(t *testing.T) {
	tests := []struct {
		expr  string
		nodes int64 // 0: refused
	}{
		{"{.a}", 3},
		{"{.a.b}", 4},
		{"{.a.b[0]}", 5},
		{"{$.a}", 3},
		{"{@}", 2},
		{"{.a[*].b}", 5},
		{"{.a[1:3]}", 4},
		{"{.a['b']}", 4},
		{"x{.a}y", 5},
		{"{.a}{.b}", 5},
		{"{..a}", 0},
		{"{.a..b}", 0},
		{"{.a[?(@.x)]}", 0},
		{"{.a[?(@.x=='y')].z}", 0},
		{"{range .a[*]}{end}", 0},
		{"{range .a[*]}{.b}{end}", 0},
		{"{['a','b']}", 0},
		{"{.a[0,1]}", 0},
		{"{.a['b','c']}", 0},
		{"{1}", 0},
		{"{true}", 0},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := jsonpath.Parse("test", tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			n, err := simplePath(p.Root)
			if tt.nodes == 0 {
				if err == nil {
					t.Errorf("accepted (%d nodes), want refused", n)
				}
				return
			}
			if err != nil || n != tt.nodes {
				t.Errorf("nodes = %d, %v; want %d", n, err, tt.nodes)
			}
		})
	}
}

// TestStringify: values as AVP writes them into a Secret.
func TestStringify(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"string", "pässwörd \"<q>\"\n", "pässwörd \"<q>\"\n"},
		{"integer", json.Number("5432"), "5432"},
		{"decimal", json.Number("1.50"), "1.50"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"nil", nil, ""},
		{"bytes", []byte("raw"), "raw"},
		{"map sorted and compact", map[string]any{"z": json.Number("1"), "a": "<x>", "m": map[string]any{"k": []any{true, nil}}}, `{"a":"\u003cx\u003e","m":{"k":[true,null]},"z":1}`},
		{"list", []any{json.Number("1"), "two", json.Number("3.0")}, `[1,"two",3.0]`},
		{"float from YAML", 1.5, "1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Stringify(tt.v); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDecodeSecret: a secret read whole (provider data) is a JSON object
// of fields with exact numbers; anything else fails without quoting it.
func TestDecodeSecret(t *testing.T) {
	m, err := DecodeSecret([]byte(`{"n":1.50,"s":"x","null":null,"o":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m["n"] != json.Number("1.50") || m["s"] != "x" || m["null"] != nil {
		t.Errorf("got %#v", m)
	}
	if _, ok := m["null"]; !ok {
		t.Error("a null field is absent from the map")
	}
	if m, err := DecodeSecret([]byte(`{}`)); err != nil || m == nil {
		t.Errorf("{} = %v, %v", m, err)
	}
	for _, in := range []string{``, `hunter2-secret`, `"hunter2-secret"`, `["hunter2-secret"]`, `null`, `{"k":"hunter2-secret"`, `42`, `{"k":"hunter2-secret"} x`, `{"k":"hunter2-secret"}}`, `{}{}`} {
		_, err := DecodeSecret([]byte(in))
		if err == nil {
			t.Errorf("%q: no error", in)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error leaks the secret: %v", in, err)
		}
	}
}

// FuzzParseApply: any placeholder text (tenant text) parsed and applied
// to any value (tenant data) with a small room must not panic, and no
// string it returns may be longer than the room.
func FuzzParseApply(f *testing.F) {
	seeds := []struct{ expr, value string }{
		{"v", "x"},
		{"v | base64encode", "app"},
		{"v | base64decode", "YXBw"},
		{"v | base64encode | base64encode | base64encode", "abc"},
		{"v | indent 4", "a\nb\n\nc"},
		{"v | indent 256", strings.Repeat("\n", 64)},
		{"v | sha256sum", "x"},
		{"v | jsonParse", `{"a":[1,2.50,{"b":null}]}`},
		{"v | jsonParse | jsonPath {.a[2].b}", `{"a":[1,2,{"b":"c"}]}`},
		{"v | jsonPath {.a[*]}", `{"a":[1,2,3]}`},
		{"v | jsonPath x{.a[0:2]}y", `{"a":[1,2,3]}`},
		{"v | yamlParse | jsonPath {.a}", "a: &x [1]\nb: *x\n"},
		{"path:kv/db#k#3 | base64encode", "x"},
		{"v | jsonPath {..a}", `{"a":1}`},
		{"v | indent", "x"},
	}
	for _, s := range seeds {
		f.Add(s.expr, s.value)
	}
	f.Fuzz(func(t *testing.T, expr, value string) {
		e, err := Parse(expr)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse error %v is not ErrSyntax", err)
			}
			return
		}
		if e.Weight() < 1+int64(len(e.Modifiers)) {
			t.Fatalf("Weight() = %d for %d modifiers", e.Weight(), len(e.Modifiers))
		}
		const room = 256
		v, err := e.Apply(value, room)
		if err != nil {
			return
		}
		if s, ok := v.(string); ok && len(e.Modifiers) > 0 && len(s) > room {
			t.Fatalf("result of %d bytes, room %d", len(s), room)
		}
		_ = Stringify(v)
	})
}
