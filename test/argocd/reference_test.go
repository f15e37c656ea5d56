package argocd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/spf13/pflag"
	"go.uber.org/zap/zapcore"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	vaultprovider "github.com/sealsync/sealsync/providers/vault"
)

// The tests of reference mode (issue #14) run the plugin in the real
// argocd-cmp-server, the controller against envtest and a real Vault dev
// server. Inputs:
//
//   - tenant: the repository (testdata/reference and the Secrets of
//     argocd-vault-plugin's documentation, internal/cmp/placeholder/
//     testdata/avp-examples.yaml);
//   - operator: the sidecars' environment and folders (the resolve
//     sidecar's store and token, the reference sidecar's mapping file),
//     Vault's content, policy and token, the ClusterSecretStores and the
//     token Secret they read, the controller's flags, and the refresh
//     webhook's ServiceAccount and RBAC;
//   - Argo CD: the project and destination namespace of the Application
//     (bounded by the operator's AppProject).

// Timeouts of the waits on the controller: they bound failures on a
// loaded machine, not the normal case of a second or two.
const (
	syncTimeout = 90 * time.Second
	// shortInterval is the refresh interval of the Secret that must
	// follow Vault on its own (its sealsync.dev/refresh-interval).
	shortInterval = 2 * time.Second
)

var (
	clusterOnce sync.Once
	clusterEnv  *testkit.Env
	clusterErr  error
	// controllerLogs holds every line the controllers log, for the
	// check that no value shows there.
	controllerLogs = &testkit.LogBuffer{}
)

// cluster returns the package's envtest control plane, started on first
// use: only reference mode's tests need one. TestMain stops it.
func cluster(t *testing.T) *testkit.Env {
	t.Helper()
	testkit.SkipIfShort(t, "the envtest control plane")
	clusterOnce.Do(func() {
		// Debug, the most verbose level cmd/controller offers: no value
		// may show there either.
		log.SetLogger(zap.New(zap.WriteTo(controllerLogs), zap.Level(zapcore.DebugLevel)))
		clusterEnv, clusterErr = testkit.StartEnv()
	})
	if clusterErr != nil {
		t.Fatalf("envtest: %v", clusterErr)
	}
	return clusterEnv
}

func stopCluster() {
	if clusterEnv == nil {
		return
	}
	if err := clusterEnv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
	}
}

// refVault is the operator's Vault for reference mode.
type refVault struct {
	*testkit.Vault
	audit string
	// token may read secret/data/* and kv1/*: the operator gives it to
	// the resolve sidecar's store and to the controller's stores.
	token string
	// canaries are in the values; no manifest of reference mode, status,
	// event or log line may show 4 bytes of one.
	canaries []string
}

// canary returns a fresh canary for a value of v.
func (v *refVault) canary() string {
	c := testkit.Canary()
	v.canaries = append(v.canaries, c)
	return c
}

// startRefVault starts a Vault dev server auditing to a file with KV v2
// at secret/ and KV v1 at kv1/, seeded with values that hold non-ASCII
// text, quotes, newlines, <, > and &, numbers and a nested map.
func startRefVault(t *testing.T) *refVault {
	t.Helper()
	v := &refVault{Vault: testkit.NewVault(t)}
	ctx := t.Context()
	v.audit = filepath.Join(v.Dir, "audit.log")
	if err := v.EnableFileAudit(ctx, v.audit); err != nil {
		t.Fatal(err)
	}
	if err := v.MountKV(ctx, "kv1", 1); err != nil {
		t.Fatal(err)
	}
	kv2 := v.Client.KVv2("secret")
	put := func(path string, data map[string]any) {
		t.Helper()
		if _, err := kv2.Put(ctx, path, data); err != nil {
			t.Fatal(err)
		}
	}
	put("eq/app", v.appValues("first"))
	put("eq/other", map[string]any{"token": `tök<&>"en ` + v.canary()})
	for _, n := range []string{"one ✓", "two ✓", "three ✓"} {
		put("eq/versioned", map[string]any{"value": "version " + n + " " + v.canary()})
	}
	if err := v.Client.KVv1("kv1").Put(ctx, "app", map[string]any{
		"legacy": "kv one 🔑 " + v.canary(),
		"json":   `{"k": "kv1 <deep> ` + v.canary() + `"}`,
	}); err != nil {
		t.Fatal(err)
	}
	// argocd-vault-plugin's documented examples: version 1 of the
	// database's password, then version 2.
	put("database", map[string]any{"username": "avp_user", "password": "first " + v.canary()})
	put("database", map[string]any{"username": "avp_user", "password": `second <&> "` + v.canary()})
	put("api", map[string]any{"token": "api-token " + v.canary(), "config": `{"url": "https://api.example.com/?a=1&b=2"}`})
	put("restricted/db", map[string]any{"password": v.canary()})

	if err := v.Client.Sys().PutPolicyWithContext(ctx, "eq-reader", `
path "secret/data/*" { capabilities = ["read"] }
path "kv1/*" { capabilities = ["read"] }
`); err != nil {
		t.Fatal(err)
	}
	tok, err := v.Client.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{
		ID: v.canary(), Policies: []string{"eq-reader"}, TTL: "1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	v.token = tok.Auth.ClientToken
	return v
}

// appValues is secret/data/eq/app, whose password says which
// generation it is.
func (v *refVault) appValues(generation string) map[string]any {
	c := v.canary()
	return map[string]any{
		"user":     "app_üser",
		"password": generation + ` p"a's <&> wörd ` + v.canary(),
		"port":     json.Number("5432"),
		"ratio":    json.Number("1.50"),
		"nested": map[string]any{
			"inner": map[string]any{"value": "deep <&> ✓ " + c},
			"list":  []any{json.Number("1"), "two"},
		},
		"pem":  "-----BEGIN TEST KEY-----\nMIIB" + v.canary() + "\nüñï/+==\n-----END TEST KEY-----\n",
		"json": `{"a": {"b": "json \"deep\" <&> ✓ ` + v.canary() + `"}}`,
		"yaml": "a:\n  b: 'yaml deep <&> ✓ " + v.canary() + "'\n",
		"b64":  base64.StdEncoding.EncodeToString([]byte("decoded ✓\nsecond line " + v.canary() + "\n")),
	}
}

// auditEntries is how many requests Vault has audited.
func (v *refVault) auditEntries(t *testing.T) int {
	t.Helper()
	l, err := testkit.ReadAuditLog(v.audit)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// refStores names the operator's ClusterSecretStores.
type refStores struct{ kv2, kv1, restricted string }

// mapping is the operator's mapping file: project team-eq's KV v2 paths
// to one ClusterSecretStore, its KV v1 mount to another, and
// secret/data/restricted to a third.
func (s refStores) mapping() []byte {
	return fmt.Appendf(nil, `refreshInterval: 1h
projects:
  team-eq:
  - path: secret/data
    store: {kind: ClusterSecretStore, name: %s}
  - path: kv1
    kvVersion: "1"
    store: {kind: ClusterSecretStore, name: %s}
  - path: secret/data/restricted
    store: {kind: ClusterSecretStore, name: %s}
`, s.kv2, s.kv1, s.restricted)
}

// clusterStore is a ClusterSecretStore of Vault v (KV version kv, keys
// naming their mount) with the token in Secret ops/vault-token, usable
// from the namespaces given (all if none).
func clusterStore(v *refVault, name, kv, ops string, namespaces ...string) string {
	s := fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: %s
spec:
  provider:
    vault:
      server: %q
      version: %s
      auth:
        tokenSecretRef:
          name: vault-token
          namespace: %s
          key: token
`, name, v.Addr, kv, ops)
	if len(namespaces) > 0 {
		s += "  conditions:\n  - namespaces: [" + strings.Join(namespaces, ", ") + "]\n"
	}
	return s
}

// refRepo builds the tenant's repository: testdata/reference and, in its
// app folder, the Secrets of argocd-vault-plugin's documented examples
// (its ConfigMap and Deployment hold placeholders outside Secrets, which
// reference mode refuses).
func refRepo(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	src := filepath.Join("testdata", "reference")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(t, p, filepath.Join(repo, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "cmp", "placeholder", "testdata", "avp-examples.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind == "Secret" {
			secrets = append(secrets, strings.TrimSpace(doc)+"\n")
		}
	}
	if len(secrets) < 2 {
		t.Fatalf("avp-examples.yaml has %d Secrets", len(secrets))
	}
	writeFile(t, filepath.Join(repo, "app", "avp-examples.yaml"), []byte(strings.Join(secrets, "---\n")))
	return repo
}

// secretData is what the API server keeps of a Secret manifest: data
// decoded, then stringData over it.
func secretData(t *testing.T, o *unstructured.Unstructured) (corev1.SecretType, map[string][]byte) {
	t.Helper()
	var s corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s); err != nil {
		t.Fatalf("Secret %s: %v", o.GetName(), err)
	}
	out := map[string][]byte{}
	maps.Copy(out, s.Data)
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	typ := s.Type
	if typ == "" {
		typ = corev1.SecretTypeOpaque
	}
	return typ, out
}

// resolved renders a in resolve mode and returns its Secrets' data and
// types by name.
func resolved(t *testing.T, s *sidecar, a app) (map[string]map[string][]byte, map[string]corev1.SecretType) {
	t.Helper()
	r, err := s.generate(t, a)
	if err != nil {
		t.Fatal(err)
	}
	data, types := map[string]map[string][]byte{}, map[string]corev1.SecretType{}
	for _, o := range objects(t, r) {
		if o.GetKind() != "Secret" {
			t.Fatalf("resolve mode made a %s %s", o.GetKind(), o.GetName())
		}
		types[o.GetName()], data[o.GetName()] = secretData(t, o)
	}
	return data, types
}

// refCluster is the destination cluster: envtest, the controller as
// cmd/controller builds it from its default flags, and the operator's
// namespace.
type refCluster struct {
	e    *testkit.Env
	c    *controller.Controller
	dest string // the Application's destination namespace
	ops  string // the operator's: the Vault token
}

// startController runs the controller for namespaces dest and ops with
// the Vault provider, as cmd/controller builds it from its default
// flags, but for what one process needs: no leader election, no
// metrics, its HTTP API on a free port, smaller keys.
func startController(t *testing.T, e *testkit.Env, dest, ops string) *refCluster {
	t.Helper()
	o, err := controller.BindFlags(pflag.NewFlagSet("controller", pflag.ContinueOnError)).Options(e.Namespace(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry()
	reg.Register(providers.Vault, vaultprovider.New())
	o.ES.Providers = reg
	o.Keys.Bits = crypto.MinKeyBits
	o.MetricsAddr, o.Server.Addr = "0", "127.0.0.1:0"
	o.AllNamespaces, o.AdditionalNamespaces = false, []string{dest, ops}
	o.LeaderElection = false
	c, err := controller.New(e.Config, o, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Manager.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	return &refCluster{e: e, c: c, dest: dest, ops: ops}
}

// apply creates the objects of a manifest as Argo CD or kubectl would,
// with the API server's strict field validation: a field the CRD does
// not know fails the test instead of being dropped. Objects without a
// namespace land in ns; cluster-scoped ones are deleted after the test.
func (k *refCluster) apply(t *testing.T, ns, docs string) {
	t.Helper()
	for _, doc := range strings.Split(docs, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "ClusterSecretStore" {
			obj := u.DeepCopy()
			t.Cleanup(func() { _ = k.e.Client.Delete(context.Background(), obj) })
		} else if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		if err := k.e.Client.Create(t.Context(), u, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// secret returns Secret dest/name, nil if there is none.
func (k *refCluster) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	err := k.e.Client.Get(t.Context(), client.ObjectKey{Namespace: k.dest, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ready returns the Ready condition of ExternalSecret dest/name, as a
// line for a failure message.
func (k *refCluster) ready(t *testing.T, name string) string {
	es := &esv1.ExternalSecret{}
	if err := k.e.Client.Get(t.Context(), client.ObjectKey{Namespace: k.dest, Name: name}, es); err != nil {
		return err.Error()
	}
	for _, c := range es.Status.Conditions {
		if c.Type == esv1.ExternalSecretReady {
			return fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "no Ready condition"
}

// waitData waits until each Secret of want holds exactly its data, and
// type if types names one.
func (k *refCluster) waitData(t *testing.T, want map[string]map[string][]byte, types map[string]corev1.SecretType, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, func() (bool, error) {
		var wrong []string
		for _, name := range slices.Sorted(maps.Keys(want)) {
			s := k.secret(t, name)
			switch {
			case s == nil:
				wrong = append(wrong, fmt.Sprintf("%s: no Secret (%s)", name, k.ready(t, name)))
			case types[name] != "" && s.Type != types[name]:
				wrong = append(wrong, fmt.Sprintf("%s: type %s, want %s", name, s.Type, types[name]))
			default:
				if d := testkit.DiffData(s.Data, want[name]); d != "" {
					wrong = append(wrong, fmt.Sprintf("%s: %s (%s)", name, d, k.ready(t, name)))
				}
			}
		}
		if len(wrong) > 0 {
			return false, fmt.Errorf("%s", strings.Join(wrong, "; "))
		}
		return true, nil
	})
}

// generations returns the metadata.generation of every ExternalSecret
// of dest, by name: it changes only when the spec does.
func (k *refCluster) generations(t *testing.T) map[string]int64 {
	t.Helper()
	var list esv1.ExternalSecretList
	if err := k.e.Client.List(t.Context(), &list, client.InNamespace(k.dest)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, es := range list.Items {
		out[es.Name] = es.Generation
	}
	return out
}

// refreshToken is the operator's refresh webhook: a ServiceAccount of
// dest that may patch its ExternalSecrets, with a token for audience
// sealsync (kubectl create token ci --audience sealsync).
func (k *refCluster) refreshToken(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: k.dest}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "refresh", Namespace: k.dest}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{esv1.GroupName}, Resources: []string{"externalsecrets"}, Verbs: []string{"patch"},
	}}}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "refresh", Namespace: k.dest},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "refresh"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ci", Namespace: k.dest}},
	}
	for _, o := range []client.Object{sa, role, binding} {
		if err := k.e.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	k.e.WaitForGrant(t, k.dest, "ci", authzv1.ResourceAttributes{
		Namespace: k.dest, Verb: "patch", Group: esv1.GroupName, Resource: "externalsecrets", Name: "any",
	})
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{Audiences: []string{externalsecrets.DefaultRefreshAudience}}}
	if err := k.e.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// refresh asks the controller's POST /v1/refresh to refresh
// ExternalSecret dest/name now.
func (k *refCluster) refresh(t *testing.T, token, name string) {
	t.Helper()
	body, _ := json.Marshal(server.RefreshRequest{Kind: server.RefreshExternalSecret, Namespace: k.dest, Name: name})
	r := httptest.NewRequest(http.MethodPost, "/v1/refresh", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	k.c.Server.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"`+name+`"`) {
		t.Fatalf("POST /v1/refresh: %d %s", w.Code, w.Body)
	}
}

// logStores logs the conditions of the ClusterSecretStores, for a
// failure message.
func (k *refCluster) logStores(t *testing.T) {
	var list esv1.ClusterSecretStoreList
	if err := k.e.Client.List(context.Background(), &list); err != nil {
		t.Log(err)
		return
	}
	for _, st := range list.Items {
		for _, c := range st.Status.Conditions {
			t.Logf("ClusterSecretStore %s: %s=%s %s: %s", st.Name, c.Type, c.Status, c.Reason, c.Message)
		}
	}
}

// checkNoLeaks fails the test if 4 bytes in a row of a canary of v show
// in a controller log line, the status of an ExternalSecret of dest or
// an event there.
func (k *refCluster) checkNoLeaks(t *testing.T, v *refVault) {
	t.Helper()
	ctx := context.Background()
	texts := map[string]string{"the controller's logs": string(controllerLogs.Bytes())}
	var ess esv1.ExternalSecretList
	if err := k.e.Client.List(ctx, &ess, client.InNamespace(k.dest)); err != nil {
		t.Fatal(err)
	}
	for _, es := range ess.Items {
		texts["the status of ExternalSecret "+es.Name] = fmt.Sprintf("%+v", es.Status)
	}
	var events corev1.EventList
	if err := k.e.Client.List(ctx, &events, client.InNamespace(k.dest)); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		texts["an event about "+ev.InvolvedObject.Name] += ev.Message + "\n"
	}
	for where, text := range texts {
		for _, c := range v.canaries {
			if testkit.CanaryIn(text, c) != "" {
				t.Errorf("%s holds part of a Vault value", where)
				break
			}
		}
	}
}

// holdsNoCredentials fails the test if sidecar s can reach Vault v: its
// environment names neither the server nor a token, no file of its
// folder (the work folder of renders among them) holds a token, and it
// has no stores folder.
func holdsNoCredentials(t *testing.T, s *sidecar, v *refVault) {
	t.Helper()
	for _, kv := range s.env {
		if strings.Contains(kv, v.token) || strings.Contains(kv, v.RootToken) || strings.Contains(kv, v.Addr) || strings.HasPrefix(kv, "VAULT_") {
			t.Fatalf("the reference sidecar's environment names Vault: %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "stores")); !os.IsNotExist(err) {
		t.Fatalf("the reference sidecar has a stores folder (%v)", err)
	}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var b []byte
			if b, err = os.ReadFile(p); err == nil && (bytes.Contains(b, []byte(v.token)) || bytes.Contains(b, []byte(v.RootToken))) {
				t.Errorf("the reference sidecar's file %s holds a Vault token", p)
			}
		}
		// The server removes a render's work folder as it likes.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReferenceEquivalence is issue #14's proof on the real parts: the
// tenant's Secrets, every placeholder form and modifier among them and
// argocd-vault-plugin's documented examples, rendered through the real
// argocd-cmp-server in resolve mode (plain output: the values the
// plugin reads itself) and in reference mode (ExternalSecrets, from a
// sidecar that holds no Vault address or token, with no Vault request
// during the render). The ExternalSecrets, applied on envtest with the
// operator's ClusterSecretStores, make Secrets whose data is byte for
// byte, key for key, what resolve mode wrote. A value changed in Vault
// then reaches a Secret without a render: within its refreshInterval,
// and at once through POST /v1/refresh for one refreshed hourly. A
// ClusterSecretStore whose conditions leave out the destination
// namespace still refuses the ExternalSecrets the plugin emits.
func TestReferenceEquivalence(t *testing.T) {
	v := startRefVault(t)
	e := cluster(t)
	dest, ops := e.Namespace(t), e.Namespace(t)
	suffix := strings.ToLower(dest)
	stores := refStores{kv2: "vault-kv2-" + suffix, kv1: "vault-kv1-" + suffix, restricted: "vault-restricted-" + suffix}

	// The operator's two sidecars: resolve mode with the project's store
	// and Vault token, plain output; reference mode with the mapping
	// file alone.
	resolver := startSidecar(t, sidecarConfig{
		env:    []string{"SEALSYNC_OUTPUT=plain"},
		stores: vaultStore("team-eq", v.Addr, v.token),
	})
	referrer := startSidecar(t, sidecarConfig{
		env:        []string{"SEALSYNC_PLACEHOLDERS=reference"},
		storesFile: stores.mapping(),
	})
	holdsNoCredentials(t, referrer, v)
	repo := refRepo(t)
	a := app{repo: repo, path: "app", name: "eq", namespace: dest, project: "team-eq"}

	want, types := resolved(t, resolver, a)
	if len(want) < 8 {
		t.Fatalf("resolve mode made %d Secrets: %v", len(want), slices.Sorted(maps.Keys(want)))
	}
	// remove-missing drops the keys naming the missing field, and reference
	// mode must drop the same.
	if _, ok := want["optional"]["gone"]; ok || want["optional"]["both"] != nil || want["optional"]["user"] == nil {
		t.Fatalf("resolve mode's remove-missing kept %v", slices.Sorted(maps.Keys(want["optional"])))
	}

	before := v.auditEntries(t)
	r, err := referrer.generate(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.auditEntries(t) - before; n != 0 {
		t.Fatalf("Vault audited %d requests during the reference render, want none", n)
	}
	holdsNoCredentials(t, referrer, v)
	var emitted []string
	for i, o := range objects(t, r) {
		if o.GetKind() != "ExternalSecret" || o.GetNamespace() != dest || o.GetAnnotations()["sealsync.dev/rendered-as"] != "reference" {
			t.Errorf("reference mode made %s %s/%s (%v)", o.GetKind(), o.GetNamespace(), o.GetName(), o.GetAnnotations())
		}
		emitted = append(emitted, o.GetName())
		for _, c := range v.canaries {
			if testkit.CanaryIn(r.Manifests[i], c) != "" {
				t.Errorf("ExternalSecret %s holds part of a Vault value", o.GetName())
			}
		}
	}
	slices.Sort(emitted)
	if names := slices.Sorted(maps.Keys(want)); !slices.Equal(emitted, names) {
		t.Fatalf("reference mode made ExternalSecrets %v, resolve mode Secrets %v", emitted, names)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The destination cluster: the operator's token Secret and stores,
	// then the ExternalSecrets as Argo CD applies them.
	k := startController(t, e, dest, ops)
	t.Cleanup(func() {
		k.checkNoLeaks(t, v)
		if t.Failed() {
			k.logStores(t)
			if os.Getenv("SEALSYNC_E2E_LOGS") != "" {
				os.Stderr.Write(controllerLogs.Bytes())
			}
		}
	})
	k.apply(t, ops, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: vault-token\nstringData:\n  token: "+v.token+"\n")
	k.apply(t, "", clusterStore(v, stores.kv2, "v2", ops))
	k.apply(t, "", clusterStore(v, stores.kv1, "v1", ops))
	k.apply(t, "", clusterStore(v, stores.restricted, "v2", ops, ops))
	for _, m := range r.Manifests {
		k.apply(t, dest, m)
	}

	t.Run("the controller writes what resolve mode wrote", func(t *testing.T) {
		k.waitData(t, want, types, syncTimeout)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("a value changed in Vault reaches the Secret without a render", func(t *testing.T) {
		if _, err := v.Client.KVv2("secret").Put(t.Context(), "eq/app", v.appValues("second")); err != nil {
			t.Fatal(err)
		}
		// What a Hard Refresh would render now, in resolve mode.
		now, _ := resolved(t, resolver, a)
		for _, name := range []string{"modifiers", "generic"} {
			if testkit.DiffData(now[name], want[name]) == "" {
				t.Fatalf("%s: the change in Vault changes nothing resolve mode writes", name)
			}
		}
		generations := k.generations(t)
		// modifiers is refreshed every shortInterval: it follows on its
		// own. generic is refreshed hourly: it keeps the old values
		// until asked.
		k.waitData(t, map[string]map[string][]byte{"modifiers": now["modifiers"]}, nil, 2*shortInterval+syncTimeout)
		if d := testkit.DiffData(k.secret(t, "generic").Data, want["generic"]); d != "" {
			t.Fatalf("generic, refreshed hourly, changed before its refresh: %s", d)
		}
		k.refresh(t, k.refreshToken(t), "generic")
		k.waitData(t, map[string]map[string][]byte{"generic": now["generic"]}, nil, syncTimeout)
		// Nothing was rendered or applied again: the ExternalSecrets'
		// specs are those Argo CD applied.
		if got := k.generations(t); !maps.Equal(got, generations) {
			t.Errorf("ExternalSecret generations went from %v to %v", generations, got)
		}
	})

	t.Run("the store's conditions still decide", func(t *testing.T) {
		// The operator maps secret/data/restricted to a
		// ClusterSecretStore usable from the ops namespace only.
		r, err := referrer.generate(t, app{repo: repo, path: "restricted", name: "eq", namespace: dest, project: "team-eq"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Manifests) != 1 {
			t.Fatalf("%d manifests", len(r.Manifests))
		}
		k.apply(t, dest, r.Manifests[0])
		notAllowed := fmt.Sprintf("using ClusterSecretStore %q from namespace %q: namespace not allowed by the ClusterSecretStore's conditions", stores.restricted, dest)
		testkit.Eventually(t, syncTimeout, func() (bool, error) {
			got := k.ready(t, "restricted")
			return strings.Contains(got, "Ready=False") && strings.Contains(got, notAllowed), fmt.Errorf("%s", got)
		})
		if k.secret(t, "restricted") != nil {
			t.Error("a Secret was written from a store whose conditions refuse the namespace")
		}
	})
}
