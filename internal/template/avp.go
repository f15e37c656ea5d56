package template

import (
	"errors"
	"fmt"

	"github.com/sealsync/sealsync/internal/avp"
)

// avp and avpHas are sealsync's own, not ESO's. The Argo CD plugin's
// reference mode (internal/cmp) turns a Secret of argocd-vault-plugin
// placeholders into an ExternalSecret that fetches each secret whole
// (JSON) and templates its fields: {{ avp (index . "avp-0") "password |
// base64encode" }}. Both modes apply the placeholder through package
// avp, so the controller writes the bytes the plugin's resolve mode
// would have written.

// quotedArgs are the functions that must be called with a string literal
// at an argument's position (counted from 1, after the function's name),
// because their errors quote it, and it must therefore be template text,
// never data (see inspect): avp's name the expression's key.
var quotedArgs = map[string]int{"avp": 2}

// sourceError is an error of this package's functions that holds only
// template text (a quoted argument, see quotedArgs) and fixed words,
// never a value: unlike other functions' errors, its text is kept in
// what a failed render reports (execErrorLocation).
type sourceError struct{ msg string }

func (e *sourceError) Error() string { return e.msg }

func sourceErrorf(format string, args ...any) error {
	return &sourceError{msg: fmt.Sprintf(format, args...)}
}

// avpFunc is avp with a budget of its own; templates call it bound to
// their render's (boundAVP).
func avpFunc(secret, expr string) (string, error) {
	return avpApply(NewBudget(), secret, expr)
}

func boundAVP(b *Budget, fn any) any {
	if _, ok := fn.(func(string, string) (string, error)); !ok {
		return nil
	}
	return func(secret, expr string) (string, error) { return avpApply(b, secret, expr) }
}

// The costs of avp beyond passes over bytesPerStep bytes, measured on a
// busy two-core machine (a step is about a microsecond).
const (
	// avpExprWeight is the steps per byte of an expression, charged
	// before it is parsed: jsonpath parses about a byte a microsecond,
	// and avp.Parse parses a jsonPath twice.
	avpExprWeight = 4
	// avpYAMLWeight is the passes yamlParse weighs: YAML decodes at
	// about a byte a microsecond, a step a byte.
	avpYAMLWeight = bytesPerStep
)

// avpApply returns what argocd-vault-plugin writes into a Secret for the
// placeholder <expr> when the path's secret, read whole, is secret (a
// JSON object of fields): the field expr names, through expr's
// modifiers, as avp.Stringify writes it.
//
// Charged before each part runs: parsing the expression (avpExprWeight
// steps a byte, so a long one is refused before it is parsed) and
// decoding the secret (a pass over it); then a pass over the field's
// value per modifier (Expr.Weight: jsonPath's nodes count, yamlParse
// weighs avpYAMLWeight). A value that grows past the field's size
// (base64encode, indent) pays for the passes over the difference before
// the next modifier reads it: a chain that grows a small value to a
// megabyte and hashes it down again (indent 256 | sha256sum) is charged
// the work it does, though its result is short. No value may grow past
// what the render may still write.
func avpApply(b *Budget, secret, expr string) (string, error) {
	if err := b.fits(int64(len(secret)) + int64(len(expr))); err != nil {
		return "", err
	}
	if err := b.step(1 + int64(len(expr))*avpExprWeight + int64(len(secret))/bytesPerStep); err != nil {
		return "", err
	}
	e, err := avp.Parse(expr)
	if err != nil {
		// Parse errors quote the expression, which is template text.
		return "", &sourceError{msg: err.Error()}
	}
	if e.Inline {
		return "", sourceErrorf("avp takes a key and modifiers, not a path: placeholder %s", e)
	}
	fields, err := avp.DecodeSecret([]byte(secret))
	if err != nil {
		return "", &sourceError{msg: err.Error()} // fixed words
	}
	v := fields[e.Key]
	if v == nil {
		// AVP takes a JSON null for a missing key, as avpHas does.
		return "", sourceErrorf("the secret has no key %q", e.Key)
	}
	size := valueSize(v)
	var passes int64
	for _, m := range e.Modifiers {
		passes += modifierWeight(m)
	}
	if err := b.step(size * passes / bytesPerStep); err != nil {
		return "", err
	}
	room := MaxRenderSize - b.Size()
	for _, m := range e.Modifiers {
		if grown := valueSize(v) - size; grown > 0 {
			if err := b.step(grown * modifierWeight(m) / bytesPerStep); err != nil {
				return "", err
			}
		}
		if v, err = m.Apply(v, room); err != nil {
			if errors.Is(err, avp.ErrLimit) {
				return "", fmt.Errorf("%w: placeholder %s: %s", ErrOutputTooLarge, e, err)
			}
			// The modifiers' errors name the modifier, its arguments
			// and the value's type, never the value.
			return "", sourceErrorf("placeholder %s: %s", e, err)
		}
	}
	if _, ok := v.(string); !ok && valueSize(v) > room {
		// Stringify writes JSON, a small multiple of this at most.
		return "", fmt.Errorf("%w: placeholder %s", ErrOutputTooLarge, e)
	}
	r := avp.Stringify(v)
	return r, afterArg(b, r)
}

// modifierWeight is the passes over its input m makes.
func modifierWeight(m avp.Modifier) int64 {
	w := m.Weight()
	if m.Name == "yamlParse" {
		w *= avpYAMLWeight
	}
	return w
}

// avpHas reports whether secret, a JSON object of fields, has a field key
// that is not null: whether {{ avp secret key }} finds a value. The
// plugin's reference mode writes the keys of avp.kubernetes.io/
// remove-missing Secrets under it. The wrapper of bind charges it.
func avpHas(secret, key string) (bool, error) {
	fields, err := avp.DecodeSecret([]byte(secret))
	if err != nil {
		return false, &sourceError{msg: err.Error()} // fixed words
	}
	return fields[key] != nil, nil
}

// valueSize measures a modifier's value, up to just past MaxRenderSize.
func valueSize(v any) int64 {
	if s, ok := v.(string); ok {
		return int64(len(s))
	}
	return sizeOf(v, MaxRenderSize)
}
