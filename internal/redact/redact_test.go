package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestQuotes: the values are secrets a program holds (decrypted from a
// tenant's SOPS file or read from a store for a tenant's placeholder);
// the messages are errors of libraries that may quote their input.
func TestQuotes(t *testing.T) {
	var s Values
	s.Add([]byte("s3cr3t-Passw0rd-Q7xB2m"), []byte("pin7"), []byte("no"))
	for _, tc := range []struct {
		name, msg string
		want      bool
	}{
		{name: "whole value", msg: "yaml: line 3: s3cr3t-Passw0rd-Q7xB2m is not a map", want: true},
		{name: "eight bytes of a value", msg: `unexpected "Passw0rd"`, want: true},
		{name: "base64 of a value", msg: "data: " + base64.StdEncoding.EncodeToString([]byte("s3cr3t-Passw0rd-Q7xB2m")), want: true},
		{name: "short value whole", msg: "bad pin7 here", want: true},
		{name: "seven bytes of a long value", msg: "s3cr3t- is a prefix", want: false},
		{name: "value under four bytes is never looked for", msg: "no such file", want: false},
		{name: "message without values", msg: "kustomization.yaml: unknown field", want: false},
		{name: "value past the checked length", msg: strings.Repeat("x", MaxChecked) + "s3cr3t-Passw0rd-Q7xB2m", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Quotes(tc.msg); got != tc.want {
				t.Errorf("Quotes = %v, want %v", got, tc.want)
			}
		})
	}
	var empty *Values
	if empty.Quotes("anything at all") {
		t.Error("a nil set quotes")
	}
}
