package placeholder

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sealsync/sealsync/internal/avp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// substituter replaces placeholders with the values read.
type substituter struct {
	data   map[Ref]map[string]any
	budget int64
}

// object replaces the placeholders of o and returns how many it replaced.
func (s *substituter) object(o *unstructured.Unstructured) (int, error) {
	d, skip, err := docOf(o)
	if err != nil || skip {
		return 0, err
	}
	w := &objectWalk{s: s, d: d}
	if ref, ok := d.pathRef(); ok {
		w.generic = s.data[ref]
	}
	if err := w.mapping(o.Object, ""); err != nil {
		return 0, err
	}
	return w.replaced, nil
}

// objectWalk is the substitution of one object.
type objectWalk struct {
	s        *substituter
	d        *objectDoc
	generic  map[string]any // the secret the path annotation names
	replaced int
}

func (w *objectWalk) mapping(m map[string]any, field string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f := join(field, k)
		switch v := m[k].(type) {
		case map[string]any:
			if err := w.mapping(v, f); err != nil {
				return err
			}
		case []any:
			if err := w.list(v, f); err != nil {
				return err
			}
		case string:
			out, err := w.value(v, f)
			switch {
			case errors.Is(err, ErrMissing) && w.d.removeMissing:
				delete(m, k)
			case err != nil:
				return err
			default:
				m[k] = out
			}
		}
	}
	return nil
}

func (w *objectWalk) list(l []any, field string) error {
	for i, x := range l {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch v := x.(type) {
		case map[string]any:
			if err := w.mapping(v, f); err != nil {
				return err
			}
		case []any:
			if err := w.list(v, f); err != nil {
				return err
			}
		case string:
			// As in AVP, remove-missing drops map keys, not list items.
			out, err := w.value(v, f)
			if err != nil {
				return err
			}
			l[i] = out
		}
	}
	return nil
}

// value replaces the placeholders of one string value.
func (w *objectWalk) value(v, field string) (any, error) {
	stringOnly := w.d.kind == "Secret" || w.d.kind == "ConfigMap"
	if w.d.kind == "Secret" {
		if dec, ok := decodedPlaceholder(v); ok {
			out, err := w.replace(dec, field)
			if err != nil {
				return nil, err
			}
			s := stringify(out)
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		}
	}
	out, err := w.replace(v, field)
	if err != nil {
		return nil, err
	}
	if stringOnly {
		return stringify(out), nil
	}
	return out, nil
}

// replace replaces every placeholder of v. A placeholder whose value
// (after its modifiers) is not a string replaces the whole value, as in
// AVP (replicas: <replicas>).
func (w *objectWalk) replace(v, field string) (any, error) {
	var nonString any
	var firstErr error
	out := w.d.regex().ReplaceAllStringFunc(v, func(match string) string {
		if firstErr != nil {
			return match
		}
		val, err := w.resolve(strings.Trim(match, "<>"), field)
		if err != nil {
			firstErr = err
			return match
		}
		w.replaced++
		if str, ok := val.(string); ok {
			if w.s.budget -= int64(len(str)); w.s.budget < 0 {
				firstErr = fmt.Errorf("%s: %s: %w: substituted values too large", w.d, field, ErrLimit)
				return match
			}
			return str
		}
		if w.s.budget -= int64(len(stringify(val))); w.s.budget < 0 {
			firstErr = fmt.Errorf("%s: %s: %w: substituted values too large", w.d, field, ErrLimit)
		}
		nonString = val
		return match
	})
	if firstErr != nil {
		return nil, firstErr
	}
	if nonString != nil {
		return nonString, nil
	}
	return out, nil
}

// resolve returns the value of one placeholder, its modifiers applied.
func (w *objectWalk) resolve(inner, field string) (any, error) {
	p, err := avp.Parse(inner)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", w.d, field, err)
	}
	var val any
	if p.Inline {
		ref := Ref{Path: p.Path, Version: p.Version, KVVersion: w.d.annotations[KVVersionAnnotation]}
		val = w.s.data[ref][p.Key]
	} else {
		val = w.generic[p.Key]
	}
	if val == nil {
		return nil, fmt.Errorf("%s: %s: placeholder %s: %w", w.d, field, p, ErrMissing)
	}
	// A chain of modifiers (indent after indent) may grow a value before
	// it is written: stop it at the budget.
	if val, err = p.Apply(val, w.s.budget); err != nil {
		return nil, fmt.Errorf("%s: %s: placeholder %s: %w", w.d, field, p, err)
	}
	return val, nil
}

// stringify writes a value as AVP writes it into a Secret or a ConfigMap.
func stringify(v any) string { return avp.Stringify(v) }
