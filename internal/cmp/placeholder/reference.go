package placeholder

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/avp"
)

// Annotations of reference mode.
const (
	// RefreshIntervalAnnotation on a Secret sets the refreshInterval of
	// the ExternalSecret it becomes (a Go duration: 15m, 1h).
	RefreshIntervalAnnotation = "sealsync.dev/refresh-interval"
	// RenderedAsAnnotation on an object the plugin emitted in place of a
	// Secret says which path produced it: RenderedAsReference or
	// RenderedAsSealed.
	RenderedAsAnnotation = "sealsync.dev/rendered-as"
	// RenderedAsReference marks an ExternalSecret made from a Secret's
	// placeholders.
	RenderedAsReference = "reference"
	// RenderedAsSealed marks a SealedSecret sealed from a Secret.
	RenderedAsSealed = "sealed"
)

// avpAnnotationPrefix marks argocd-vault-plugin's annotations, which are
// instructions to the plugin and do not reach the Secret.
const avpAnnotationPrefix = "avp.kubernetes.io/"

// ArgoAnnotationPrefix marks the annotations Argo CD reads on the objects
// it syncs (sync waves, hooks, sync and compare options): on an object
// made in place of a Secret (an ExternalSecret, a SealedSecret) they must
// be on that object, which is what Argo CD syncs.
const ArgoAnnotationPrefix = "argocd.argoproj.io/"

// Target is where the controller reads a path's secret from.
type Target struct {
	// Store is the SecretStore or ClusterSecretStore.
	Store esv1.SecretStoreRef
	// Key is the store's key of the secret.
	Key string
	// RefreshInterval is the operator's default for the store; zero for
	// none.
	RefreshInterval time.Duration
}

// ReferenceOptions configure [ToExternalSecret]. They are the operator's
// and Argo CD's, never the object's.
type ReferenceOptions struct {
	// Map returns where a secret the object names is read from; an error
	// for a path the project may not reference.
	Map func(ref Ref) (Target, error)
	// Namespace is the ExternalSecret's namespace when the Secret names
	// none.
	Namespace string
	// RefreshInterval is the default when neither the object nor the
	// store's mapping sets one.
	RefreshInterval time.Duration
}

// Info is what a walk of one object finds, without reading anything.
type Info struct {
	// Placeholders is how many placeholders the object holds.
	Placeholders int
	// Field is where the first one is.
	Field string
	// Refs are the distinct secrets they name, in order of appearance
	// (the path annotation's first).
	Refs []Ref
}

// Inspect returns the placeholders of o. An ignored object has none.
func Inspect(o *unstructured.Unstructured) (Info, error) {
	var info Info
	var inline []Ref
	var pathRef *Ref
	generic := false
	err := walkObject(o, func(d *objectDoc, ph placeholderText) error {
		if info.Placeholders == 0 {
			info.Field = ph.field
		}
		info.Placeholders++
		ref, isInline, err := d.refOf(ph)
		if err != nil {
			return err
		}
		if isInline {
			inline = append(inline, ref)
		} else {
			generic = true
		}
		return nil
	}, func(d *objectDoc) {
		if ref, ok := d.pathRef(); ok {
			pathRef = &ref
		}
	})
	// The path annotation counts only if a generic placeholder uses it.
	if generic && pathRef != nil {
		inline = append([]Ref{*pathRef}, inline...)
	}
	seen := map[Ref]bool{}
	for _, r := range inline {
		if !seen[r] {
			seen[r] = true
			info.Refs = append(info.Refs, r)
		}
	}
	return info, err
}

// Secret keys of the data entries that hold whole secrets in templates.
const wholeKeyPrefix = "avp-"

// propertyKey matches keys a remoteRef property names literally in every
// provider (no gjson path syntax).
var propertyKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ToExternalSecret returns the ExternalSecret that makes the Secret o
// from the secrets its placeholders name, for the controller to read and
// refresh: same name, namespace, type, labels and annotations (minus
// argocd-vault-plugin's), the data that holds no placeholder unchanged,
// and every placeholder a remoteRef. A value that is one placeholder
// becomes a data entry with a property; anything else (text around
// placeholders, modifiers, literal data, remove-missing) is a template
// that calls the avp function on the whole secret, which applies
// argocd-vault-plugin's modifiers as resolving would. Placeholders
// outside data and stringData are refused.
func ToExternalSecret(o *unstructured.Unstructured, opts ReferenceOptions) (*unstructured.Unstructured, error) {
	d, skip, err := docOf(o)
	if err != nil {
		return nil, err
	}
	if skip {
		return nil, fmt.Errorf("%s is ignored (%s): it has nothing to reference", ObjectName(o), IgnoreAnnotation)
	}
	// Placeholders anywhere but data and stringData: the ExternalSecret
	// cannot make them.
	rest := o.DeepCopy()
	delete(rest.Object, "data")
	delete(rest.Object, "stringData")
	if info, err := Inspect(rest); err != nil {
		return nil, err
	} else if info.Placeholders > 0 {
		return nil, fmt.Errorf("%s: %s: reference mode makes only data and stringData from placeholders", d, info.Field)
	}

	// The Secret's metadata, type and immutability; data is read apart,
	// since placeholders in it are not base64.
	var s corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rest.Object, &s); err != nil {
		// Conversion errors name the field and the type expected; the
		// caller withholds one that would quote a value.
		return nil, fmt.Errorf("%s: not a valid Secret: %w", d, err)
	}
	b := &esBuilder{d: d, opts: opts, keys: map[string]*keyValue{}, refs: map[Ref]int{}, targets: map[Ref]Target{}}
	if err := b.values(o); err != nil {
		return nil, err
	}
	return b.build(&s)
}

// segment is a literal text or a placeholder of a value.
type segment struct {
	text string
	expr *avp.Expr
	ref  Ref
}

// keyValue is one key of the Secret as the ExternalSecret makes it.
type keyValue struct {
	segments []segment
	// literal is the value's bytes when it holds no placeholder.
	literal []byte
}

type esBuilder struct {
	d    *objectDoc
	opts ReferenceOptions
	keys map[string]*keyValue
	// refs numbers the secrets read whole, in order of first use.
	refs     map[Ref]int
	refOrder []Ref
	targets  map[Ref]Target
}

// values reads data and stringData into keys; stringData wins, as the
// API server has it.
func (b *esBuilder) values(o *unstructured.Unstructured) error {
	data, _, _ := unstructured.NestedMap(o.Object, "data")
	for _, k := range slices.Sorted(maps.Keys(data)) {
		str, ok := data[k].(string)
		if !ok {
			if data[k] == nil {
				continue
			}
			return fmt.Errorf("%s: data.%s is not a string", b.d, k)
		}
		field := "data." + k
		if dec, ok := decodedPlaceholder(str); ok {
			kv, err := b.parse(dec, field)
			if err != nil {
				return err
			}
			b.keys[k] = kv
			continue
		}
		kv, err := b.parse(str, field)
		if err != nil {
			return err
		}
		if kv.segments == nil {
			raw, err := base64.StdEncoding.DecodeString(str)
			if err != nil {
				return fmt.Errorf("%s: %s is not base64", b.d, field)
			}
			kv.literal = raw
		} else if len(kv.segments) != 1 || kv.segments[0].expr == nil {
			// Resolving checks the base64 of the whole value once
			// substituted; a template cannot refuse it, it would write
			// the decoder's error text.
			return fmt.Errorf("%s: %s: text around a placeholder in data is base64 only once substituted, which reference mode cannot check: write the value in stringData", b.d, field)
		} else {
			kv = decoded(kv)
		}
		b.keys[k] = kv
	}
	stringData, _, _ := unstructured.NestedMap(o.Object, "stringData")
	for _, k := range slices.Sorted(maps.Keys(stringData)) {
		str, ok := stringData[k].(string)
		if !ok {
			if stringData[k] == nil {
				continue
			}
			return fmt.Errorf("%s: stringData.%s is not a string", b.d, k)
		}
		kv, err := b.parse(str, "stringData."+k)
		if err != nil {
			return err
		}
		if kv.segments == nil {
			kv.literal = []byte(str)
		}
		b.keys[k] = kv
	}
	return nil
}

// parse splits a value into literal text and placeholders; a value with
// none has nil segments.
func (b *esBuilder) parse(v, field string) (*keyValue, error) {
	kv := &keyValue{}
	re := b.d.regex()
	last := 0
	for _, m := range re.FindAllStringIndex(v, -1) {
		e, err := avp.Parse(strings.Trim(v[m[0]:m[1]], "<>"))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.d, field, err)
		}
		var ref Ref
		if e.Inline {
			ref = Ref{Path: e.Path, Version: e.Version, KVVersion: b.d.annotations[KVVersionAnnotation]}
		} else {
			var ok bool
			if ref, ok = b.d.pathRef(); !ok {
				return nil, fmt.Errorf("%s: %s: placeholder %s names no path (%s)", b.d, field, e, PathAnnotation)
			}
		}
		if err := b.target(ref); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.d, field, err)
		}
		if m[0] > last {
			kv.segments = append(kv.segments, segment{text: v[last:m[0]]})
		}
		kv.segments = append(kv.segments, segment{expr: &e, ref: ref})
		last = m[1]
	}
	if kv.segments != nil && last < len(v) {
		kv.segments = append(kv.segments, segment{text: v[last:]})
	}
	if len(kv.segments) > 1 {
		for _, sg := range kv.segments {
			if sg.expr == nil || len(sg.expr.Modifiers) == 0 {
				continue
			}
			if final := sg.expr.Modifiers[len(sg.expr.Modifiers)-1].Name; final == "jsonParse" || final == "yamlParse" {
				return nil, fmt.Errorf("%s: %s: placeholder %s ends in %s beside other text or placeholders: argocd-vault-plugin writes a parsed value that is not a string in place of the whole value, and reference mode cannot tell what the value will parse to; end it with jsonPath, or give it a key of its own", b.d, field, sg.expr, final)
			}
		}
	}
	return kv, nil
}

// target maps ref to its store once.
func (b *esBuilder) target(ref Ref) error {
	if _, ok := b.targets[ref]; ok {
		return nil
	}
	t, err := b.opts.Map(ref)
	if err != nil {
		return err
	}
	b.targets[ref] = t
	return nil
}

// simple reports whether every key is one placeholder without modifiers
// on a key a property names literally: the ExternalSecret then needs no
// template data.
func (b *esBuilder) simple() bool {
	if b.d.removeMissing || len(b.keys) == 0 {
		return false
	}
	for _, kv := range b.keys {
		if len(kv.segments) != 1 || kv.segments[0].expr == nil {
			return false
		}
		if e := kv.segments[0].expr; len(e.Modifiers) > 0 || !propertyKey.MatchString(e.Key) {
			return false
		}
	}
	return true
}

func (b *esBuilder) build(s *corev1.Secret) (*unstructured.Unstructured, error) {
	es := &esv1.ExternalSecret{
		TypeMeta: metav1.TypeMeta{APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ExternalSecret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.Name,
			Namespace:   s.Namespace,
			Labels:      maps.Clone(s.Labels),
			Annotations: map[string]string{RenderedAsAnnotation: RenderedAsReference},
		},
	}
	if es.Namespace == "" {
		es.Namespace = b.opts.Namespace
	}
	tpl := &esv1.ExternalSecretTemplate{
		EngineVersion: esv1.TemplateEngineV2,
		Type:          s.Type,
	}
	for k, v := range s.Labels {
		if tpl.Metadata.Labels == nil {
			tpl.Metadata.Labels = map[string]string{}
		}
		tpl.Metadata.Labels[k] = escapeText(v)
	}
	for k, v := range s.Annotations {
		switch {
		case strings.HasPrefix(k, ArgoAnnotationPrefix):
			es.Annotations[k] = v
		case strings.HasPrefix(k, avpAnnotationPrefix), k == RefreshIntervalAnnotation:
			continue
		}
		if tpl.Metadata.Annotations == nil {
			tpl.Metadata.Annotations = map[string]string{}
		}
		tpl.Metadata.Annotations[k] = escapeText(v)
	}
	es.Spec.Target = esv1.ExternalSecretTarget{
		Name:           s.Name,
		CreationPolicy: esv1.CreatePolicyOwner,
		Template:       tpl,
		Immutable:      s.Immutable != nil && *s.Immutable,
	}

	interval, err := b.refreshInterval()
	if err != nil {
		return nil, err
	}
	es.Spec.RefreshInterval = &metav1.Duration{Duration: interval}

	if b.simple() {
		for _, k := range slices.Sorted(maps.Keys(b.keys)) {
			sg := b.keys[k].segments[0]
			es.Spec.Data = append(es.Spec.Data, b.entry(k, sg.ref, sg.expr.Key))
		}
	} else {
		b.templates(tpl)
	}
	for _, ref := range b.refOrder {
		es.Spec.Data = append(es.Spec.Data, b.entry(wholeKey(b.refs[ref]), ref, ""))
	}
	if len(es.Spec.Data) == 0 {
		return nil, fmt.Errorf("%s holds no placeholder to reference", b.d)
	}
	b.storeRefs(es)

	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(es)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
	return &unstructured.Unstructured{Object: m}, nil
}

// entry is the data entry that reads ref (its property, or whole).
func (b *esBuilder) entry(secretKey string, ref Ref, property string) esv1.ExternalSecretData {
	t := b.targets[ref]
	return esv1.ExternalSecretData{
		SecretKey: secretKey,
		RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: t.Key, Property: property, Version: ref.Version},
		SourceRef: &esv1.StoreSourceRef{SecretStoreRef: t.Store},
	}
}

// storeRefs names the store once in spec.secretStoreRef when every entry
// reads the same one.
func (b *esBuilder) storeRefs(es *esv1.ExternalSecret) {
	for _, e := range es.Spec.Data[1:] {
		if e.SourceRef.SecretStoreRef != es.Spec.Data[0].SourceRef.SecretStoreRef {
			return
		}
	}
	es.Spec.SecretStoreRef = es.Spec.Data[0].SourceRef.SecretStoreRef
	for i := range es.Spec.Data {
		es.Spec.Data[i].SourceRef = nil
	}
}

// refreshInterval is the object's annotation, else the shortest of its
// stores' defaults, else the operator's default.
func (b *esBuilder) refreshInterval() (time.Duration, error) {
	if v, ok := b.d.annotations[RefreshIntervalAnnotation]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%s: %s must be a duration such as 15m or 1h", b.d, RefreshIntervalAnnotation)
		}
		return d, nil
	}
	var d time.Duration
	for _, t := range b.targets {
		if t.RefreshInterval > 0 && (d == 0 || t.RefreshInterval < d) {
			d = t.RefreshInterval
		}
	}
	if d == 0 {
		d = b.opts.RefreshInterval
	}
	return d, nil
}

// templates writes the template of every key: template.data, and for a
// remove-missing object a templateFrom literal that leaves out a key
// whose placeholders name a missing field.
func (b *esBuilder) templates(tpl *esv1.ExternalSecretTemplate) {
	var literal strings.Builder
	for _, k := range slices.Sorted(maps.Keys(b.keys)) {
		kv := b.keys[k]
		if kv.segments == nil {
			if tpl.Data == nil {
				tpl.Data = map[string]string{}
			}
			tpl.Data[k] = literalTemplate(kv.literal)
			continue
		}
		if b.d.removeMissing {
			b.optional(&literal, k, kv)
			continue
		}
		if tpl.Data == nil {
			tpl.Data = map[string]string{}
		}
		tpl.Data[k] = b.inline(kv)
	}
	if literal.Len() > 0 {
		text := literal.String()
		tpl.TemplateFrom = []esv1.TemplateFrom{{Target: esv1.TemplateTargetData, Literal: &text}}
	}
}

// call is the template call that gives a placeholder's value.
func (b *esBuilder) call(sg segment) string {
	return fmt.Sprintf("avp (index . %q) %q", wholeKey(b.number(sg.ref)), sg.expr.Generic())
}

// base64decode is argocd-vault-plugin's base64decode modifier.
var base64decode = func() avp.Modifier {
	e, err := avp.Parse("k | base64decode")
	if err != nil {
		panic(err) // a constant
	}
	return e.Modifiers[0]
}()

// decoded returns kv, a data value that is one placeholder (not base64
// with one inside), without its base64 layer: the placeholder gives
// base64 the Secret holds decoded. When its last modifier is
// base64encode (<key | base64encode> in data, the form
// argocd-vault-plugin documents), the Secret holds the value before that
// modifier; otherwise the value is decoded by base64decode, which fails
// on bad base64 as resolving does.
func decoded(kv *keyValue) *keyValue {
	e := *kv.segments[0].expr
	e.Modifiers = slices.Clone(e.Modifiers)
	if n := len(e.Modifiers); n > 0 && e.Modifiers[n-1].Name == "base64encode" {
		e.Modifiers = e.Modifiers[:n-1]
	} else {
		e.Modifiers = append(e.Modifiers, base64decode)
	}
	return &keyValue{segments: []segment{{expr: &e, ref: kv.segments[0].ref}}}
}

// number returns the index of the entry that reads ref whole.
func (b *esBuilder) number(ref Ref) int {
	n, ok := b.refs[ref]
	if !ok {
		n = len(b.refOrder)
		b.refs[ref] = n
		b.refOrder = append(b.refOrder, ref)
	}
	return n
}

// inline writes a value as template text: literal text as it is, each
// placeholder a call.
func (b *esBuilder) inline(kv *keyValue) string {
	if replaceable(kv) {
		return b.assign(kv) + "{{ $v }}"
	}
	var t strings.Builder
	for _, sg := range kv.segments {
		if sg.expr == nil {
			t.WriteString(escapeText(sg.text))
			continue
		}
		t.WriteString("{{ " + b.call(sg) + " }}")
	}
	return t.String()
}

// joined is one pipeline that prints a value's segments together.
func (b *esBuilder) joined(kv *keyValue) string {
	if len(kv.segments) == 1 {
		return b.call(kv.segments[0])
	}
	parts := []string{"print"}
	for _, sg := range kv.segments {
		if sg.expr == nil {
			parts = append(parts, strconv.Quote(sg.text))
			continue
		}
		parts = append(parts, "("+b.call(sg)+")")
	}
	return strings.Join(parts, " ")
}

// replaceable reports whether a placeholder of kv may give a value that
// is not a string among other segments: one without modifiers, whose
// field may be a number, a boolean, a map or a list (parse refuses
// jsonParse and yamlParse last there; every other modifier gives a
// string). argocd-vault-plugin writes such a value in place of the whole
// value (meant for replicas: <replicas>), the last such placeholder
// winning; see assign.
func replaceable(kv *keyValue) bool {
	if len(kv.segments) < 2 {
		return false
	}
	for _, sg := range kv.segments {
		if sg.expr != nil && len(sg.expr.Modifiers) == 0 {
			return true
		}
	}
	return false
}

// assign writes statements that leave in $v the value argocd-vault-plugin
// writes for kv, a replaceable value: its segments joined, unless the
// field of a placeholder without modifiers is not a string, when the
// last such placeholder's value alone. The kind of a field is read from
// its secret (fromJson), once per secret. Every placeholder is applied
// first, so a missing field fails the template as it fails resolving.
func (b *esBuilder) assign(kv *keyValue) string {
	var t strings.Builder
	t.WriteString("{{ $v := " + b.joined(kv) + " }}")
	parsed := map[int]bool{}
	for _, sg := range kv.segments {
		if sg.expr == nil || len(sg.expr.Modifiers) > 0 {
			continue
		}
		if n := b.number(sg.ref); !parsed[n] {
			parsed[n] = true
			fmt.Fprintf(&t, "{{ $avp%d := fromJson (index . %q) }}", n, wholeKey(n))
		}
	}
	for _, sg := range kv.segments {
		if sg.expr == nil || len(sg.expr.Modifiers) > 0 {
			continue
		}
		fmt.Fprintf(&t, `{{ if not (kindIs "string" (get $avp%d %q)) }}{{ $v = %s }}{{ end }}`, b.number(sg.ref), sg.expr.Key, b.call(sg))
	}
	return t.String()
}

// optional writes a key into a templateFrom literal (a YAML map) only if
// every field its placeholders name is in its secret, as
// argocd-vault-plugin's remove-missing drops it.
func (b *esBuilder) optional(w *strings.Builder, k string, kv *keyValue) {
	var conds []string
	for _, sg := range kv.segments {
		if sg.expr != nil {
			conds = append(conds, fmt.Sprintf("(avpHas (index . %q) %q)", wholeKey(b.number(sg.ref)), sg.expr.Key))
		}
	}
	stmts, value := "", b.joined(kv)
	if replaceable(kv) {
		stmts, value = b.assign(kv), "$v"
	}
	key, _ := json.Marshal(k)
	fmt.Fprintf(w, "{{- if and %s }}%s\n%s: {{ %s | toJson }}\n{{- end }}\n", strings.Join(conds, " "), stmts, key, value)
}

func wholeKey(n int) string { return wholeKeyPrefix + strconv.Itoa(n) }

// escapeText writes literal text so a template prints it unchanged.
func escapeText(s string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// literalTemplate is a template that prints b: as text when it is valid
// UTF-8, else from base64.
func literalTemplate(b []byte) string {
	if utf8.Valid(b) {
		return escapeText(string(b))
	}
	return fmt.Sprintf("{{ %q | b64dec }}", base64.StdEncoding.EncodeToString(b))
}
