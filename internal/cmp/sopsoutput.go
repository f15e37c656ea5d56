package cmp

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/cmp/render"
	"github.com/sealsync/sealsync/internal/redact"
	"github.com/sealsync/sealsync/internal/sopsx"
)

// maxSOPSCheckSteps bounds the search for SOPS values in the objects of
// one render (see redact.Index): a step per byte of every field read,
// so that the largest output (render.DefaultMaxOutputSize) fits several
// times over, and a tenant's values cannot make the search quadratic.
const maxSOPSCheckSteps = 1 << 28

// refuseSOPSOutsideSecrets fails if an object of objs other than a Secret
// holds a value decrypted from a SOPS file (plain, the string values of
// sopsx.Decryptor.Plaintexts): in Sealed mode only Secrets are sealed, so
// such an object would put the value into Argo CD in plain text. A team
// that encrypted a ConfigMap, a generator that turns a SOPS dotenv file
// into a ConfigMap, a chart that writes a value of a SOPS values file into
// a ConfigMap or a container's env: all are refused alike.
//
// The rule looks at the output, not at where an object came from,
// because kustomize and Helm reshape what they read: a kustomization's
// replacements copy a Secret's value into a Deployment, a template puts
// a values file's value anywhere. An object is refused when a string
// field or a map key holds a value of 8 bytes or more, whole, as is or
// base64-encoded, or equals one of 4 to 7 bytes (redact.Index). What it
// does not see, said in docs/compatibility.md: values under 4 bytes, a
// short value inside a longer string, and a value a template transforms
// (sha256sum for a checksum annotation, upper, a substring). Those are
// the author's choice over their own project's secrets, as is anything
// else a chart does with a value (see package render); the rule keeps
// the plugin from writing what a team encrypted in plain text by
// accident.
func refuseSOPSOutsideSecrets(objs []*unstructured.Unstructured, plain []sopsx.Plaintext) error {
	if len(plain) == 0 {
		return nil
	}
	values := make([][]byte, len(plain))
	for i, p := range plain {
		values[i] = p.Value
	}
	x := redact.NewIndex(values, maxSOPSCheckSteps)
	for _, o := range objs {
		secret, err := isSecret(o)
		if err != nil {
			return err
		}
		if secret {
			continue
		}
		where, v, err := findValue(x, o.Object, nil)
		if err != nil {
			// The only error is redact.ErrBudget.
			return fmt.Errorf("%s %s: %w: looking for SOPS values in objects other than Secrets took more than %d steps", o.GetKind(), o.GetName(), render.ErrLimit, maxSOPSCheckSteps)
		}
		if v < 0 {
			continue
		}
		what := "the content of the SOPS file " + plain[v].File
		if plain[v].Key != "" {
			what = fmt.Sprintf("the value of %s in the SOPS file %s", plain[v].Key, plain[v].File)
		}
		if o.GetAnnotations()[placeholder.RenderedAsAnnotation] == placeholder.RenderedAsReference {
			return fmt.Errorf("the Secret %s: %s holds %s beside placeholders: reference mode would write it into the ExternalSecret's template, which reaches Argo CD in plain text (keep SOPS values in a Secret without store placeholders)", o.GetName(), strings.TrimPrefix(where, "spec.target.template."), what)
		}
		return fmt.Errorf("%s %s: %s holds %s: outside a Secret it would reach Argo CD in plain text (make it a Secret, or the operator sets SEALSYNC_ALLOW_SOPS_OUTSIDE_SECRETS=true to allow it)", o.GetKind(), o.GetName(), where, what)
	}
	return nil
}

// findValue walks v, an object's content under the field path, in key
// order, and returns the first field holding a value of x, and which.
// A map key holding one is named by its map, since the key is the value.
func findValue(x *redact.Index, v any, path []string) (string, int, error) {
	switch v := v.(type) {
	case string:
		i, err := x.Find(v)
		return fieldPath(path), i, err
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if i, err := x.Find(k); err != nil || i >= 0 {
				return "a key of " + fieldPath(path), i, err
			}
			if where, i, err := findValue(x, v[k], append(path, k)); err != nil || i >= 0 {
				return where, i, err
			}
		}
	case []any:
		for n, e := range v {
			if where, i, err := findValue(x, e, append(path, "["+strconv.Itoa(n)+"]")); err != nil || i >= 0 {
				return where, i, err
			}
		}
	}
	return "", -1, nil
}

// fieldPath writes a field path as kubectl explain does:
// spec.containers[0].env[1].value.
func fieldPath(path []string) string {
	if len(path) == 0 {
		return "the object"
	}
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
