package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sealsync/sealsync/crypto"
)

// TestSourceRoot: Argo CD (operator side) runs the plugin in the
// application's folder of the repository it unpacked and says which
// folder that is (ARGOCD_APP_SOURCE_PATH); the root is what is left.
func TestSourceRoot(t *testing.T) {
	for _, tc := range []struct {
		name, appDir, sourcePath string
		root, dir                string
	}{
		{"application in a subfolder", "/tmp/_cmp_server/u1/apps/web/overlays/prod", "apps/web/overlays/prod", "/tmp/_cmp_server/u1", "apps/web/overlays/prod"},
		{"application at the repository root", "/tmp/_cmp_server/u1", ".", "/tmp/_cmp_server/u1", "."},
		{"no source path", "/tmp/_cmp_server/u1/app", "", "/tmp/_cmp_server/u1/app", "."},
		{"manifest-generate-paths sent a part of the repository", "/tmp/_cmp_server/u1/web/overlays/prod", "apps/web/overlays/prod", "/tmp/_cmp_server/u1", "web/overlays/prod"},
		{"source path with a trailing slash", "/w/apps/web", "apps/web/", "/w", "apps/web"},
		{"source path climbing out is not followed", "/w/apps/web", "../web", "/w/apps", "web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, dir := sourceRoot(tc.appDir, tc.sourcePath)
			if root != tc.root || dir != tc.dir {
				t.Errorf("sourceRoot = %q, %q; want %q, %q", root, dir, tc.root, tc.dir)
			}
		})
	}
}

// TestDiscover: the application's files are tenant input; discover
// matches SOPS files and placeholders and nothing else, without following
// links or entering hidden folders.
func TestDiscover(t *testing.T) {
	sops := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  age: []\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n  version: 3.13.3\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"plain manifests", map[string]string{"a.yaml": "apiVersion: v1\nkind: ConfigMap\n"}, ""},
		{"a SOPS file", map[string]string{"a.yaml": "kind: ConfigMap\n", "sub/s.sops.yaml": sops}, "sub/s.sops.yaml"},
		{"an inline placeholder", map[string]string{"s.yaml": "stringData:\n  a: <path:secret/data/x#a>\n"}, "s.yaml"},
		{"the path annotation", map[string]string{"s.yaml": "metadata:\n  annotations:\n    avp.kubernetes.io/path: secret/data/x\n"}, "s.yaml"},
		{"a SOPS file in a hidden folder", map[string]string{".git/s.sops.yaml": sops}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := discover(dir)
			if err != nil || got != tc.want {
				t.Errorf("discover = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("a link out of the application is not read", func(t *testing.T) {
		outside := t.TempDir()
		if err := os.WriteFile(filepath.Join(outside, "s.sops.yaml"), []byte(sops), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(outside, "s.sops.yaml"), filepath.Join(dir, "s.sops.yaml")); err != nil {
			t.Fatal(err)
		}
		if got, err := discover(dir); err != nil || got != "" {
			t.Errorf("discover = %q, %v", got, err)
		}
	})
}

// TestArgoCDFlagsFromEnv: the sidecar's environment (operator) sets the
// flags; Argo CD's ARGOCD_ENV_ variables (tenant) set none.
func TestArgoCDFlagsFromEnv(t *testing.T) {
	t.Setenv("SEALSYNC_AGE_KEYS_DIR", "/keys")
	t.Setenv("SEALSYNC_OUTPUT", "plain")
	t.Setenv("ARGOCD_ENV_SEALSYNC_STORES_DIR", "/tenant-chosen")
	t.Setenv("ARGOCD_ENV_SEALSYNC_ALLOW_PLAIN", "true")
	t.Setenv("ARGOCD_ENV_SEALSYNC_ALLOW_SOPS_OUTSIDE_SECRETS", "true")
	t.Setenv("SEALSYNC_ALLOW_PLACEHOLDERS_OUTSIDE_SECRETS", "true")
	t.Setenv("SEALSYNC_PLACEHOLDERS", "reference")
	t.Setenv("ARGOCD_ENV_SEALSYNC_PLACEHOLDERS", "resolve")
	t.Setenv("ARGOCD_ENV_SEALSYNC_STORES_FILE", "/tenant-chosen")
	root := NewCommand(Streams{})
	var argocd *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "argocd" {
			argocd = c
		}
	}
	if argocd == nil {
		t.Fatal("no argocd command")
	}
	fs := argocd.PersistentFlags()
	if err := argocdFlagsFromEnv(fs); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"age-keys-dir": "/keys", "output": "plain", "stores-dir": "", "allow-plain": "false",
		"allow-sops-outside-secrets": "false", "allow-placeholders-outside-secrets": "true",
		"placeholders": "reference", "stores-file": ""} {
		if got := fs.Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	for name := range argocdEnv {
		if fs.Lookup(name) == nil {
			t.Errorf("environment variable for unknown flag --%s", name)
		}
		if strings.HasPrefix(argocdEnv[name], "ARGOCD_") {
			t.Errorf("--%s is read from an Argo CD variable", name)
		}
	}
}

// TestInitLeavesTheCertificateToGenerate: Argo CD runs init, then
// generate, for every render; a certificate from a URL (the operator's
// SEALED_SECRETS_CERT) is fetched once, by generate. A certificate file is
// still checked by init. The source is the tenant's.
func TestInitLeavesTheCertificateToGenerate(t *testing.T) {
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "keys", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := crypto.EncodeCertificatePEM(certs[0])
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(certPEM)
	}))
	defer srv.Close()

	app := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "s.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: init-test-V4lue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ARGOCD_APP_NAMESPACE", "web")
	t.Setenv("SEALED_SECRETS_CERT", srv.URL+"/v1/cert.pem")
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
		return out.String(), errOut.String(), code
	}

	if out, stderr, code := run("argocd", "init", app); code != 0 || out != "" {
		t.Fatalf("init: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("init fetched the certificate %d times", n)
	}
	out, stderr, code := run("argocd", "generate", app)
	if code != 0 || !strings.Contains(out, "kind: SealedSecret") || strings.Contains(out, "init-test-V4lue") {
		t.Fatalf("generate: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("one render fetched the certificate %d times, want 1", n)
	}

	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SEALED_SECRETS_CERT", certFile)
	if _, stderr, code := run("argocd", "init", app); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Errorf("init with a bad certificate file: exit %d, stderr %q", code, stderr)
	}
}

// TestStoresFileOnlyInReferenceMode: the operator's install points
// SEALSYNC_STORES_FILE at an optional ConfigMap mount in both modes
// (config/argocd). Resolve mode does not read it, so an absent mapping
// breaks nothing there; reference mode needs it and says which flag. The
// source is the tenant's.
func TestStoresFileOnlyInReferenceMode(t *testing.T) {
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mapping := filepath.Join(dir, "stores.yaml")
	if err := os.WriteFile(mapping, []byte("projects:\n  web:\n  - path: secret/data/web\n    store:\n      kind: SecretStore\n      name: vault\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ARGOCD_APP_NAMESPACE", "web")
	t.Setenv("ARGOCD_APP_PROJECT_NAME", "web")
	t.Setenv("SEALSYNC_OUTPUT", "plain")
	for _, tc := range []struct {
		name, mode, file string
		wantErr          string
	}{
		{name: "resolve, mapping absent", mode: "resolve", file: filepath.Join(dir, "absent.yaml")},
		{name: "resolve, mapping present", mode: "resolve", file: mapping},
		{name: "reference, mapping present", mode: "reference", file: mapping},
		{name: "reference, mapping absent", mode: "reference", file: filepath.Join(dir, "absent.yaml"), wantErr: "--stores-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SEALSYNC_PLACEHOLDERS", tc.mode)
			t.Setenv("SEALSYNC_STORES_FILE", tc.file)
			for _, cmd := range []string{"init", "generate"} {
				var out, errOut bytes.Buffer
				code := Run(context.Background(), []string{"argocd", cmd, app}, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
				switch {
				case tc.wantErr == "" && code != 0:
					t.Errorf("%s: exit %d, stderr %s", cmd, code, errOut.String())
				case tc.wantErr != "" && (code == 0 || !strings.Contains(errOut.String(), tc.wantErr)):
					t.Errorf("%s: exit %d, stderr %q, want an error naming %s", cmd, code, errOut.String(), tc.wantErr)
				}
			}
		})
	}
}
