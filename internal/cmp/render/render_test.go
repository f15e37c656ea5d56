package render

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsync/sealsync/internal/sopsx"
)

// In these tests the sources under testdata are tenant input (an
// application's author commits them); the keys folder, Argo CD's
// environment (release name, namespace, Kubernetes version) and the
// limits are operator input.

var update = flag.Bool("update", false, "rewrite the golden files")

// demoDecryptor decrypts with the test key of testdata/keys/demo, as the
// plugin does with the keys of the application's Argo CD project.
func demoDecryptor(t testing.TB) *sopsx.Decryptor {
	t.Helper()
	ids, err := sopsx.LoadIdentities("testdata/keys", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatal("no test identities")
	}
	return sopsx.NewDecryptor(ids, sopsx.Limits{})
}

// openSource returns testdata/name as a source, through os.Root as the
// plugin opens the repository Argo CD hands it.
func openSource(t testing.TB, name string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		root   string
		dir    string
		kind   Kind
		helm   HelmOptions
		canary []string // decrypted values the output must hold
	}{
		{
			name: "tenant directory with a SOPS Secret", root: "plain", dir: ".", kind: Directory,
			canary: []string{"plain-dir-secret-R7tK"},
		},
		{
			name: "tenant kustomize overlay with SOPS generator files and resource", root: "kustomize", dir: "apps/web/overlays/prod", kind: Kustomize,
			canary: []string{"kustomize-db-secret-M4wQ", b64("kustomize-env-token-Z2pX")},
		},
		{
			name: "tenant kustomize overlay without SOPS", root: "kustomize", dir: "apps/web/overlays/dev", kind: Kustomize,
		},
		{
			name: "tenant helm chart with SOPS values", root: "helm", dir: "chart", kind: Helm,
			helm: HelmOptions{
				ReleaseName: "web", Namespace: "web-prod", KubeVersion: "1.31.2",
				APIVersions: []string{"monitoring.coreos.com/v1"},
				ValueFiles:  []string{"../env/prod-values.yaml", "../env/prod-secrets.sops.yaml"},
			},
			canary: []string{"helm-values-secret-P5dW", "helm-values-extra-J3cV"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := openSource(t, tc.root)
			kind, err := Detect(src.FS(), tc.dir)
			if err != nil || kind != tc.kind {
				t.Fatalf("Detect = %v, %v; want %v", kind, err, tc.kind)
			}
			var outs [2][]byte
			for i := range outs {
				objs, err := Render(context.Background(), src.FS(), tc.dir, Options{Decrypter: demoDecryptor(t), Helm: tc.helm})
				if err != nil {
					t.Fatal(err)
				}
				if outs[i], err = Stream(objs, 0); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatal("two renders of one source differ")
			}
			for _, c := range tc.canary {
				if !bytes.Contains(outs[0], []byte(c)) {
					t.Errorf("output lacks the decrypted value %q", c)
				}
			}
			if bytes.Contains(outs[0], []byte("ENC[AES256_GCM")) {
				t.Error("output holds SOPS ciphertext")
			}
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, outs[0], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(outs[0], want) {
				t.Errorf("output differs from %s (run with -update to rewrite):\n%s", golden, outs[0])
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
