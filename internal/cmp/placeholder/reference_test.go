package placeholder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/avp"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testMap is an operator's mapping (trusted): secret/data/... is read
// through the ClusterSecretStore vault with keys relative to the KV v2
// mount, kv/... through the SecretStore vault-kv1 every 10 minutes.
func testMap(ref Ref) (Target, error) {
	if rest, ok := strings.CutPrefix(ref.Path, "secret/data/"); ok {
		return Target{Store: esv1.SecretStoreRef{Kind: "ClusterSecretStore", Name: "vault"}, Key: rest}, nil
	}
	if rest, ok := strings.CutPrefix(ref.Path, "kv/"); ok {
		return Target{Store: esv1.SecretStoreRef{Kind: "SecretStore", Name: "vault-kv1"}, Key: rest, RefreshInterval: 10 * time.Minute}, nil
	}
	return Target{}, fmt.Errorf("no store for path %s", ref.Path)
}

// eachReferenceCase runs f as a subtest for each Secret of
// testdata/reference (tenant input), given its file and content.
func eachReferenceCase(t *testing.T, f func(t *testing.T, file string, in []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "reference", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatal("no test cases", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f(t, file, in)
		})
	}
}

// TestToExternalSecret: each Secret of testdata/reference (tenant input)
// becomes the ExternalSecret in testdata/reference/golden.
func TestToExternalSecret(t *testing.T) {
	eachReferenceCase(t, func(t *testing.T, file string, in []byte) {
		objs := decode(t, string(in))
		es, err := ToExternalSecret(objs[0], ReferenceOptions{Map: testMap, Namespace: "dest", RefreshInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		got, err := yaml.Marshal(es.Object)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "reference", "golden", filepath.Base(file))
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got:\n%s\nwant:\n%s", got, want)
		}
		// The output is an ExternalSecret our API types read strictly.
		var typed esv1.ExternalSecret
		if err := yaml.UnmarshalStrict(got, &typed); err != nil {
			t.Fatal(err)
		}
	})
}

// refSecrets is the store's content (operator input): each secret whole,
// as JSON, as a provider returns it.
var refSecrets = jsonSecrets{
	{Path: "secret/data/database"}: `{"username": "app_üser", "password": "p\"ss\nw<rd>&ö✓", "port": 5432, "flag": true,
		"nested": {"a": {"b": "c<&>"}, "list": [1, "two"]}}`,
	{Path: "secret/data/database", Version: "1"}: `{"username": "old", "password": "old-pw"}`,
	{Path: "secret/data/database", Version: "2"}: `{"username": "app2", "password": "pw2\n<2>"}`,
	{Path: "secret/data/api"}: `{"token": "tök<en>", "config": "{\"url\": \"https://api.example.com/?a=1&b=2\"}",
		"cert_b64": "LS0tLS1CRUdJTiBDRVJULS0tLS0Kw7zDscOvCi0tLS0tRU5EIENFUlQtLS0tLQo="}`,
	{Path: "secret/data/multi"}: `{"pem": "-----BEGIN-----\n  line1\n  line2\n-----END-----\n", "b64": "ZGVjb2RlZCDinJMK"}`,
	{Path: "kv/team-a/one"}:     `{"a": "kv1 ✓"}`,
}

// jsonSecrets holds secrets by path and version.
type jsonSecrets map[Ref]string

// Read reads a secret as resolve mode's store does, whatever its
// kv-version.
func (s jsonSecrets) Read(_ context.Context, ref Ref) (map[string]any, error) {
	v, ok := s[Ref{Path: ref.Path, Version: ref.Version}]
	if !ok {
		return nil, fmt.Errorf("secret not found: %s", ref.Path)
	}
	return avp.DecodeSecret([]byte(v))
}

// storesOf serves the same secrets to an ExternalSecret as the stores
// and keys testMap names (fake stores, which return them as they are).
type storesOf struct {
	secrets jsonSecrets
	es      *esv1.ExternalSecret
}

func (f storesOf) Client(ctx context.Context, ref *esv1.SecretStoreRef) (providers.Client, error) {
	name := f.es.Spec.SecretStoreRef.Name
	if ref != nil {
		name = ref.Name
	}
	var data []esv1.FakeProviderData
	for r, v := range f.secrets {
		if t, err := testMap(r); err == nil && t.Store.Name == name {
			data = append(data, esv1.FakeProviderData{Key: t.Key, Version: r.Version, Value: v})
		}
	}
	return fake.New().NewClient(ctx, providers.Store{
		Kind: esv1.SecretStoreKind, Name: name, Namespace: f.es.Namespace,
		Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{Data: data}}},
	}, nil)
}

// noSources: the plugin's ExternalSecrets read no ConfigMap or Secret.
type noSources struct{}

func (noSources) ConfigMap(context.Context, string) (map[string]string, error) {
	return nil, errors.New("no ConfigMaps")
}

func (noSources) Secret(context.Context, string) (map[string][]byte, error) {
	return nil, errors.New("no Secrets")
}

// TestReferenceRendersWhatResolveWrites: each Secret of testdata/reference
// (tenant input), resolved here from refSecrets, holds the bytes its
// ExternalSecret's Secret holds when the controller's template engine
// renders it over the same secrets (esdata.BuildDesired, as the
// controller syncs it), key for key. test/argocd proves the same on the
// real parts; this covers the corners without them.
func TestReferenceRendersWhatResolveWrites(t *testing.T) {
	eachReferenceCase(t, func(t *testing.T, _ string, in []byte) {
		resolved := decode(t, string(in))[0]
		if _, err := Resolve(context.Background(), []*unstructured.Unstructured{resolved}, refSecrets, Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		var s corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(resolved.Object, &s); err != nil {
			t.Fatal(err)
		}
		want := maps.Clone(s.Data)
		if want == nil {
			want = map[string][]byte{}
		}
		for k, v := range s.StringData {
			want[k] = []byte(v)
		}

		u, err := ToExternalSecret(decode(t, string(in))[0], ReferenceOptions{Map: testMap, Namespace: "dest", RefreshInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var es esv1.ExternalSecret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &es); err != nil {
			t.Fatal(err)
		}
		d, err := esdata.BuildDesired(context.Background(), &es, storesOf{secrets: refSecrets, es: &es}, noSources{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got, ok := d.Data[k]; !ok {
				t.Errorf("%s: missing", k)
			} else if !bytes.Equal(got, want[k]) {
				t.Errorf("%s: %q, resolve mode wrote %q", k, got, want[k])
			}
		}
		for _, k := range slices.Sorted(maps.Keys(d.Data)) {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: not written by resolve mode", k)
			}
		}
	})
}

// TestToExternalSecretRefusals: what reference mode cannot make, each
// with an error that names the object and the field, never a value.
func TestToExternalSecretRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"placeholder in an annotation", `apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations:
    x: <path:secret/data/a#k>
stringData:
  k: <path:secret/data/a#k>
`, "metadata.annotations.x: reference mode makes only data and stringData"},
		{"unmapped path", `apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  k: <path:other/x#k>
`, "no store for path other/x"},
		{"unknown modifier", `apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  k: <path:secret/data/a#k> and <path:secret/data/a#k | nosuch>
`, "malformed placeholder"},
		{"bad refresh interval", `apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations:
    sealsync.dev/refresh-interval: soon
stringData:
  k: <path:secret/data/a#k>
`, "sealsync.dev/refresh-interval must be a duration"},
		{"bad modifier", `apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  k: <path:secret/data/a#k | jsonPath {..k}>
`, "only fields, indexes, slices and wildcards"},
		{"data not base64", `apiVersion: v1
kind: Secret
metadata:
  name: s
data:
  k: <path:secret/data/a#k | base64encode>
  l: "not base64 SECRET-VALUE"
`, "data.l is not base64"},
		{"jsonParse last beside text", `apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  k: "x=<path:secret/data/a#k | jsonParse>"
`, "ends in jsonParse beside other text"},
		{"yamlParse last beside a placeholder", `apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations:
    avp.kubernetes.io/path: secret/data/a
stringData:
  k: "<j><k | base64decode | yamlParse>"
`, "ends in yamlParse beside other text"},
		{"text around a placeholder in data", `apiVersion: v1
kind: Secret
metadata:
  name: s
data:
  k: cHJlZml4<path:secret/data/a#k | base64encode>
`, "data.k: text around a placeholder in data is base64 only once substituted"},
		{"no placeholder", `apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  k: v
`, "holds no placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := decode(t, tc.doc)
			_, err := ToExternalSecret(objs[0], ReferenceOptions{Map: testMap})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET-VALUE") {
				t.Errorf("the error quotes a value: %v", err)
			}
		})
	}
}

// TestInspect: placeholders found without reading, and the refs they
// name.
func TestInspect(t *testing.T) {
	objs := decode(t, `apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations:
    avp.kubernetes.io/path: secret/data/a
    avp.kubernetes.io/secret-version: "3"
stringData:
  k: <k> <path:secret/data/b#x#2>
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  annotations:
    avp.kubernetes.io/path: secret/data/a
data:
  k: plain
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
  annotations:
    avp.kubernetes.io/ignore: "true"
data:
  k: <path:secret/data/a#k>
`)
	info, err := Inspect(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{{Path: "secret/data/a", Version: "3"}, {Path: "secret/data/b", Version: "2"}}
	if info.Placeholders != 2 || info.Field != "stringData.k" || fmt.Sprint(info.Refs) != fmt.Sprint(want) {
		t.Errorf("got %+v, want 2 placeholders at stringData.k reading %v", info, want)
	}
	for _, o := range objs[1:] {
		info, err := Inspect(o)
		if err != nil || info.Placeholders != 0 || len(info.Refs) != 0 {
			t.Errorf("%s: got %+v, %v; want nothing", o.GetName(), info, err)
		}
	}
}

// FuzzToExternalSecret: a tenant's Secret value never panics the
// conversion, and what converts is an ExternalSecret our types read.
func FuzzToExternalSecret(f *testing.F) {
	for _, s := range []string{"<k>", "a<k>b<path:secret/data/x#y#3 | base64encode>c", "{{ <k | indent 4> }}", "<k | jsonPath {.a[0]}>", "<>", "<path:#>", "<k|>", "\xff<k>"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, removeMissing bool) {
		doc := map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "s", "annotations": map[string]any{
				PathAnnotation: "secret/data/a", RemoveMissingAnnotation: fmt.Sprint(removeMissing),
			}},
			"stringData": map[string]any{"k": v},
		}
		es, err := ToExternalSecret(&unstructured.Unstructured{Object: doc}, ReferenceOptions{Map: testMap})
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !strings.Contains(err.Error(), "no placeholder") && !strings.Contains(err.Error(), "no store for path") &&
				!strings.Contains(err.Error(), "reference mode cannot tell") {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		out, err := json.Marshal(es.Object)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		var typed esv1.ExternalSecret
		if err := dec.Decode(&typed); err != nil {
			t.Fatal(err)
		}
	})
}
