package argocd

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealsync/sealsync/internal/keys/keyfile"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/testkit"
)

// repoRoot is the sealsync repository.
func repoRoot(t testing.TB) string {
	t.Helper()
	r, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	buildOnce   sync.Once
	kubesealDir string
	buildErr    error
)

// kubeseal builds cmd/kubeseal into a folder of its own, once per test
// binary: the sidecar finds it on its PATH, as in the image.
func kubeseal(t testing.TB) string {
	t.Helper()
	testkit.SkipIfShort(t, "builds kubeseal and runs argocd-cmp-server")
	buildOnce.Do(func() {
		kubesealDir, buildErr = os.MkdirTemp("", "sealsync-argocd-kubeseal-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(kubesealDir, "kubeseal"), "./cmd/kubeseal")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/kubeseal: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return kubesealDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kubesealDir != "" {
		os.RemoveAll(kubesealDir)
	}
	stopCluster()
	os.Exit(code)
}

// clusterKey is the sealing key the sidecar's certificate belongs to
// (operator input): crypto's test key a.
func clusterKey(t testing.TB) *crypto.Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "crypto", "testdata", "keys", "a.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfile.ParseKeys(b)
	if err != nil || len(keys) != 1 || keys[0].Certificate == nil {
		t.Fatalf("want one key with its certificate: %d keys, %v", len(keys), err)
	}
	return keys[0]
}

// sidecar is a running argocd-cmp-server with sealsync's plugin.yaml.
type sidecar struct {
	dir    string // the operator's files: age/, stores/, cert.pem, ...
	sock   string
	client string
	log    string
	env    []string // the server's environment, which generate inherits
}

// sidecarConfig is what the operator configures; env adds SEALSYNC_* to
// the defaults.
type sidecarConfig struct {
	env []string
	// stores writes the stores folder, given its path.
	stores func(t *testing.T, dir string)
	// storesFile is reference mode's mapping file, written into the
	// sidecar's folder and named by SEALSYNC_STORES_FILE when set.
	storesFile []byte
}

// startSidecar starts argocd-cmp-server as the repo-server's sidecar runs
// it, with the operator's folders under a fresh directory. It is killed
// when the test ends (it ignores SIGTERM).
func startSidecar(t *testing.T, cfg sidecarConfig) *sidecar {
	t.Helper()
	bin := kubeseal(t)
	server := testkit.Tool(t, "argocd-cmp-server", "argocd-cmp-server")
	client := testkit.Tool(t, "argocd-cmp-server", "argocd-cmp-client")
	root := repoRoot(t)
	dir := t.TempDir()
	s := &sidecar{dir: dir, sock: filepath.Join(dir, "plugins", "sealsync-v1.sock"), client: client, log: filepath.Join(dir, "cmp-server.log")}
	for _, d := range []string{"config", "plugins", "work", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(root, "config", "argocd", "plugin.yaml"), filepath.Join(dir, "config", "plugin.yaml"))
	// One folder of age identities per project.
	copyFile(t, filepath.Join(root, "test", "argocd", "testdata", "age", "team-web", "key.txt"), filepath.Join(dir, "age", "team-web", "key.txt"))
	copyFile(t, filepath.Join(root, "internal", "cmp", "render", "testdata", "keys", "demo", "key.txt"), filepath.Join(dir, "age", "demo", "key.txt"))
	// The certificate alone, as the controller serves it.
	k := clusterKey(t)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate.Raw})
	writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "convergence", "key"), key)
	if cfg.stores != nil {
		cfg.stores(t, filepath.Join(dir, "stores"))
	}
	if cfg.storesFile != nil {
		writeFile(t, filepath.Join(dir, "stores-map.yaml"), cfg.storesFile)
		cfg.env = append(cfg.env, "SEALSYNC_STORES_FILE="+filepath.Join(dir, "stores-map.yaml"))
	}

	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(server, "--config-dir-path", filepath.Join(dir, "config"), "--loglevel", "info")
	cmd.Env = append([]string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"HOME=" + filepath.Join(dir, "home"),
		"ARGOCD_PLUGINSOCKFILEPATH=" + filepath.Join(dir, "plugins"),
		"ARGOCD_CMP_WORKDIR=" + filepath.Join(dir, "work"),
		"KUBECONFIG=" + filepath.Join(dir, "no-kubeconfig"),
		"SEALSYNC_AGE_KEYS_DIR=" + filepath.Join(dir, "age"),
		"SEALSYNC_STORES_DIR=" + filepath.Join(dir, "stores"),
		"SEALED_SECRETS_CERT=" + filepath.Join(dir, "cert.pem"),
		"SEALSYNC_CONVERGENCE_KEY_FILE=" + filepath.Join(dir, "convergence", "key"),
	}, cfg.env...)
	s.env = cmd.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("argocd-cmp-server log:\n%s", tail(b, 8<<10))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(s.sock); err == nil {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			t.Fatalf("argocd-cmp-server opened no socket %s:\n%s", s.sock, tail(b, 8<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b)
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// app is one Application as the repo-server sees it: the repository, the
// path, the build env Argo CD derives from the Application (operator
// side: the AppProject bounds it) and the plugin env its author wrote.
type app struct {
	repo, path string
	name       string
	namespace  string
	project    string
	pluginEnv  []string
	match      bool
}

// result is what argocd-cmp-client prints.
type result struct {
	Match *struct {
		IsSupported        bool `json:"isSupported"`
		IsDiscoveryEnabled bool `json:"isDiscoveryEnabled"`
	} `json:"match"`
	Manifests []string `json:"manifests"`
}

// generate asks the sidecar for a's manifests, as the repo-server does.
// A failed generation returns the error text the repo-server received.
func (s *sidecar) generate(t *testing.T, a app) (result, error) {
	t.Helper()
	args := []string{"-socket", s.sock, "-repo", a.repo, "-app-path", a.path, "-timeout", "90s"}
	for _, e := range []string{
		"ARGOCD_APP_NAME=" + a.name,
		"ARGOCD_APP_NAMESPACE=" + a.namespace,
		"ARGOCD_APP_PROJECT_NAME=" + a.project,
		"ARGOCD_APP_REVISION=8f1c2b0d9e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",
		"ARGOCD_APP_REVISION_SHORT=8f1c2b0",
		"ARGOCD_APP_REVISION_SHORT_8=8f1c2b0d",
		"ARGOCD_APP_SOURCE_REPO_URL=https://git.example.com/gitops-repo.git",
		"ARGOCD_APP_SOURCE_PATH=" + a.path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION=main",
		"KUBE_VERSION=1.31.2",
		"KUBE_API_VERSIONS=v1,apps/v1,bitnami.com/v1alpha1,external-secrets.io/v1",
	} {
		args = append(args, "-env", e)
	}
	for _, e := range a.pluginEnv {
		args = append(args, "-plugin-env", e)
	}
	if a.match {
		args = append(args, "-match")
	}
	cmd := exec.Command(s.client, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return result{}, errors.New(strings.TrimSpace(stderr.String()))
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("client output: %v\n%s", err, stdout.String())
	}
	return r, nil
}

// objects parses the manifests the repo-server got back.
func objects(t *testing.T, r result) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, m := range r.Manifests {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(m), &o); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		out = append(out, &unstructured.Unstructured{Object: o})
	}
	return out
}

// unseal opens every SealedSecret of objs with the cluster's key, by
// namespace/name and item key; a plain Secret fails the test.
func unseal(t *testing.T, objs []*unstructured.Unstructured) map[string]map[string]string {
	t.Helper()
	ring := crypto.NewKeyring(clusterKey(t))
	got := map[string]map[string]string{}
	for _, o := range objs {
		switch o.GetKind() {
		case "Secret":
			t.Errorf("plain Secret %s in the output", o.GetName())
		case "SealedSecret":
			var ss ssv1alpha1.SealedSecret
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ss); err != nil {
				t.Fatal(err)
			}
			u, err := sealing.UnsealItems(ring, &ss)
			if err != nil {
				t.Fatalf("%s: %v", ss.Name, err)
			}
			m := map[string]string{}
			for k, v := range u.Items {
				m[k] = string(v)
			}
			got[ss.Namespace+"/"+ss.Name] = m
		}
	}
	return got
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (o.GetName() == name || strings.HasPrefix(o.GetName(), name+"-")) {
			return o
		}
	}
	return nil
}
