package avp

import (
	"errors"
	"slices"
	"testing"
)

// TestParse: placeholder texts as manifests in Git hold them (tenant
// text), in every form: a generic key, path:P#K[#V], modifiers with and
// without arguments; malformed ones are ErrSyntax.
func TestParse(t *testing.T) {
	type mod struct {
		name string
		args []string
	}
	tests := []struct {
		name, in string
		want     Expr
		mods     []mod
		str, gen string // String and Generic
		weight   int64
	}{
		{name: "generic key", in: "password", want: Expr{Key: "password"}, str: "<password>", gen: "password", weight: 1},
		{name: "generic key trimmed", in: "  password\t", want: Expr{Key: "password"}, str: "<password>", gen: "password", weight: 1},
		{name: "generic key with modifier", in: "password | base64encode", want: Expr{Key: "password"},
			mods: []mod{{"base64encode", nil}}, str: "<password>", gen: "password | base64encode", weight: 2},
		{name: "modifiers without spaces", in: "pem|indent 4|base64encode", want: Expr{Key: "pem"},
			mods: []mod{{"indent", []string{"4"}}, {"base64encode", nil}}, str: "<pem>", gen: "pem | indent 4 | base64encode", weight: 3},
		{name: "inline", in: "path:secret/data/db#password", want: Expr{Inline: true, Path: "secret/data/db", Key: "password"},
			str: "<path:secret/data/db#password>", gen: "password", weight: 1},
		{name: "inline with version", in: "path:secret/data/db#password#3", want: Expr{Inline: true, Path: "secret/data/db", Key: "password", Version: "3"},
			str: "<path:secret/data/db#password#3>", gen: "password", weight: 1},
		{name: "inline key trimmed", in: "path:kv/db# password ", want: Expr{Inline: true, Path: "kv/db", Key: "password"},
			str: "<path:kv/db#password>", gen: "password", weight: 1},
		{name: "inline with version and modifiers", in: "path:kv/db#config#2 | jsonParse | jsonPath {.a.b[0]}",
			want: Expr{Inline: true, Path: "kv/db", Key: "config", Version: "2"},
			mods: []mod{{"jsonParse", nil}, {"jsonPath", []string{"{.a.b[0]}"}}},
			str:  "<path:kv/db#config#2>", gen: "config | jsonParse | jsonPath {.a.b[0]}", weight: 1 + 1 + 1 + 5},
		{name: "jsonPath with spaces", in: "config | jsonPath url: {.url}  port: {.port}", want: Expr{Key: "config"},
			mods: []mod{{"jsonPath", []string{"url: {.url} port: {.port}"}}}, str: "<config>", gen: "config | jsonPath url: {.url} port: {.port}", weight: 1 + 1 + 7},
		{name: "every modifier", in: "v | base64decode | yamlParse | jsonPath {.a} | sha256sum | indent 0",
			want: Expr{Key: "v"},
			mods: []mod{{"base64decode", nil}, {"yamlParse", nil}, {"jsonPath", []string{"{.a}"}}, {"sha256sum", nil}, {"indent", []string{"0"}}},
			str:  "<v>", gen: "v | base64decode | yamlParse | jsonPath {.a} | sha256sum | indent 0", weight: 1 + 1 + 1 + 4 + 1 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Inline != tt.want.Inline || got.Path != tt.want.Path || got.Key != tt.want.Key || got.Version != tt.want.Version {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if len(got.Modifiers) != len(tt.mods) {
				t.Fatalf("modifiers = %v, want %v", got.Modifiers, tt.mods)
			}
			for i, m := range tt.mods {
				if got.Modifiers[i].Name != m.name || !slices.Equal(got.Modifiers[i].Args, m.args) {
					t.Errorf("modifier %d = %s %q, want %s %q", i, got.Modifiers[i].Name, got.Modifiers[i].Args, m.name, m.args)
				}
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			if g := got.Generic(); g != tt.gen {
				t.Errorf("Generic() = %q, want %q", g, tt.gen)
			}
			if w := got.Weight(); w != tt.weight {
				t.Errorf("Weight() = %d, want %d", w, tt.weight)
			}
			// Generic is what the plugin hands the avp template
			// function: it parses back to the same key and modifiers.
			back, err := Parse(got.Generic())
			if err != nil || back.Key != got.Key || back.Generic() != got.Generic() || back.Inline {
				t.Errorf("Generic() does not parse back: %+v, %v", back, err)
			}
		})
	}
}

// TestParseErrors: malformed placeholders (tenant text) are ErrSyntax.
func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"inline without key", "path:secret/data/db"},
		{"inline with empty path", "path:#password"},
		{"inline with empty key", "path:secret/data/db#"},
		{"inline with blank key", "path:secret/data/db#  #3"},
		{"empty modifier", "password |"},
		{"empty modifier between", "password | | base64encode"},
		{"unknown modifier", "password | rot13"},
		{"modifier name case", "password | Base64Encode"},
		{"argument to base64encode", "password | base64encode 2"},
		{"argument to sha256sum", "password | sha256sum x"},
		{"indent without width", "pem | indent"},
		{"indent with two widths", "pem | indent 2 4"},
		{"indent not a number", "pem | indent four"},
		{"indent negative", "pem | indent -1"},
		{"indent too wide", "pem | indent 257"},
		{"indent overflowing", "pem | indent 99999999999999999999"},
		{"jsonPath without expression", "config | jsonPath"},
		{"jsonPath unclosed", "config | jsonPath {.a"},
		{"jsonPath recursive descent", "config | jsonPath {..a}"},
		{"jsonPath filter", "config | jsonPath {.a[?(@.x)]}"},
		{"jsonPath range", "config | jsonPath {range .a[*]}{end}"},
		{"jsonPath union of fields", "config | jsonPath {['a','b']}"},
		{"jsonPath union of indexes", "config | jsonPath {.a[0,1]}"},
		{"jsonPath literal", "config | jsonPath {1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("err = %v, want ErrSyntax", err)
			}
		})
	}
}
