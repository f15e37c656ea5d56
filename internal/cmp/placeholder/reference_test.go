package placeholder

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
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

// TestToExternalSecret: each Secret of testdata/reference (tenant input)
// becomes the ExternalSecret in testdata/reference/golden.
func TestToExternalSecret(t *testing.T) {
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
			if !errors.Is(err, ErrSyntax) && !strings.Contains(err.Error(), "no placeholder") && !strings.Contains(err.Error(), "no store for path") {
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
