// Package avp is argocd-vault-plugin's placeholder language: the text
// between a placeholder's angle brackets (a key, or path:P#K[#V], then
// modifiers) and what the modifiers do to a value. It is shared by the
// Argo CD plugin, which replaces placeholders with values it reads
// (internal/cmp/placeholder), and by ExternalSecret templates, where the
// plugin's reference mode leaves the same expressions for the controller
// to apply to the values it fetches (the avp template function), so both
// give the same bytes.
//
// Everything here runs on tenant input: the expressions and the values
// are bounded by the caller's room (the size any intermediate value may
// take), checked before a modifier allocates, and jsonPath is limited to
// expressions whose cost is linear in the value.
package avp

import (
	"errors"
	"fmt"
	"strings"
)

// Errors a caller may branch on.
var (
	// ErrSyntax is wrapped for a malformed placeholder or modifier.
	ErrSyntax = errors.New("malformed placeholder")
	// ErrLimit is wrapped when a value would grow past the room given.
	ErrLimit = errors.New("placeholder limit exceeded")
)

// Expr is one placeholder's text split into its parts.
type Expr struct {
	// Inline is true for path:P#K[#V]; false for a generic <key>.
	Inline bool
	// Path is the secret's path (inline only).
	Path string
	// Key is the field of the secret.
	Key string
	// Version is the secret's version (inline only); empty for the
	// latest.
	Version string
	// Modifiers are applied in order.
	Modifiers []Modifier
}

// Parse splits a placeholder's text: "path:P#K[#V]" or a generic key,
// then "| modifier args" steps.
func Parse(inner string) (Expr, error) {
	fields := strings.Split(inner, "|")
	head := strings.TrimSpace(fields[0])
	var e Expr
	if rest, ok := strings.CutPrefix(head, "path:"); ok {
		path, keyVer, ok := strings.Cut(rest, "#")
		if !ok || path == "" {
			return e, fmt.Errorf("%w: an inline placeholder is path:<path>#<key>[#<version>]", ErrSyntax)
		}
		key, version, _ := strings.Cut(keyVer, "#")
		e = Expr{Inline: true, Path: path, Key: strings.TrimSpace(key), Version: version}
		if e.Key == "" {
			return e, fmt.Errorf("%w: path %s: empty key", ErrSyntax, path)
		}
	} else {
		e.Key = head
	}
	for _, stmt := range fields[1:] {
		m, err := parseModifier(stmt)
		if err != nil {
			return e, err
		}
		e.Modifiers = append(e.Modifiers, m)
	}
	return e, nil
}

// String names a placeholder by its path and key, never its value.
func (e Expr) String() string {
	if e.Inline {
		s := e.Path + "#" + e.Key
		if e.Version != "" {
			s += "#" + e.Version
		}
		return "<path:" + s + ">"
	}
	return "<" + e.Key + ">"
}

// Generic returns the expression's key and modifiers as a generic
// placeholder's text ("key | m1 | m2"), the form the avp template function
// takes.
func (e Expr) Generic() string {
	parts := []string{e.Key}
	for _, m := range e.Modifiers {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, " | ")
}

// Weight is how many passes over its value the expression's modifiers
// make, at most.
func (e Expr) Weight() int64 {
	var w int64 = 1
	for _, m := range e.Modifiers {
		w += m.Weight()
	}
	return w
}

// Apply applies the modifiers to v in order. No intermediate string may
// be longer than room bytes: a modifier that would write one fails with
// ErrLimit before it does.
func (e Expr) Apply(v any, room int64) (any, error) {
	var err error
	for _, m := range e.Modifiers {
		if v, err = m.Apply(v, room); err != nil {
			return nil, err
		}
	}
	return v, nil
}
