package esdata

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/template"
)

// rewriteMap applies a dataFrom entry's rewrite chain in order. Where two
// keys rewrite to the same one, the later in sorted order wins: ESO lets
// map order decide, which changes from one sync to the next. Transforms
// draw from budget.
func rewriteMap(budget *template.Budget, ops []esv1.ExternalSecretRewrite, in map[string][]byte) (map[string][]byte, error) {
	out := in
	for i, op := range ops {
		var err error
		switch {
		case op.Merge != nil:
			out, err = rewriteMerge(*op.Merge, out)
			if err != nil {
				return nil, fmt.Errorf("rewrite[%d] merge: %w", i, err)
			}
		case op.Regexp != nil:
			out, err = rewriteRegexp(*op.Regexp, out)
			if err != nil {
				return nil, fmt.Errorf("rewrite[%d] regexp: %w", i, err)
			}
		case op.Transform != nil:
			out, err = rewriteTransform(budget, *op.Transform, out)
			if err != nil {
				return nil, fmt.Errorf("rewrite[%d] transform: %w", i, err)
			}
		}
	}
	return out, nil
}

// rewriteRegexp replaces every match of source in each key by target, with
// $1 and ${name} expanded (regexp.ReplaceAllString).
func rewriteRegexp(op esv1.ExternalSecretRewriteRegexp, in map[string][]byte) (map[string][]byte, error) {
	re, err := regexp.Compile(op.Source)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		out[re.ReplaceAllString(k, op.Target)] = in[k]
	}
	return out, nil
}

// transformEngine renders rewrite transforms. ESO parses them without
// missingkey=error, so {{ .other }} renders "<no value>" there too.
var transformEngine = sync.OnceValue(func() *template.Engine {
	return template.ESO().Option("missingkey=default")
})

// rewriteTransform renders template with .value set to each key; the
// output is the new key.
func rewriteTransform(budget *template.Budget, op esv1.ExternalSecretRewriteTransform, in map[string][]byte) (map[string][]byte, error) {
	t, err := transformEngine().Parse(budget, "transform", op.Template)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		nk, err := t.Execute(map[string]string{"value": k})
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[string(nk)] = in[k]
	}
	return out, nil
}

// rewriteMerge merges the values, each a JSON object, into one: keys not
// in priority first, in sorted order, then those in priority, in order, so
// the last priority key wins. A property found in two values is a conflict,
// an error unless conflictPolicy is Ignore, as in ESO, whatever the
// priority. Strategy Extract writes each merged property as a key; JSON
// writes the merged object to the key into, next to the input keys.
func rewriteMerge(op esv1.ExternalSecretRewriteMerge, in map[string][]byte) (map[string][]byte, error) {
	var order []string
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if !slices.Contains(op.Priority, k) {
			order = append(order, k)
		}
	}
	order = append(order, op.Priority...)

	merged := map[string]any{}
	var conflicts []string
	for _, k := range order {
		v, ok := in[k]
		if !ok {
			if op.PriorityPolicy == esv1.ExternalSecretRewriteMergePriorityPolicyIgnoreNotFound {
				continue
			}
			return nil, fmt.Errorf("priority key %q not found", k)
		}
		var obj map[string]any
		if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("value of key %q is not a JSON object", k)
		}
		for p, pv := range obj {
			if _, dup := merged[p]; dup {
				conflicts = append(conflicts, p)
			}
			merged[p] = pv
		}
	}
	if op.ConflictPolicy != esv1.ExternalSecretRewriteMergeConflictPolicyIgnore && len(conflicts) > 0 {
		slices.Sort(conflicts)
		return nil, fmt.Errorf("conflicting keys %s (conflictPolicy Error)", strings.Join(slices.Compact(conflicts), ", "))
	}

	switch cmp.Or(op.Strategy, esv1.DefaultRewriteMergeStrategy) {
	case esv1.ExternalSecretRewriteMergeStrategyJSON:
		if op.Into == "" {
			return nil, errors.New("strategy JSON needs into")
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(merged); err != nil {
			return nil, errors.New("cannot encode the merged object")
		}
		out := maps.Clone(in)
		out[op.Into] = bytes.TrimRight(buf.Bytes(), "\n")
		return out, nil
	default:
		out := make(map[string][]byte, len(merged))
		for p, pv := range merged {
			b, err := jsonValueBytes(pv)
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", p, err)
			}
			out[p] = b
		}
		return out, nil
	}
}

// jsonValueBytes writes one decoded JSON value as ESO does: strings as
// they are, numbers in their shortest decimal form, booleans as
// true/false, null as empty, objects and arrays as JSON.
func jsonValueBytes(v any) ([]byte, error) {
	switch t := v.(type) {
	case string:
		return []byte(t), nil
	case float64:
		return []byte(strconv.FormatFloat(t, 'f', -1, 64)), nil
	case bool:
		return []byte(strconv.FormatBool(t)), nil
	case nil:
		return nil, nil
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return nil, errors.New("cannot encode value")
		}
		return b, nil
	}
}
