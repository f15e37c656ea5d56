package cmp

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/sealing"
)

// maxListDepth bounds Lists nested in Lists.
const maxListDepth = 8

// flattenLists replaces every List (kind v1 List, or any kind ending in
// "List" with an items array) by its items, so that a Secret inside a List
// is sealed like any other: kubectl and Argo CD apply a List's items.
func flattenLists(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	var add func(o *unstructured.Unstructured, depth int) error
	add = func(o *unstructured.Unstructured, depth int) error {
		if !strings.HasSuffix(o.GetKind(), "List") || !o.IsList() {
			out = append(out, o)
			return nil
		}
		if depth >= maxListDepth {
			return fmt.Errorf("%s %s: Lists nested deeper than %d", o.GetKind(), o.GetName(), maxListDepth)
		}
		items, _, _ := unstructured.NestedSlice(o.Object, "items")
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return fmt.Errorf("%s %s: item %d is not an object", o.GetKind(), o.GetName(), i)
			}
			item := &unstructured.Unstructured{Object: m}
			if item.GetAPIVersion() == "" || item.GetKind() == "" {
				return fmt.Errorf("%s %s: item %d has no apiVersion or kind", o.GetKind(), o.GetName(), i)
			}
			if err := add(item, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, o := range objs {
		if err := add(o, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isSecret reports whether o is a core Secret. A core-group object named
// Secret of another version is refused: it is no Secret the API server
// knows, and passing it on unsealed would be a way around sealing.
func isSecret(o *unstructured.Unstructured) (bool, error) {
	if o.GetKind() != "Secret" {
		return false, nil
	}
	gv := o.GroupVersionKind()
	switch {
	case gv.Group == "" && gv.Version == "v1":
		return true, nil
	case gv.Group == "":
		return false, fmt.Errorf("kind Secret %s: apiVersion %s is not v1", o.GetName(), o.GetAPIVersion())
	}
	return false, nil
}

// sealSecrets replaces every Secret of objs by a SealedSecret and refuses
// placeholders outside Secrets (unless allowed). replaced counts the
// placeholders of each object.
func sealSecrets(cfg Config, env Env, objs []*unstructured.Unstructured, replaced []int, sealer *sealing.Sealer) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		secret, err := isSecret(o)
		if err != nil {
			return nil, err
		}
		if !secret {
			if i < len(replaced) && replaced[i] > 0 && !cfg.AllowPlaceholdersOutsideSecrets {
				return nil, fmt.Errorf("%s %s holds placeholders: outside a Secret their values would reach Argo CD in plain text (the operator sets SEALSYNC_ALLOW_PLACEHOLDERS_OUTSIDE_SECRETS=true to allow it)", o.GetKind(), o.GetName())
			}
			out[i] = o
			continue
		}
		ss, err := sealSecret(cfg, env, o, sealer)
		if err != nil {
			return nil, fmt.Errorf("seal Secret %s: %w", o.GetName(), err)
		}
		out[i] = ss
	}
	return out, nil
}

// sealSecret seals one rendered Secret for its namespace, the
// destination namespace when it names none.
func sealSecret(cfg Config, env Env, o *unstructured.Unstructured, sealer *sealing.Sealer) (*unstructured.Unstructured, error) {
	var s corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s); err != nil {
		// Conversion errors name the field and the type expected; the
		// caller's check withholds one that would quote a value.
		return nil, fmt.Errorf("not a valid Secret: %w", err)
	}
	if s.Namespace == "" {
		s.Namespace = env.AppNamespace
	}
	if !cfg.AllowAnyNamespace && sealing.ScopeOf(&s) == crypto.ScopeClusterWide {
		return nil, errors.New("cluster-wide scope would let the value be unsealed in any namespace (the operator sets SEALSYNC_ALLOW_ANY_NAMESPACE=true to allow it)")
	}
	if err := checkNamespace(cfg, env, s.Namespace); err != nil {
		return nil, err
	}
	ss, err := sealer.SealSecret(&s)
	if err != nil {
		return nil, err
	}
	ss.Labels = maps.Clone(s.Labels)
	ss.Annotations[placeholder.RenderedAsAnnotation] = placeholder.RenderedAsSealed
	for k, v := range s.Annotations {
		if strings.HasPrefix(k, placeholder.ArgoAnnotationPrefix) {
			ss.Annotations[k] = v
		}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ss)
	if err != nil {
		return nil, err
	}
	// The converter writes the zero creationTimestamp as null; a
	// SealedSecret as kubeseal writes it has none.
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
	return &unstructured.Unstructured{Object: m}, nil
}
