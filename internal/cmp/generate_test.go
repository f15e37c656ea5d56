package cmp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sealsync/sealsync/internal/keys/keyfile"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cmp/render"
	"github.com/sealsync/sealsync/internal/redact"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/sopsx"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

// In these tests the sources (files, kustomizations, Secrets,
// placeholders) and Env.Author are tenant input; Config (keys folder,
// stores folder, certificate, convergence key, policy switches) and the
// rest of Env (project, destination namespace, which Argo CD sets from
// the Application within its AppProject) are operator input.

// keysDir is the age keys folder of the render tests: project "demo".
var keysDir = filepath.Join("render", "testdata", "keys")

func clusterKey(t testing.TB) *crypto.Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "crypto", "testdata", "keys", "a.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfile.ParseKeys(b)
	if err != nil || len(keys) != 1 || keys[0].Certificate == nil {
		t.Fatalf("want one key with its certificate: %d keys, %v", len(keys), err)
	}
	return keys[0]
}

func testConfig(t testing.TB) Config {
	reg := providers.NewRegistry()
	reg.Register(providers.Fake, fake.New())
	return Config{
		AgeKeysDir:     keysDir,
		StoresDir:      filepath.Join("testdata", "stores"),
		Providers:      reg,
		Certificate:    &clusterKey(t).PrivateKey.PublicKey,
		ConvergenceKey: bytes.Repeat([]byte{7}, 32),
	}
}

func demoEnv() Env {
	return Env{AppName: "web", AppNamespace: "web-prod", Project: "demo", Author: map[string]string{}}
}

func renderSource(t testing.TB, name string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(filepath.Join("render", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func decodeStream(t testing.TB, b []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatal(err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// unsealAll opens every SealedSecret of out with the cluster's key.
func unsealAll(t testing.TB, k *crypto.Key, out []byte) map[string]map[string]string {
	t.Helper()
	got := map[string]map[string]string{}
	for _, o := range decodeStream(t, out) {
		if o.GetKind() == "Secret" {
			t.Errorf("plain Secret %s in sealed output", o.GetName())
		}
		if o.GetKind() != "SealedSecret" {
			continue
		}
		var ss ssv1alpha1.SealedSecret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ss); err != nil {
			t.Fatal(err)
		}
		u, err := sealing.UnsealItems(crypto.NewKeyring(k), &ss)
		if err != nil {
			t.Fatalf("%s: %v", ss.Name, err)
		}
		m := map[string]string{}
		for item, v := range u.Items {
			m[item] = string(v)
		}
		got[ss.Namespace+"/"+ss.Name] = m
	}
	return got
}

// TestGenerateSealsEverySecret: the Kustomize overlay's SOPS Secret and
// its SOPS generator files come out as SealedSecrets for the destination
// namespace that the cluster's key opens, byte-identical across renders.
func TestGenerateSealsEverySecret(t *testing.T) {
	k := clusterKey(t)
	src := renderSource(t, "kustomize")
	req := Request{Source: src.FS(), Dir: "apps/web/overlays/prod", Env: demoEnv()}
	var warn bytes.Buffer
	first, err := Generate(context.Background(), testConfig(t), req, &warn)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Generate(context.Background(), testConfig(t), req, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two renders of an unchanged source differ")
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %s", warn.String())
	}
	for _, canary := range []string{"kustomize-db-secret-M4wQ", "kustomize-env-token-Z2pX", "ENC[AES256_GCM"} {
		if bytes.Contains(first, []byte(canary)) {
			t.Errorf("output holds %q", canary)
		}
	}
	got := unsealAll(t, k, first)
	if got["web-prod/db"]["password"] != "kustomize-db-secret-M4wQ" {
		t.Errorf("db = %v", got["web-prod/db"])
	}
	if got["web-prod/web-env-hm8fhhf88m"]["API_TOKEN"] != "kustomize-env-token-Z2pX" {
		t.Errorf("web-env = %v", got["web-prod/web-env-hm8fhhf88m"])
	}
	if !bytes.Contains(first, []byte("kind: Deployment")) {
		t.Error("non-Secret objects are missing")
	}
}

// TestGenerateKeysComeFromTheProject: the SOPS identities are the
// project's (operator's folder, Argo CD's project name), whatever the
// author sets.
func TestGenerateKeysComeFromTheProject(t *testing.T) {
	src := renderSource(t, "kustomize")
	for _, tc := range []struct {
		name    string
		env     func(*Env)
		environ []string
	}{
		{name: "operator's project without keys", env: func(e *Env) { e.Project = "other" }},
		{name: "Argo CD before 3.0 passes no project", env: func(e *Env) { e.Project = "" }},
		{name: "tenant sets a project variable of their own", environ: []string{
			"ARGOCD_APP_PROJECT_NAME=other", "ARGOCD_APP_NAMESPACE=web-prod",
			"ARGOCD_ENV_ARGOCD_APP_PROJECT_NAME=demo", "ARGOCD_ENV_SOPS_AGE_KEY_FILE=render/testdata/keys/demo/key.txt",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := demoEnv()
			if tc.env != nil {
				tc.env(&env)
			}
			if tc.environ != nil {
				env = EnvFromEnviron(tc.environ)
				if env.Project != "other" || env.Author["ARGOCD_APP_PROJECT_NAME"] != "demo" {
					t.Fatalf("env = %+v", env)
				}
			}
			_, err := Generate(context.Background(), testConfig(t), Request{Source: src.FS(), Dir: "apps/web/overlays/prod", Env: env}, &bytes.Buffer{})
			if !errors.Is(err, sopsx.ErrNoKey) {
				t.Fatalf("err = %v, want ErrNoKey", err)
			}
		})
	}
}

func secretSource(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v), Mode: 0o644}
	}
	return m
}

const placeholderSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    avp.kubernetes.io/path: secret/data/db
    argocd.argoproj.io/sync-wave: "-1"
  labels:
    app: web
stringData:
  password: <password>
  token: <path:secret/data/api#token>
`

const placeholderConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: leak
data:
  token: <path:secret/data/api#token>
`

// TestGeneratePolicy covers the output policy: who may ask for plain
// output, where placeholders may stand, which namespaces a Secret may be
// sealed for, and that an empty render fails.
func TestGeneratePolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		cfg     func(*Config)
		env     func(*Env)
		wantErr string
		check   func(t *testing.T, out []byte, warn string)
	}{
		{
			name:  "tenant placeholders in a Secret are sealed",
			files: map[string]string{"s.yaml": placeholderSecret},
			check: func(t *testing.T, out []byte, _ string) {
				got := unsealAll(t, clusterKey(t), out)
				if got["web-prod/db"]["password"] != "store-Pa55-W0rd-V8" || got["web-prod/db"]["token"] != "store-T0ken-Q3xZ" {
					t.Errorf("unsealed %v", got)
				}
				ss := decodeStream(t, out)[0]
				if ss.GetAnnotations()["argocd.argoproj.io/sync-wave"] != "-1" || ss.GetLabels()["app"] != "web" {
					t.Errorf("SealedSecret metadata %v %v", ss.GetAnnotations(), ss.GetLabels())
				}
			},
		},
		{
			name:    "tenant placeholder in a ConfigMap is refused",
			files:   map[string]string{"cm.yaml": placeholderConfigMap},
			wantErr: "ConfigMap leak holds placeholders",
		},
		{
			name:  "operator allows placeholders outside Secrets",
			files: map[string]string{"cm.yaml": placeholderConfigMap},
			cfg:   func(c *Config) { c.AllowPlaceholdersOutsideSecrets = true },
			check: func(t *testing.T, out []byte, _ string) {
				if !bytes.Contains(out, []byte("store-T0ken-Q3xZ")) {
					t.Errorf("out = %s", out)
				}
			},
		},
		{
			name:    "tenant asks for plain output, operator does not allow it",
			files:   map[string]string{"s.yaml": placeholderSecret},
			env:     func(e *Env) { e.Author[AuthorOutput] = "plain" },
			wantErr: "plain output is not allowed",
		},
		{
			name:  "tenant asks for plain output, operator allows it",
			files: map[string]string{"s.yaml": placeholderSecret},
			cfg:   func(c *Config) { c.AllowPlain = true },
			env:   func(e *Env) { e.Author[AuthorOutput] = "plain" },
			check: func(t *testing.T, out []byte, warn string) {
				if !bytes.Contains(out, []byte("kind: Secret")) || !bytes.Contains(out, []byte("store-Pa55-W0rd-V8")) {
					t.Errorf("out = %s", out)
				}
				if !strings.Contains(warn, "plain") {
					t.Errorf("no warning: %q", warn)
				}
			},
		},
		{
			name:    "tenant Secret for another namespace",
			files:   map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: kube-system\nstringData:\n  a: b\n"},
			wantErr: "namespace kube-system is not the application's destination web-prod",
		},
		{
			name:    "tenant asks for cluster-wide scope",
			files:   map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\nstringData:\n  a: b\n"},
			wantErr: "cluster-wide scope",
		},
		{
			name:  "operator allows any namespace",
			files: map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: other\nstringData:\n  a: b\n"},
			cfg:   func(c *Config) { c.AllowAnyNamespace = true },
			check: func(t *testing.T, out []byte, _ string) {
				if got := unsealAll(t, clusterKey(t), out); got["other/x"]["a"] != "b" {
					t.Errorf("unsealed %v", got)
				}
			},
		},
		{
			name:  "tenant Secret inside a List is sealed",
			files: map[string]string{"l.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: in-list\n  stringData:\n    a: listed-V4lue\n"},
			check: func(t *testing.T, out []byte, _ string) {
				if bytes.Contains(out, []byte("listed-V4lue")) {
					t.Error("a Secret in a List came out in plain text")
				}
				if got := unsealAll(t, clusterKey(t), out); got["web-prod/in-list"]["a"] != "listed-V4lue" {
					t.Errorf("unsealed %v", got)
				}
			},
		},
		{
			name:    "tenant Secret of another core version",
			files:   map[string]string{"s.yaml": "apiVersion: v2\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n"},
			wantErr: "apiVersion v2 is not v1",
		},
		{
			name:    "tenant source renders nothing",
			files:   map[string]string{"README.md": "# nothing"},
			wantErr: render.ErrEmpty.Error(),
		},
		{
			name:    "placeholders and a project without a store",
			files:   map[string]string{"s.yaml": placeholderSecret},
			env:     func(e *Env) { e.Project = "nostore" },
			wantErr: ErrNoStore.Error(),
		},
		{
			name:    "operator forgot the certificate",
			files:   map[string]string{"s.yaml": placeholderSecret},
			cfg:     func(c *Config) { c.Certificate = nil },
			wantErr: "needs the cluster's certificate",
		},
		{
			name:  "operator has no convergence key",
			files: map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n"},
			cfg:   func(c *Config) { c.ConvergenceKey = nil },
			check: func(t *testing.T, out []byte, warn string) {
				if !strings.Contains(warn, "no convergence key") {
					t.Errorf("no warning: %q", warn)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			env := demoEnv()
			if tc.env != nil {
				tc.env(&env)
			}
			var warn bytes.Buffer
			out, err := Generate(context.Background(), cfg, Request{Source: secretSource(tc.files), Dir: ".", Env: env}, &warn)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if out != nil {
					t.Error("output on failure")
				}
				for _, v := range []string{"store-Pa55-W0rd-V8", "store-T0ken-Q3xZ"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error quotes a value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, out, warn.String())
		})
	}
}

// TestWithhold: a tenant's Secret whose data value (a placeholder without
// base64encode) is not base64 fails, and the error does not quote the
// value read from the operator's store.
func TestWithhold(t *testing.T) {
	cfg := testConfig(t)
	files := map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  a: <path:secret/data/api#token>\n"}
	_, err := Generate(context.Background(), cfg, Request{Source: secretSource(files), Dir: ".", Env: demoEnv()}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("a Secret with a non-base64 data value was sealed")
	}
	if strings.Contains(err.Error(), "store-T0ken-Q3xZ") {
		t.Fatalf("error quotes the value: %v", err)
	}
	t.Logf("error: %v", err)
}

// TestWithholdReplaces: a message quoting a value read is replaced whole.
func TestWithholdReplaces(t *testing.T) {
	var values redact.Values
	values.Add([]byte("store-T0ken-Q3xZ"))
	if err := withhold(errors.New("yaml: cannot parse store-T0ken-Q3xZ"), nil, &values); !errors.Is(err, ErrWithheld) {
		t.Errorf("got %v", err)
	}
	if err := withhold(errors.New("Secret x: not valid"), nil, &values); errors.Is(err, ErrWithheld) {
		t.Error("an error quoting nothing was withheld")
	}
}

// TestGeneratePlaceholdersFromSOPSFiles: a placeholder whose path is a
// SOPS file of the source (argocd-vault-plugin's sops backend) reads that
// file with the project's keys, and needs no store.
func TestGeneratePlaceholdersFromSOPSFiles(t *testing.T) {
	values, err := os.ReadFile(filepath.Join("render", "testdata", "helm", "env", "prod-secrets.sops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dotenv, err := os.ReadFile(filepath.Join("render", "testdata", "kustomize", "apps", "web", "overlays", "prod", "web.sops.env"))
	if err != nil {
		t.Fatal(err)
	}
	src := secretSource(map[string]string{
		"secrets/prod.sops.yaml": string(values),
		"secrets/web.sops.env":   string(dotenv),
		"app/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-files\nstringData:\n" +
			"  password: <path:../secrets/prod.sops.yaml#db | jsonPath {.password}>\n" +
			"  token: <path:../secrets/web.sops.env#API_TOKEN>\n",
	})
	cfg := testConfig(t)
	cfg.StoresDir = "" // no store: opening one would fail
	out, err := Generate(context.Background(), cfg, Request{Source: src, Dir: "app", Env: demoEnv()}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got := unsealAll(t, clusterKey(t), out)
	if got["web-prod/from-files"]["password"] != "helm-values-secret-P5dW" || got["web-prod/from-files"]["token"] != "kustomize-env-token-Z2pX" {
		t.Errorf("unsealed %v", got)
	}

	other := demoEnv()
	other.Project = "other"
	if _, err := Generate(context.Background(), cfg, Request{Source: src, Dir: "app", Env: other}, &bytes.Buffer{}); !errors.Is(err, sopsx.ErrNoKey) {
		t.Errorf("another project's application: %v, want ErrNoKey", err)
	}
}
