package esdata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/template"
	"github.com/sealsync/sealsync/providers"
)

// applyTemplate fills d's data, type and metadata from the fetched data
// and es's template, in ESO's order: templateFrom entries, then
// template.data (which wins over templateFrom), then the metadata labels
// and annotations (which win over templateFrom's). Every template draws
// from budget.
func applyTemplate(ctx context.Context, es *esv1.ExternalSecret, data map[string][]byte, ts TemplateSources, budget *template.Budget, d *DesiredData) error {
	tpl := es.Spec.Target.Template
	if tpl == nil {
		// ESO copies the ExternalSecret's own labels and annotations to a
		// Secret that has no template.
		d.Data = data
		d.Labels = maps.Clone(es.Labels)
		d.Annotations = maps.Clone(es.Annotations)
		return nil
	}
	if v := cmp.Or(tpl.EngineVersion, esv1.DefaultTemplateEngineVersion); v != esv1.TemplateEngineV2 {
		return fmt.Errorf("template engineVersion %q is not supported", v)
	}

	r := &renderer{
		budget:      budget,
		data:        make(map[string]string, len(data)),
		out:         map[string][]byte{},
		labels:      map[string]string{},
		annotations: map[string]string{},
	}
	for k, v := range data {
		r.data[k] = string(v)
	}
	d.Type = tpl.Type
	d.Finalizers = slices.Clone(tpl.Metadata.Finalizers)

	noDataTemplate := len(tpl.Data) == 0 && len(tpl.TemplateFrom) == 0
	if cmp.Or(tpl.MergePolicy, esv1.DefaultTemplateMergePolicy) == esv1.MergePolicyMerge || noDataTemplate {
		maps.Copy(r.out, data)
	}

	for i, tf := range tpl.TemplateFrom {
		if err := r.templateFrom(ctx, ts, i, tf); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(tpl.Data)) {
		// These keys are the spec's own text, so naming them tells the
		// tenant nothing new.
		if !providers.ValidSecretKey(k) {
			return fmt.Errorf("template key %q is not a valid Secret key (%s)", k, providers.SecretKeyRule)
		}
		v, err := r.render(k, tpl.Data[k])
		if err != nil {
			return fmt.Errorf("template key %q: %w", k, err)
		}
		r.out[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(tpl.Metadata.Labels)) {
		v, err := r.render(k, tpl.Metadata.Labels[k])
		if err != nil {
			return fmt.Errorf("template label %q: %w", k, err)
		}
		r.labels[k] = string(v)
	}
	for _, k := range slices.Sorted(maps.Keys(tpl.Metadata.Annotations)) {
		v, err := r.render(k, tpl.Metadata.Annotations[k])
		if err != nil {
			return fmt.Errorf("template annotation %q: %w", k, err)
		}
		r.annotations[k] = string(v)
	}

	// The API server would refuse these with a message about the whole
	// Secret (ESO users met this as a silent failure, #3210). Keys from
	// templateFrom and dataFrom were checked where they were made, with
	// their source named; this catches the rest (data[].secretKey). A key
	// can be built from a value, so it is never quoted.
	for k := range r.out {
		if !providers.ValidSecretKey(k) {
			return fmt.Errorf("a key of the Secret is not a valid Secret key (%s)", providers.SecretKeyRule)
		}
	}
	d.Data = r.out
	d.Labels = r.labels
	d.Annotations = r.annotations
	return nil
}

// renderer renders templates over the fetched data, as strings, and
// collects their output.
type renderer struct {
	budget      *template.Budget
	data        map[string]string
	out         map[string][]byte
	labels      map[string]string
	annotations map[string]string
}

func (r *renderer) render(name, text string) ([]byte, error) {
	return template.ESO().Execute(r.budget, name, text, r.data)
}

func (r *renderer) templateFrom(ctx context.Context, ts TemplateSources, i int, tf esv1.TemplateFrom) error {
	target := cmp.Or(tf.Target, esv1.DefaultTemplateTarget)
	// k may be rendered from a value (a literal such as ESO's
	// "my-application-{{ .user }}: ..."), so errors never quote it: the
	// caller names the templateFrom entry and item instead.
	apply := func(k string, v []byte) error {
		v, err := providers.Decode(tf.ValuesDecodingStrategy, v)
		if err != nil {
			return fmt.Errorf("valuesDecodingStrategy %s: %w", tf.ValuesDecodingStrategy, err)
		}
		switch target {
		case esv1.TemplateTargetData:
			if !providers.ValidSecretKey(k) {
				return fmt.Errorf("a rendered key is not a valid Secret key (%s)", providers.SecretKeyRule)
			}
			r.out[k] = v
		case esv1.TemplateTargetLabels:
			r.labels[k] = string(v)
		case esv1.TemplateTargetAnnotations:
			r.annotations[k] = string(v)
		default:
			return fmt.Errorf("target %q is not one of Data, Annotations, Labels", target)
		}
		return nil
	}
	if tf.ConfigMap != nil {
		what := fmt.Sprintf("templateFrom[%d].configMap %q", i, tf.ConfigMap.Name)
		if ts == nil {
			return fmt.Errorf("%s: no template sources", what)
		}
		cm, err := ts.ConfigMap(ctx, tf.ConfigMap.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, item := range tf.ConfigMap.Items {
			v, ok := cm[item.Key]
			if !ok {
				return fmt.Errorf("%s: missing key %q", what, item.Key)
			}
			if err := r.item(item, v, apply); err != nil {
				return fmt.Errorf("%s item %q: %w", what, item.Key, err)
			}
		}
	}
	if tf.Secret != nil {
		what := fmt.Sprintf("templateFrom[%d].secret %q", i, tf.Secret.Name)
		if ts == nil {
			return fmt.Errorf("%s: no template sources", what)
		}
		s, err := ts.Secret(ctx, tf.Secret.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, item := range tf.Secret.Items {
			v, ok := s[item.Key]
			if !ok {
				return fmt.Errorf("%s: missing key %q", what, item.Key)
			}
			if err := r.item(item, string(v), apply); err != nil {
				return fmt.Errorf("%s item %q: %w", what, item.Key, err)
			}
		}
	}
	if tf.Literal != nil {
		if err := r.keysAndValues(fmt.Sprintf("templateFrom[%d].literal", i), *tf.Literal, apply); err != nil {
			return fmt.Errorf("templateFrom[%d].literal: %w", i, err)
		}
	}
	return nil
}

// item renders one templateFrom item: its value alone under its key
// (Values), or a YAML map of keys and values (KeysAndValues).
func (r *renderer) item(item esv1.TemplateRefItem, text string, apply func(string, []byte) error) error {
	if cmp.Or(item.TemplateAs, esv1.DefaultTemplateScope) == esv1.TemplateScopeKeysAndValues {
		return r.keysAndValues(item.Key, text, apply)
	}
	v, err := r.render(item.Key, text)
	if err != nil {
		return err
	}
	return apply(item.Key, v)
}

func (r *renderer) keysAndValues(name, text string, apply func(string, []byte) error) error {
	out, err := r.render(name, text)
	if err != nil {
		return err
	}
	var m map[string]string
	if err := yaml.Unmarshal(out, &m); err != nil {
		// The YAML parser quotes what it read, which is rendered secret
		// data.
		return errors.New("rendered text is not a YAML map of strings")
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := apply(k, []byte(m[k])); err != nil {
			return err
		}
	}
	return nil
}
