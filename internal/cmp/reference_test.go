package cmp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sealsync/sealsync/internal/cmp/placeholder"
)

// In these tests the mapping file is the operator's; sources are the
// tenant's; the project and destination namespace are Argo CD's.

const testStoreMap = `refreshInterval: 30m
projects:
  demo:
  - path: secret/data
    key: ""
    store: {kind: ClusterSecretStore, name: vault}
  - path: secret/data/db
    key: db
    store: {kind: SecretStore, name: vault-db}
    refreshInterval: 5m
  - path: kv/legacy
    key: legacy
    kvVersion: "1"
    store: {kind: SecretStore, name: vault-kv1}
  other:
  - path: secret/data/other
    store: {kind: ClusterSecretStore, name: vault}
`

func referenceConfig(t testing.TB) Config {
	cfg := testConfig(t)
	cfg.PlaceholderMode = Reference
	// No store and no providers: a read would fail.
	cfg.StoresDir = ""
	cfg.Providers = nil
	m, err := ParseStoreMap([]byte(testStoreMap))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Stores = m
	return cfg
}

// TestGenerateReference: a placeholder Secret becomes an ExternalSecret
// with no read and no store credentials; other Secrets are sealed; each
// emitted object says which path made it.
func TestGenerateReference(t *testing.T) {
	src := secretSource(map[string]string{
		"s.yaml":     placeholderSecret,
		"plain.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\nstringData:\n  a: literal-value\n",
		"cm.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    avp.kubernetes.io/path: secret/data/db\ndata:\n  a: b\n",
	})
	out, err := Generate(context.Background(), referenceConfig(t), Request{Source: src, Dir: ".", Env: demoEnv()}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]*unstructured.Unstructured{}
	for _, o := range decodeStream(t, out) {
		kinds[o.GetKind()+"/"+o.GetName()] = o
	}
	es := kinds["ExternalSecret/db"]
	if es == nil || kinds["SealedSecret/plain"] == nil || kinds["ConfigMap/cm"] == nil || len(kinds) != 3 {
		t.Fatalf("objects: %v", kinds)
	}
	if got := es.GetAnnotations()[placeholder.RenderedAsAnnotation]; got != "reference" {
		t.Errorf("ExternalSecret rendered-as %q", got)
	}
	if got := kinds["SealedSecret/plain"].GetAnnotations()[placeholder.RenderedAsAnnotation]; got != "sealed" {
		t.Errorf("SealedSecret rendered-as %q", got)
	}
	if es.GetNamespace() != "web-prod" || es.GetAnnotations()["argocd.argoproj.io/sync-wave"] != "-1" {
		t.Errorf("ExternalSecret metadata: %s %v", es.GetNamespace(), es.GetAnnotations())
	}
	// secret/data/db maps to the SecretStore vault-db (the longest
	// prefix, refreshed every 5m), secret/data/api to the
	// ClusterSecretStore vault: two stores, so each entry names its own,
	// and the shortest interval wins.
	data, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
	want := []string{"password db vault-db", "token secret/data/api vault"}
	if len(data) != len(want) {
		t.Fatalf("data = %v", data)
	}
	for i, d := range data {
		m := d.(map[string]any)
		key, _, _ := unstructured.NestedString(m, "remoteRef", "key")
		store, _, _ := unstructured.NestedString(m, "sourceRef", "storeRef", "name")
		if got := m["secretKey"].(string) + " " + key + " " + store; got != want[i] {
			t.Errorf("data[%d] = %s, want %s", i, got, want[i])
		}
	}
	if got, _, _ := unstructured.NestedString(es.Object, "spec", "refreshInterval"); got != "5m0s" {
		t.Errorf("refreshInterval %s", got)
	}
}

// TestGenerateReferencePolicy: what reference mode refuses, and what it
// leaves to the resolve-and-seal path.
func TestGenerateReferencePolicy(t *testing.T) {
	values, err := os.ReadFile(filepath.Join("render", "testdata", "helm", "env", "prod-secrets.sops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		cfg     func(*Config)
		env     func(*Env)
		wantErr error
		errText string
		check   func(t *testing.T, out []byte)
	}{
		{
			name:    "tenant placeholder in a ConfigMap",
			files:   map[string]string{"cm.yaml": placeholderConfigMap},
			errText: "ConfigMap leak: data.token holds a placeholder: reference mode makes ExternalSecrets of Secrets only",
		},
		{
			name:  "operator lets placeholders outside Secrets be resolved",
			files: map[string]string{"cm.yaml": placeholderConfigMap, "s.yaml": placeholderSecret},
			cfg: func(c *Config) {
				c.AllowPlaceholdersOutsideSecrets = true
				c.StoresDir = filepath.Join("testdata", "stores")
				c.Providers = testConfig(t).Providers
			},
			check: func(t *testing.T, out []byte) {
				if !bytes.Contains(out, []byte("store-T0ken-Q3xZ")) || !bytes.Contains(out, []byte("kind: ExternalSecret")) {
					t.Errorf("out = %s", out)
				}
			},
		},
		{
			name:    "tenant path outside the project's prefixes",
			files:   map[string]string{"s.yaml": strings.ReplaceAll(placeholderSecret, "secret/data/api", "secret/data-other/api")},
			wantErr: ErrNoMapping,
			errText: `for project "demo" and path secret/data-other/api`,
		},
		{
			name:    "tenant path leaving its prefix",
			files:   map[string]string{"s.yaml": strings.ReplaceAll(placeholderSecret, "secret/data/api", "secret/data/db/../../other/api")},
			errText: "has an empty, . or .. segment",
		},
		{
			name:    "tenant kv-version the mapping does not serve",
			files:   map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/kv-version: \"2\"\nstringData:\n  a: <path:kv/legacy/x#a>\n"},
			wantErr: ErrNoMapping,
			errText: "path kv/legacy/x (kv-version 2)",
		},
		{
			name:    "project with no mapping",
			files:   map[string]string{"s.yaml": placeholderSecret},
			env:     func(e *Env) { e.Project = "nobody" },
			wantErr: ErrNoMapping,
			errText: `project "nobody"`,
		},
		{
			name:    "no project from Argo CD",
			files:   map[string]string{"s.yaml": placeholderSecret},
			env:     func(e *Env) { e.Project = "" },
			errText: "reference mode needs the project",
		},
		{
			name:    "no mapping file",
			files:   map[string]string{"s.yaml": placeholderSecret},
			cfg:     func(c *Config) { c.Stores = nil },
			wantErr: ErrNoMapping,
		},
		{
			name:    "tenant Secret for another namespace",
			files:   map[string]string{"s.yaml": strings.Replace(placeholderSecret, "  name: db\n", "  name: db\n  namespace: kube-system\n", 1)},
			errText: "namespace kube-system is not the application's destination web-prod",
		},
		{
			name:  "SOPS file placeholders keep the sealed path",
			files: map[string]string{"secrets/prod.sops.yaml": string(values), "app/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: <path:../secrets/prod.sops.yaml#db | jsonPath {.password}>\n"},
			check: func(t *testing.T, out []byte) {
				got := unsealAll(t, clusterKey(t), out)
				if got["web-prod/s"]["p"] != "helm-values-secret-P5dW" {
					t.Errorf("unsealed %v", got)
				}
			},
		},
		{
			name:    "SOPS file and store placeholders in one Secret",
			files:   map[string]string{"secrets/prod.sops.yaml": string(values), "app/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: <path:../secrets/prod.sops.yaml#db | jsonPath {.password}>\n  q: <path:secret/data/api#token>\n"},
			errText: "name both SOPS files of the source and the store",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := referenceConfig(t)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			env := demoEnv()
			if tc.env != nil {
				tc.env(&env)
			}
			dir := "."
			for f := range tc.files {
				if strings.HasPrefix(f, "app/") {
					dir = "app"
				}
			}
			out, err := Generate(context.Background(), cfg, Request{Source: secretSource(tc.files), Dir: dir, Env: env}, &bytes.Buffer{})
			if tc.wantErr != nil || tc.errText != "" {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v %q", err, tc.wantErr, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

// TestGenerateReferenceSOPS: a SOPS-encrypted Secret (tenant input) whose
// decrypted data holds a store placeholder beside a SOPS value is
// refused: the ExternalSecret's template would carry the SOPS value in
// plain text. The error names the key and the file, not the value.
func TestGenerateReferenceSOPS(t *testing.T) {
	src := os.DirFS(filepath.Join("render", "testdata", "reference"))
	_, err := Generate(context.Background(), referenceConfig(t), Request{Source: src, Dir: ".", Env: demoEnv()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "the Secret mixed: data.password holds the value of stringData.password in the SOPS file mixed.sops.yaml beside placeholders") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "sops-only-Secret-K7vQ") {
		t.Error("the error quotes the SOPS value")
	}
}

// TestStoreMap: the operator's mapping file, its checks and lookups.
func TestStoreMap(t *testing.T) {
	m, err := ParseStoreMap([]byte(testStoreMap))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		project string
		ref     placeholder.Ref
		want    string // store/key/interval, or the error
	}{
		{"demo", placeholder.Ref{Path: "secret/data/db"}, "vault-db db 5m0s"},
		{"demo", placeholder.Ref{Path: "secret/data/db/x/y"}, "vault-db db/x/y 5m0s"},
		{"demo", placeholder.Ref{Path: "secret/data/dbx"}, "vault secret/data/dbx 0s"},
		{"demo", placeholder.Ref{Path: "/secret/data/a/"}, "vault secret/data/a 0s"},
		{"demo", placeholder.Ref{Path: "kv/legacy/a", KVVersion: "1"}, "vault-kv1 legacy/a 0s"},
		{"demo", placeholder.Ref{Path: "kv/legacy/a"}, "vault-kv1 legacy/a 0s"},
		{"demo", placeholder.Ref{Path: "kv/legacy/a", KVVersion: "2"}, "error"},
		{"demo", placeholder.Ref{Path: "secret/data/../x"}, "error"},
		{"demo", placeholder.Ref{Path: "secret//data/x"}, "error"},
		{"demo", placeholder.Ref{Path: "secret/data/other/x"}, "vault secret/data/other/x 0s"},
		{"other", placeholder.Ref{Path: "secret/data/db"}, "error"},
		{"nobody", placeholder.Ref{Path: "secret/data/x"}, "error"},
	} {
		got := "error"
		if tg, err := m.Map(tc.project, tc.ref); err == nil {
			got = tg.Store.Name + " " + tg.Key + " " + tg.RefreshInterval.String()
		}
		if got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.project, tc.ref, got, tc.want)
		}
	}
	if m.RefreshInterval.Duration != 30*time.Minute {
		t.Errorf("default interval %v", m.RefreshInterval)
	}
}

// TestParseStoreMapRefusals: a mapping file the operator got wrong fails
// at start, saying where.
func TestParseStoreMapRefusals(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", "projects:\n  a:\n  - path: x\n    stor: {}\n", "unknown field"},
		{"bad kind", "projects:\n  a:\n  - path: x\n    store: {kind: Secret, name: v}\n", "projects.a[0]: store.kind"},
		{"bad name", "projects:\n  a:\n  - path: x\n    store: {kind: SecretStore, name: V_}\n", "store.name"},
		{"dot dot", "projects:\n  a:\n  - path: x/../y\n    store: {kind: SecretStore, name: v}\n", "path:"},
		{"empty path", "projects:\n  a:\n  - path: /\n    store: {kind: SecretStore, name: v}\n", "path: empty"},
		{"kv version", "projects:\n  a:\n  - path: x\n    kvVersion: \"3\"\n    store: {kind: SecretStore, name: v}\n", "kvVersion"},
		{"bad project", "projects:\n  ../a:\n  - path: x\n    store: {kind: SecretStore, name: v}\n", "stores file"},
		{"negative interval", "refreshInterval: -1m\nprojects: {}\n", "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseStoreMap([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzStoreMapMap: no path a tenant writes maps outside the prefix it
// matched, or panics.
func FuzzStoreMapMap(f *testing.F) {
	m, err := ParseStoreMap([]byte(testStoreMap))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"secret/data/db", "secret/data/db/../x", "kv/legacy", "/", "", "secret/data//x", "secret/data/./x"} {
		f.Add(p, "")
		f.Add(p, "1")
	}
	f.Fuzz(func(t *testing.T, p, kv string) {
		tg, err := m.Map("demo", placeholder.Ref{Path: p, KVVersion: kv})
		if err != nil {
			return
		}
		for _, seg := range strings.Split(tg.Key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("path %q maps to key %q", p, tg.Key)
			}
		}
	})
}
