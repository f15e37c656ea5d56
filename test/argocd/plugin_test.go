package argocd

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/internal/testkit"
)

// In these tests the repositories (examples/gitops-repo, the render
// fixtures) and the plugin env of each Application (-plugin-env) are
// tenant input; the sidecar's environment and folders, Vault's content and
// token, and the build env the repo-server derives from the Application
// (project, destination namespace) are operator input.

// The values the example's Vault holds (operator input), per overlay.
func vaultDB(env string) map[string]any {
	return map[string]any{"username": "web_" + env, "password": "vault-" + env + "-Pa55-Zq8R"}
}

// startVault starts a dev server auditing to a file, seeds the example's
// paths and returns it with a token that may read secret/data/web/*
// only, as an operator would give the team-web project.
func startVault(t *testing.T) (*testkit.Vault, string, string) {
	t.Helper()
	v := testkit.NewVault(t)
	ctx := context.Background()
	audit := filepath.Join(v.Dir, "audit.log")
	if err := v.EnableFileAudit(ctx, audit); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if _, err := v.Client.KVv2("secret").Put(ctx, "web/"+env+"/db", vaultDB(env)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Client.KVv2("secret").Put(ctx, "other-team/db", map[string]any{"password": "other-team-Pa55-Xy3"}); err != nil {
		t.Fatal(err)
	}
	if err := v.Client.Sys().PutPolicy("team-web", `path "secret/data/web/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	tok, err := v.Client.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"team-web"}, NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	return v, tok.Auth.ClientToken, audit
}

// vaultStore writes project's store as the operator mounts it into the
// sidecar: Vault KV v2 at addr, keys naming their mount, the token from a
// file.
func vaultStore(project, addr, token string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		store := fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: %s-vault
spec:
  provider:
    vault:
      server: %s
      version: v2
      auth:
        tokenSecretRef:
          name: vault-token
          key: token
`, project, addr)
		writeFile(t, filepath.Join(dir, project, "store.yaml"), []byte(store))
		writeFile(t, filepath.Join(dir, project, "secrets", "vault-token", "token"), []byte(token))
	}
}

// dbReads counts the reads of secret/data/web/* in Vault's audit log.
func dbReads(t *testing.T, audit string) map[string]int {
	t.Helper()
	log, err := testkit.ReadAuditLog(audit)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range log {
		if r.Operation == "read" && strings.HasPrefix(r.Path, "secret/data/") {
			n[r.Path]++
		}
	}
	return n
}

// TestExamplesThroughTheSidecar renders every overlay of
// examples/gitops-repo through the real argocd-cmp-server: SOPS files
// decrypted with the project's key, placeholders read from the real Vault
// once per path, every Secret sealed for the destination namespace, sync
// waves kept, two renders byte-identical.
func TestExamplesThroughTheSidecar(t *testing.T) {
	v, token, audit := startVault(t)
	s := startSidecar(t, sidecarConfig{stores: vaultStore("team-web", v.Addr, token)})
	repo := filepath.Join(repoRoot(t), "examples", "gitops-repo")
	overlays, err := filepath.Glob(filepath.Join(repo, "apps", "*", "overlays", "*"))
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays in %s: %v", repo, err)
	}
	for _, dir := range overlays {
		rel, _ := filepath.Rel(repo, dir)
		env := filepath.Base(dir)
		t.Run(rel, func(t *testing.T) {
			a := app{repo: repo, path: rel, name: "web-" + env, namespace: "web-" + env, project: "team-web"}
			before := dbReads(t, audit)
			r, err := s.generate(t, a)
			if err != nil {
				t.Fatal(err)
			}
			after := dbReads(t, audit)
			path := "secret/data/web/" + env + "/db"
			if got := after[path] - before[path]; got != 1 {
				t.Errorf("%s read %d times in one render, want 1", path, got)
			}
			objs := objects(t, r)
			got := unseal(t, objs)
			ns := "web-" + env
			db := vaultDB(env)
			want := map[string]string{
				"DB_USER":      db["username"].(string),
				"DB_PASSWORD":  db["password"].(string),
				"DATABASE_URL": fmt.Sprintf("postgres://%s:%s@db:5432/web", db["username"], db["password"]),
			}
			if !reflect.DeepEqual(got[ns+"/db-credentials"], want) {
				t.Errorf("db-credentials = %v, want %v", got[ns+"/db-credentials"], want)
			}
			if got[ns+"/web-config"]["SESSION_KEY"] != "example-"+env+"-session-Kq7Zm2" {
				t.Errorf("web-config = %v", got[ns+"/web-config"])
			}
			if env == "prod" {
				tls := find(objs, "SealedSecret", "web-tls-passphrase")
				if tls == nil || got[ns+"/"+tls.GetName()]["TLS_KEY_PASSPHRASE"] != "example-prod-tls-Pp3Jx9" {
					t.Errorf("web-tls-passphrase: %v", tls)
				}
			}
			for _, m := range r.Manifests {
				for _, canary := range []string{db["password"].(string), "Kq7Zm2", "Pp3Jx9", "ENC[AES256_GCM"} {
					if strings.Contains(m, canary) {
						t.Fatalf("a manifest holds %q", canary)
					}
				}
			}
			// Secrets before the Deployment; the ExternalSecret and its
			// store pass through.
			for _, name := range []string{"db-credentials", "web-config"} {
				ss := find(objs, "SealedSecret", name)
				if ss == nil || ss.GetNamespace() != ns || ss.GetAnnotations()["argocd.argoproj.io/sync-wave"] != "-1" {
					t.Errorf("SealedSecret %s: %v", name, ss)
				}
			}
			if d := find(objs, "Deployment", "web"); d == nil || d.GetAnnotations()["argocd.argoproj.io/sync-wave"] != "1" {
				t.Errorf("Deployment: %v", d)
			}
			if find(objs, "ExternalSecret", "api-keys") == nil {
				t.Error("the ExternalSecret is missing")
			}
			again, err := s.generate(t, a)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again.Manifests, r.Manifests) {
				t.Error("a second render of the unchanged overlay differs")
			}
		})
	}
}

// TestSidecarRefusals: what an author or another project cannot do
// through the sidecar, and that no refusal quotes a secret.
func TestSidecarRefusals(t *testing.T) {
	v, token, _ := startVault(t)
	s := startSidecar(t, sidecarConfig{stores: vaultStore("team-web", v.Addr, token)})
	repo := filepath.Join(repoRoot(t), "examples", "gitops-repo")
	dev := app{repo: repo, path: "apps/web/overlays/dev", name: "web-dev", namespace: "web-dev", project: "team-web"}
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "app", "README.md"), []byte("# nothing to deploy\n"))
	otherTeam := t.TempDir()
	writeFile(t, filepath.Join(otherTeam, "app", "s.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\nstringData:\n  p: <path:secret/data/other-team/db#password>\n"))
	for _, tc := range []struct {
		name string
		app  func(a app) app
		want string
	}{
		{"another project's application", func(a app) app { a.project = "intruder"; return a }, "no identity of this project can decrypt"},
		{"tenant asks for plain output", func(a app) app { a.pluginEnv = []string{"SEALSYNC_OUTPUT=plain"}; return a }, "plain output is not allowed"},
		{"tenant points the plugin at other keys", func(a app) app {
			a.project = "intruder"
			a.pluginEnv = []string{"SEALSYNC_AGE_KEYS_DIR=/", "ARGOCD_APP_PROJECT_NAME=team-web", "SOPS_AGE_KEY_FILE=/etc/sealsync/age/team-web/key.txt"}
			return a
		}, "no identity of this project can decrypt"},
		{"tenant reads a path the project's token may not", func(a app) app { a.repo, a.path = otherTeam, "app"; return a }, "secret/data/other-team/db"},
		{"tenant application renders nothing", func(a app) app { a.repo, a.path = empty, "app"; return a }, "produced no objects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.generate(t, tc.app(dev))
			if err == nil {
				t.Fatal("generation succeeded")
			}
			t.Logf("Argo CD shows: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, canary := range []string{"vault-dev-Pa55-Zq8R", "other-team-Pa55-Xy3", "Kq7Zm2", token} {
				if strings.Contains(err.Error(), canary) {
					t.Fatalf("the error Argo CD shows quotes a secret: %v", err)
				}
			}
		})
	}
	t.Run("the plugin is named and has no discovery", func(t *testing.T) {
		a := dev
		a.match = true
		r, err := s.generate(t, a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Match == nil || r.Match.IsDiscoveryEnabled {
			t.Errorf("match = %+v, want discovery off", r.Match)
		}
	})
}

// TestHelmThroughTheSidecar: a chart with SOPS values files the author
// lists (ARGOCD_ENV_HELM_VALUES) renders with Argo CD's release name and
// Kubernetes version, its Secret sealed; Bitnami's kubeseal opens it.
func TestHelmThroughTheSidecar(t *testing.T) {
	s := startSidecar(t, sidecarConfig{})
	repo := filepath.Join(repoRoot(t), "internal", "cmp", "render", "testdata", "helm")
	r, err := s.generate(t, app{repo: repo, path: "chart", name: "web", namespace: "web-prod", project: "demo",
		pluginEnv: []string{"HELM_VALUES=../env/prod-values.yaml,../env/prod-secrets.sops.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, r)
	got := unseal(t, objs)
	found := false
	for name, items := range got {
		for _, v := range items {
			if strings.Contains(v, "helm-values-secret-P5dW") {
				found = true
				t.Logf("%s holds the SOPS values' secret", name)
			}
		}
	}
	if !found {
		t.Errorf("no SealedSecret holds the value from the SOPS values file: %v", got)
	}
	if d := find(objs, "Deployment", "web"); d == nil || d.GetLabels()["app.kubernetes.io/instance"] != "web" {
		t.Errorf("release name not ARGOCD_APP_NAME: %v", d)
	}

	// Bitnami's kubeseal, with the cluster's private key, opens what the
	// plugin sealed: the wire format is Bitnami's.
	bitnami := testkit.Tool(t, "kubeseal", "kubeseal")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	copyFile(t, filepath.Join(repoRoot(t), "crypto", "testdata", "keys", "a.pem"), keyFile)
	var sealed []byte
	for _, m := range r.Manifests {
		if strings.Contains(m, "kind: SealedSecret") || strings.Contains(m, `"kind":"SealedSecret"`) {
			sealed = []byte(m)
			break
		}
	}
	if sealed == nil {
		t.Fatal("no SealedSecret")
	}
	cmd := exec.Command(bitnami, "--recovery-unseal", "--recovery-private-key", keyFile, "-o", "yaml")
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader(string(sealed))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Bitnami kubeseal --recovery-unseal: %v\n%s", err, out)
	}
	var secret map[string]any
	if err := yaml.Unmarshal(out, &secret); err != nil || secret["kind"] != "Secret" {
		t.Fatalf("Bitnami kubeseal wrote %s", out)
	}
	if len(secret["data"].(map[string]any)) == 0 {
		t.Error("Bitnami kubeseal opened no value")
	}
}
