package providers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestProperty(t *testing.T) {
	flat := readTestdata(t, "json/flat.json")
	nested := readTestdata(t, "json/nested.json")
	tests := []struct {
		name     string
		value    []byte
		property string
		want     string
		notFound bool
		notJSON  bool
	}{
		{"string is unquoted", flat, "password", "hunter2", false, false},
		{"number keeps its text", flat, "port", "5432", false, false},
		{"bool keeps its text", flat, "enabled", "true", false, false},
		{"null is empty", flat, "nothing", "", false, false},
		{"nested path", nested, "db.user", "app", false, false},
		{"array index", nested, "db.hosts.1", "b.example", false, false},
		{"object keeps its JSON", nested, "db.hosts", `["a.example","b.example"]`, false, false},
		{"literal dotted key wins", nested, "a.b", "literal", false, false},
		{"dotted key without escaping", nested, "tls.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", false, false},
		{"escaped dot", nested, `tls\.crt`, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", false, false},
		{"missing property", flat, "nope", "", true, false},
		{"missing nested property", nested, "db.nope", "", true, false},
		{"not JSON", readTestdata(t, "json/plain.txt"), "key", "", false, true},
		{"empty value", nil, "key", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := providers.Property(tt.value, tt.property)
			switch {
			case tt.notFound:
				if !errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("err = %v, want ErrSecretNotFound", err)
				}
				if !strings.Contains(err.Error(), tt.property) {
					t.Errorf("error %q does not name the property", err)
				}
			case tt.notJSON:
				if !errors.Is(err, providers.ErrNotJSON) || errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("err = %v, want ErrNotJSON only", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
			if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "key=value")) {
				t.Errorf("error leaks the value: %v", err)
			}
		})
	}
}

func TestSecretMapFromJSON(t *testing.T) {
	got, err := providers.SecretMapFromJSON(readTestdata(t, "json/flat.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"username": []byte("admin"), "password": []byte("hunter2"),
		"port": []byte("5432"), "enabled": []byte("true"),
		// json.Unmarshal of null into a string succeeds and leaves it empty;
		// ESO writes an empty value, and so do we.
		"nothing": []byte(""),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = providers.SecretMapFromJSON(readTestdata(t, "json/nested.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got["db"]) != `{"user":"app","pass":"s3cr3t","hosts":["a.example","b.example"]}` {
		t.Errorf("nested object = %q", got["db"])
	}
	for _, bad := range []string{"json/array.json", "json/string.json", "json/plain.txt"} {
		if _, err := providers.SecretMapFromJSON(readTestdata(t, bad)); !errors.Is(err, providers.ErrNotJSONObject) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
	if _, err := providers.SecretMapFromJSON([]byte("null")); err == nil {
		t.Error("null accepted as an object")
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		strategy esv1.ExternalSecretDecodingStrategy
		in       string
		want     string
		wantErr  bool
	}{
		{"unset keeps", "", "aGVsbG8=", "aGVsbG8=", false},
		{"none keeps", esv1.ExternalSecretDecodeNone, "aGVsbG8=", "aGVsbG8=", false},
		{"base64", esv1.ExternalSecretDecodeBase64, "aGVsbG8gd29ybGQ=", "hello world", false},
		{"base64 ignores newlines", esv1.ExternalSecretDecodeBase64, "aGVs\nbG8=\n", "hello", false},
		{"base64 rejects url alphabet", esv1.ExternalSecretDecodeBase64, "Pz8_Pz8-", "", true},
		{"base64 rejects missing padding", esv1.ExternalSecretDecodeBase64, "aGVsbG8", "", true},
		{"base64url", esv1.ExternalSecretDecodeBase64URL, "Pz8_Pz8-", "?????>", false},
		{"base64url rejects std alphabet", esv1.ExternalSecretDecodeBase64URL, "Pz8/Pz8+", "", true},
		{"auto std", esv1.ExternalSecretDecodeAuto, "aGVsbG8gd29ybGQ=", "hello world", false},
		{"auto url", esv1.ExternalSecretDecodeAuto, "Pz8_Pz8-", "?????>", false},
		{"auto keeps plain", esv1.ExternalSecretDecodeAuto, "plain text, not base64!", "plain text, not base64!", false},
		{"auto decodes what looks like base64", esv1.ExternalSecretDecodeAuto, "test", "\xb5\xeb\x2d", false},
		{"unknown strategy", "Hex", "00", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := providers.Decode(tt.strategy, []byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want error", got)
				}
				if strings.Contains(err.Error(), tt.in) {
					t.Errorf("error quotes the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeMap(t *testing.T) {
	got, err := providers.DecodeMap(esv1.ExternalSecretDecodeBase64, map[string][]byte{"a": []byte("YQ=="), "b": []byte("Yg==")})
	if err != nil || string(got["a"]) != "a" || string(got["b"]) != "b" {
		t.Fatalf("%q, %v", got, err)
	}
	_, err = providers.DecodeMap(esv1.ExternalSecretDecodeBase64, map[string][]byte{"z": []byte("!!"), "y": []byte("??")})
	if err == nil || !strings.Contains(err.Error(), `"y"`) {
		t.Fatalf("err = %v, want the first bad key in order", err)
	}
}

func TestCheckNullBytes(t *testing.T) {
	nul := readTestdata(t, "decode/nul.txt")
	decoded, err := providers.Decode(esv1.ExternalSecretDecodeBase64, nul)
	if err != nil {
		t.Fatal(err)
	}
	if err := providers.CheckNullBytes(esv1.ExternalSecretNullBytePolicyFail, "k", nul); err != nil {
		t.Errorf("encoded value refused: %v", err)
	}
	if err := providers.CheckNullBytes(esv1.ExternalSecretNullBytePolicyFail, "k", decoded); err == nil || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("err = %v", err)
	}
	for _, p := range []esv1.ExternalSecretNullBytePolicy{"", esv1.ExternalSecretNullBytePolicyIgnore} {
		if err := providers.CheckNullBytes(p, "k", decoded); err != nil {
			t.Errorf("policy %q: %v", p, err)
		}
	}
	err = providers.CheckNullBytesMap(esv1.ExternalSecretNullBytePolicyFail, map[string][]byte{"zeta": decoded, "alpha": []byte("C\x00D"), "ok": []byte("x")})
	if err == nil || !strings.Contains(err.Error(), `"alpha"`) {
		t.Errorf("err = %v, want alpha first", err)
	}
	if err := providers.CheckNullBytesMap(esv1.ExternalSecretNullBytePolicyFail, nil); err != nil {
		t.Error(err)
	}
}

func TestValidSecretKey(t *testing.T) {
	for k, want := range map[string]bool{
		"password": true, "tls.crt": true, "DB_USER-1": true, ".dotfile": true,
		"": false, ".": false, "..": false, "..x": false, "a/b": false, "a b": false,
		"é": false, "a:b": false, strings.Repeat("a", 253): true, strings.Repeat("a", 254): false,
	} {
		if got := providers.ValidSecretKey(k); got != want {
			t.Errorf("ValidSecretKey(%q) = %v", k, got)
		}
	}
}

func TestConvertKey(t *testing.T) {
	tests := []struct {
		strategy esv1.ExternalSecretConversionStrategy
		in, want string
	}{
		{"", "db/password", "db_password"},
		{esv1.ExternalSecretConversionDefault, "foo@bar", "foo_bar"},
		{esv1.ExternalSecretConversionDefault, "tls.crt", "tls.crt"},
		{esv1.ExternalSecretConversionUnicode, `a"b`, "a_U0022_b"},
		{esv1.ExternalSecretConversionUnicode, "db/password", "db_U002f_password"},
		{esv1.ExternalSecretConversionUnicode, "é", "_U00e9_"},
		{esv1.ExternalSecretConversionUnicode, "😀", "_U1f600_"},
		{esv1.ExternalSecretConversionDefault, "é", "_"},
	}
	for _, tt := range tests {
		if got := providers.ConvertKey(tt.strategy, tt.in); got != tt.want {
			t.Errorf("ConvertKey(%q, %q) = %q, want %q", tt.strategy, tt.in, got, tt.want)
		}
	}
}

func TestConvertKeys(t *testing.T) {
	got, err := providers.ConvertKeys(esv1.ExternalSecretConversionUnicode, map[string][]byte{"a/b": []byte("1"), "c": []byte("2")})
	if err != nil || string(got["a_U002f_b"]) != "1" || string(got["c"]) != "2" {
		t.Fatalf("%q, %v", got, err)
	}
	// Keys can come from a value (a JSON object read as a map): the
	// collision is reported without them.
	if _, err := providers.ConvertKeys("", map[string][]byte{"user/Qx7": nil, "user_Qx7": nil}); err == nil || strings.Contains(err.Error(), "Qx7") {
		t.Fatalf("collision: %v", err)
	}
}

func TestValidateKeys(t *testing.T) {
	m := map[string][]byte{"": []byte("x"), "ok": []byte("y")}
	if err := providers.ValidateKeys(m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m[""]; ok || len(m) != 1 {
		t.Errorf("empty key not dropped: %q", m)
	}
	// Neither the value nor the key, which can be built from a value, is
	// quoted.
	if err := providers.ValidateKeys(map[string][]byte{"user@Qx7": []byte("secret-value")}); err == nil ||
		strings.Contains(err.Error(), "secret-value") || strings.Contains(err.Error(), "Qx7") {
		t.Errorf("err = %v", err)
	}
}

func TestMatcher(t *testing.T) {
	path := "app/"
	m, err := providers.NewMatcher(esv1.ExternalSecretFind{
		Path: &path, Name: &esv1.FindName{RegExp: "^app/db-"}, Tags: map[string]string{"env": "prod"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match("app/db-password", map[string]string{"env": "prod", "team": "x"}) {
		t.Error("expected match")
	}
	for _, c := range []struct {
		name string
		tags map[string]string
	}{
		{"other/db-password", map[string]string{"env": "prod"}},
		{"app/cache", map[string]string{"env": "prod"}},
		{"app/db-password", map[string]string{"env": "dev"}},
		{"app/db-password", nil},
	} {
		if m.Match(c.name, c.tags) {
			t.Errorf("%s %v matched", c.name, c.tags)
		}
	}
	all, err := providers.NewMatcher(esv1.ExternalSecretFind{})
	if err != nil || !all.Match("anything", nil) || all.HasName() || all.HasPath() || all.HasTags() {
		t.Errorf("empty find: %v", err)
	}
	_, err = providers.NewMatcher(esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "(unclosed"}})
	if err == nil || !strings.Contains(err.Error(), "find.name.regexp") {
		t.Errorf("err = %v", err)
	}
}

// seeds returns the testdata files under dir; the fuzz test fails if there
// are none, so a moved folder cannot silently leave a fuzzer unseeded.
func seeds(f *testing.F, dir string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	if len(paths) == 0 {
		f.Fatalf("no fuzz seeds found in testdata/%s", dir)
	}
	var out [][]byte
	for _, p := range paths {
		out = append(out, readTestdata(f, filepath.Join(dir, filepath.Base(p))))
	}
	return out
}

// FuzzProperty reads properties of arbitrary bytes: it must never panic,
// answer only for valid JSON, and never put the value in an error.
func FuzzProperty(f *testing.F) {
	for _, s := range seeds(f, "json") {
		for _, p := range []string{"password", "db.user", "a.b", "db.hosts.#", "..", "*", `tls\.crt`} {
			f.Add(s, p)
		}
	}
	f.Fuzz(func(t *testing.T, value []byte, property string) {
		got, err := providers.Property(value, property)
		if err != nil {
			if len(value) >= 8 && !strings.Contains(property, string(value)) && strings.Contains(err.Error(), string(value)) {
				t.Fatalf("error quotes the value: %v", err)
			}
			return
		}
		if !json.Valid(value) {
			t.Fatalf("answered %q for invalid JSON", got)
		}
		if m, err := providers.SecretMapFromJSON(value); err == nil {
			for k, v := range m {
				// Only plain keys: gjson gives meaning to . * ? | # @ and
				// \, and json.Unmarshal rewrites invalid UTF-8.
				if !plainKey.MatchString(k) {
					continue
				}
				if _, err := providers.Property(value, k); err != nil {
					t.Fatalf("top-level key %q of a map not found: %v (value %q)", k, err, v)
				}
			}
		}
	})
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// FuzzDecode decodes arbitrary bytes with every strategy: no panics, Auto
// never fails, and what Base64 accepts round-trips.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f, "decode") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range []esv1.ExternalSecretDecodingStrategy{"", esv1.ExternalSecretDecodeNone, esv1.ExternalSecretDecodeBase64, esv1.ExternalSecretDecodeBase64URL, esv1.ExternalSecretDecodeAuto} {
			out, err := providers.Decode(s, in)
			if err != nil {
				if s == esv1.ExternalSecretDecodeAuto || s == "" || s == esv1.ExternalSecretDecodeNone {
					t.Fatalf("%s failed: %v", s, err)
				}
				if len(in) >= 8 && strings.Contains(err.Error(), string(in)) {
					t.Fatalf("error quotes the input: %v", err)
				}
				continue
			}
			if s == esv1.ExternalSecretDecodeBase64 {
				again, err := providers.Decode(s, []byte(base64.StdEncoding.EncodeToString(out)))
				if err != nil || !bytes.Equal(again, out) {
					t.Fatalf("base64 %q decoded to %q which does not round-trip", in, out)
				}
			}
		}
	})
}
