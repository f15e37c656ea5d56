package placeholder

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sealsync/sealsync/internal/avp"
	"github.com/sealsync/sealsync/internal/redact"
)

// The annotations AVP reads, with AVP's names.
const (
	PathAnnotation          = "avp.kubernetes.io/path"
	IgnoreAnnotation        = "avp.kubernetes.io/ignore"
	KVVersionAnnotation     = "avp.kubernetes.io/kv-version"
	SecretVersionAnnotation = "avp.kubernetes.io/secret-version"
	RemoveMissingAnnotation = "avp.kubernetes.io/remove-missing"
)

// Defaults of [Limits].
const (
	// DefaultMaxPlaceholders is how many placeholders one render may hold.
	DefaultMaxPlaceholders = 20_000
	// DefaultMaxRefs is how many distinct secrets one render may read.
	DefaultMaxRefs = 1_000
	// DefaultMaxParallel is how many reads run at once.
	DefaultMaxParallel = 8
	// DefaultMaxBytes is how many bytes substitution may write in all.
	DefaultMaxBytes = 64 << 20
)

// Limits bound what one [Resolve] may do. The operator sets them; zero
// fields take the defaults.
type Limits struct {
	// MaxPlaceholders is how many placeholders the objects may hold.
	MaxPlaceholders int
	// MaxRefs is how many distinct secrets they may name.
	MaxRefs int
	// MaxParallel is how many reads run at once.
	MaxParallel int
	// MaxBytes is how many bytes the replaced values may add up to.
	MaxBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxPlaceholders <= 0 {
		l.MaxPlaceholders = DefaultMaxPlaceholders
	}
	if l.MaxRefs <= 0 {
		l.MaxRefs = DefaultMaxRefs
	}
	if l.MaxParallel <= 0 {
		l.MaxParallel = DefaultMaxParallel
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// Ref names one secret to read whole.
type Ref struct {
	// Path is the secret's path, as the placeholder or the path
	// annotation writes it (secret/data/x).
	Path string
	// Version is the version to read; empty for the latest.
	Version string
	// KVVersion is the key-value layout the object asks for ("1" or
	// "2"); empty for the store's own.
	KVVersion string
}

func (r Ref) String() string {
	s := r.Path
	if r.Version != "" {
		s += " (version " + r.Version + ")"
	}
	if r.KVVersion != "" {
		s += " (kv-version " + r.KVVersion + ")"
	}
	return s
}

// Reader reads secrets whole, as a map from field keys to values: strings,
// json.Number, booleans, maps and lists as JSON decodes them. It must be
// safe for concurrent use.
type Reader interface {
	Read(ctx context.Context, ref Ref) (map[string]any, error)
}

// Errors a caller may branch on.
var (
	// ErrLimit is wrapped when the objects exceed one of the [Limits].
	ErrLimit = avp.ErrLimit
	// ErrMissing is wrapped when a secret lacks a placeholder's key.
	ErrMissing = errors.New("the secret has no such key")
	// ErrSyntax is wrapped for a malformed placeholder, modifier or
	// annotation.
	ErrSyntax = avp.ErrSyntax
)

var (
	// genericPlaceholder and specificPathPlaceholder are AVP's own
	// expressions (ungreedy: the shortest <...> matches).
	genericPlaceholder      = regexp.MustCompile(`(?mU)<(.*)>`)
	specificPathPlaceholder = regexp.MustCompile(`(?mU)<path:([^#]+)#([^#]+)(?:#([^#]+))?>`)
)

// Result says what [Resolve] did.
type Result struct {
	// Replaced counts the placeholders replaced in each object, by the
	// index of the object.
	Replaced []int
	// Reads is how many secrets were read.
	Reads int
}

// Resolve replaces the placeholders of objs in place with values r reads,
// recording every value read in values (which may be nil). It reads each
// distinct secret once, several at a time, before substituting anything;
// with no placeholder and no path annotation it reads nothing.
func Resolve(ctx context.Context, objs []*unstructured.Unstructured, r Reader, lim Limits, values *redact.Values) (Result, error) {
	lim = lim.withDefaults()
	res := Result{Replaced: make([]int, len(objs))}
	// Pass 1: what to read.
	var want []Ref
	seen := map[Ref]bool{}
	count := 0
	for _, o := range objs {
		err := walkObject(o, func(d *objectDoc, ph placeholderText) error {
			if count++; count > lim.MaxPlaceholders {
				return fmt.Errorf("%w: more than %d placeholders", ErrLimit, lim.MaxPlaceholders)
			}
			ref, inline, err := d.refOf(ph)
			if err != nil || !inline {
				return err
			}
			if !seen[ref] {
				seen[ref] = true
				want = append(want, ref)
			}
			return nil
		}, func(d *objectDoc) {
			if ref, ok := d.pathRef(); ok && !seen[ref] {
				seen[ref] = true
				want = append(want, ref)
			}
		})
		if err != nil {
			return res, err
		}
	}
	if len(want) > lim.MaxRefs {
		return res, fmt.Errorf("%w: more than %d distinct secrets", ErrLimit, lim.MaxRefs)
	}
	// Pass 2: read.
	data, err := readAll(ctx, r, want, lim.MaxParallel, values)
	if err != nil {
		return res, err
	}
	res.Reads = len(want)
	// Pass 3: substitute.
	s := &substituter{data: data, budget: lim.MaxBytes}
	for i, o := range objs {
		n, err := s.object(o)
		if err != nil {
			return res, err
		}
		res.Replaced[i] = n
	}
	return res, nil
}

// Count returns how many placeholders objs hold, and whether any object
// carries the path annotation, without reading anything: a caller needs a
// store only when either is true.
func Count(objs []*unstructured.Unstructured) (n int, annotated bool, err error) {
	for _, o := range objs {
		err := walkObject(o, func(d *objectDoc, _ placeholderText) error {
			n++
			return nil
		}, func(d *objectDoc) {
			if _, ok := d.pathRef(); ok {
				annotated = true
			}
		})
		if err != nil {
			return 0, false, err
		}
	}
	return n, annotated, nil
}

// readAll reads every ref, at most parallel at once, and returns the
// results by ref. The first error (in the order of refs) is returned.
func readAll(ctx context.Context, r Reader, refs []Ref, parallel int, values *redact.Values) (map[Ref]map[string]any, error) {
	out := make([]map[string]any, len(refs))
	errs := make([]error, len(refs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, ref := range refs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := r.Read(ctx, ref)
			if err != nil {
				errs[i] = fmt.Errorf("read %s: %w", ref, err)
				cancel()
				return
			}
			record(values, m)
			out[i] = m
		}()
	}
	wg.Wait()
	// The first failure in order, but not one caused by another's
	// cancellation.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	m := make(map[Ref]map[string]any, len(refs))
	for i, ref := range refs {
		m[ref] = out[i]
	}
	return m, nil
}

// record adds the leaves of a secret to values.
func record(values *redact.Values, v any) {
	if values == nil {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			record(values, x)
		}
	case []any:
		for _, x := range v {
			record(values, x)
		}
	case string:
		values.Add([]byte(v))
	case json.Number:
		values.Add([]byte(v))
	}
}

// objectDoc is one object being walked, with the annotations that govern
// its placeholders.
type objectDoc struct {
	kind, name    string
	annotations   map[string]string
	generic       bool // the path annotation is present
	removeMissing bool
}

func (d *objectDoc) String() string { return d.kind + " " + d.name }

// pathRef is the secret the path annotation names.
func (d *objectDoc) pathRef() (Ref, bool) {
	p, ok := d.annotations[PathAnnotation]
	if !ok {
		return Ref{}, false
	}
	return Ref{Path: p, Version: d.annotations[SecretVersionAnnotation], KVVersion: d.annotations[KVVersionAnnotation]}, true
}

// placeholderText is one placeholder found: its text between the angle
// brackets, and where.
type placeholderText struct {
	inner string
	field string
}

// refOf returns the secret a placeholder reads, and whether it is inline.
func (d *objectDoc) refOf(ph placeholderText) (Ref, bool, error) {
	p, err := avp.Parse(ph.inner)
	if err != nil {
		return Ref{}, false, fmt.Errorf("%s: %s: %w", d, ph.field, err)
	}
	if !p.Inline {
		return Ref{}, false, nil
	}
	return Ref{Path: p.Path, Version: p.Version, KVVersion: d.annotations[KVVersionAnnotation]}, true, nil
}

// walkObject calls fn on every placeholder of o, in a deterministic
// order, and onObject once per object that is not ignored.
func walkObject(o *unstructured.Unstructured, fn func(*objectDoc, placeholderText) error, onObject func(*objectDoc)) error {
	d, skip, err := docOf(o)
	if err != nil || skip {
		return err
	}
	onObject(d)
	return walkValue(o.Object, "", func(field, s string) error {
		for _, v := range candidates(d, s) {
			for _, m := range d.regex().FindAllStringSubmatch(v, -1) {
				if err := fn(d, placeholderText{inner: strings.Trim(m[0], "<>"), field: field}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// candidates are the strings of a value that may hold placeholders: the
// value, or in a Secret its base64 decoding when that holds one.
func candidates(d *objectDoc, s string) []string {
	if d.kind == "Secret" {
		if dec, ok := decodedPlaceholder(s); ok {
			return []string{dec}
		}
	}
	return []string{s}
}

// decodedPlaceholder returns s base64-decoded if the decoding holds
// something in angle brackets, as AVP tests it.
func decodedPlaceholder(s string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !genericPlaceholder.Match(b) {
		return "", false
	}
	return string(b), true
}

func (d *objectDoc) regex() *regexp.Regexp {
	if d.generic {
		return genericPlaceholder
	}
	return specificPathPlaceholder
}

// docOf reads the annotations of o; skip is true for an ignored object.
func docOf(o *unstructured.Unstructured) (*objectDoc, bool, error) {
	a := o.GetAnnotations()
	d := &objectDoc{kind: o.GetKind(), name: ObjectName(o), annotations: a}
	if v, ok := a[IgnoreAnnotation]; ok {
		if ignore, _ := strconv.ParseBool(v); ignore {
			return nil, true, nil
		}
	}
	_, d.generic = a[PathAnnotation]
	if v, ok := a[RemoveMissingAnnotation]; ok {
		d.removeMissing, _ = strconv.ParseBool(v)
		if d.removeMissing && d.kind != "Secret" && d.kind != "ConfigMap" {
			return nil, false, fmt.Errorf("%s: %w: %s applies to Secrets and ConfigMaps only", d, ErrSyntax, RemoveMissingAnnotation)
		}
	}
	if v, ok := a[KVVersionAnnotation]; ok && v != "1" && v != "2" {
		return nil, false, fmt.Errorf("%s: %w: %s must be 1 or 2", d, ErrSyntax, KVVersionAnnotation)
	}
	return d, false, nil
}

// ObjectName names o in messages: namespace/name, or name.
func ObjectName(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return ns + "/" + o.GetName()
	}
	return o.GetName()
}

// walkValue calls fn on every string of v (map values and list items,
// never map keys), in key order.
func walkValue(v any, field string, fn func(field, s string) error) error {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := walkValue(v[k], join(field, k), fn); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			if err := walkValue(x, fmt.Sprintf("%s[%d]", field, i), fn); err != nil {
				return err
			}
		}
	case string:
		return fn(field, v)
	}
	return nil
}

func join(field, k string) string {
	if field == "" {
		return k
	}
	return field + "." + k
}
