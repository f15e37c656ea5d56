package externalsecrets_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/vault"
)

// vaultRequest is one request the recording Vault received, whole.
type vaultRequest struct {
	method, path string
	header       http.Header
	body         string
}

// recordingVault plays Vault at the server URL a store names: it records
// every request, headers and body included, and answers a login, a
// lookup-self and a revocation.
type recordingVault struct {
	*httptest.Server
	mu       sync.Mutex
	requests []vaultRequest
}

func newRecordingVault(t *testing.T) *recordingVault {
	t.Helper()
	v := &recordingVault{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		v.mu.Lock()
		v.requests = append(v.requests, vaultRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: string(body)})
		v.mu.Unlock()
		var answer any
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/auth/") && strings.HasSuffix(r.URL.Path, "/login"):
			answer = map[string]any{"auth": map[string]any{"client_token": "s.recorded", "lease_duration": 3600}}
		case r.URL.Path == "/v1/auth/token/lookup-self":
			answer = map[string]any{"data": map[string]any{"policies": []string{"default"}, "ttl": 3600}}
		case r.URL.Path == "/v1/auth/token/revoke-self":
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(v.Close)
	return v
}

func (v *recordingVault) all() []vaultRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.requests)
}

// logins returns the JWTs of the logins sent for a Vault role.
func (v *recordingVault) logins(t *testing.T, role string) []string {
	t.Helper()
	var jwts []string
	for _, r := range v.all() {
		if !strings.HasSuffix(r.path, "/login") {
			continue
		}
		var body struct{ Role, JWT string }
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatalf("login body: %v", err)
		}
		if body.Role == role {
			jwts = append(jwts, body.JWT)
		}
	}
	return jwts
}

// claims are the parts of a ServiceAccount token the tests check.
type claims struct {
	Sub      string
	Aud      []string
	Iat, Exp int64
}

// tokenClaims decodes a JWT's claims without checking its signature: the
// tests only ask what the API server put in it.
func tokenClaims(t *testing.T, jwt string) claims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// mintToken requests a token for ServiceAccount ns/name as the test's
// administrator, with no audience unless given: the API server's own.
func mintToken(t *testing.T, e *testkit.Env, ns, name string, audiences ...string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr.To[int64](3600)}}
	if err := e.Client.SubResource("token").Create(context.Background(), sa, tr); err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// apiServerAudiences are the audiences the API server gives a token
// requested with none: what a token must never carry when it goes to a
// store's server.
func apiServerAudiences(t *testing.T, e *testkit.Env, ns string) []string {
	t.Helper()
	create(t, e, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "audience-probe", Namespace: ns}})
	aud := tokenClaims(t, mintToken(t, e, ns, "audience-probe")).Aud
	if len(aud) == 0 {
		t.Fatal("a token requested with no audience has none")
	}
	return aud
}

// startVaultES starts a controller, reaching the API server through cfg,
// that serves stores of a class of its own with the real Vault provider,
// so no other test's controller touches them. allow is the operator's
// --allow-cluster-store-controller-identity.
func startVaultES(t *testing.T, e *testkit.Env, cfg *rest.Config, allow bool) (*controllertest.Running, string) {
	t.Helper()
	class := "identity-" + utilrand.String(6)
	reg := providers.NewRegistry()
	reg.Register(providers.Vault, vault.New())
	r := startAs(t, cfg, e.Namespace(t), e.Namespace(t), func(o *controller.Options) {
		o.ES = externalsecrets.Options{
			Providers: reg, ControllerClass: class, FloodGate: true, StoreInterval: time.Minute,
			DedupeTTL: time.Second, Workers: 2, AllowControllerIdentity: allow,
		}
	})
	return r, class
}

// kubernetesStore is a store of kind in namespace ns (none for a
// ClusterSecretStore) that logs in to server with Vault's kubernetes
// method and names no credentials: the controller's own identity.
func kubernetesStore(t *testing.T, e *testkit.Env, kind, ns, name, class, server, role string) client.Object {
	t.Helper()
	spec := esv1.SecretStoreSpec{Controller: class, Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
		// No path: validation then asks no more than a lookup-self.
		Server: server, Auth: &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: role}},
	}}}
	var obj client.Object
	if kind == esv1.ClusterSecretStoreKind {
		obj = &esv1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	} else {
		obj = &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	}
	create(t, e, obj)
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), obj) })
	return obj
}

// waitStoreReady waits for a store's Ready condition to have status and a
// message containing msg, and returns the condition.
func waitStoreReady(t *testing.T, e *testkit.Env, obj client.Object, status corev1.ConditionStatus, msg string) esv1.SecretStoreStatusCondition {
	t.Helper()
	var got esv1.SecretStoreStatusCondition
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		var st esv1.SecretStoreStatus
		switch s := obj.(type) {
		case *esv1.SecretStore:
			st = s.Status
		case *esv1.ClusterSecretStore:
			st = s.Status
		}
		for _, c := range st.Conditions {
			if c.Type == esv1.SecretStoreReady {
				got = c
				if c.Status == status && strings.Contains(c.Message, msg) {
					return true, nil
				}
				return false, fmt.Errorf("Ready is %s (%s): %s", c.Status, c.Reason, c.Message)
			}
		}
		return false, errors.New("no Ready condition yet")
	})
	return got
}

// TestStoreNeverGetsControllerIdentityByDefault: tenant SecretStores and a
// ClusterSecretStore use Vault's kubernetes auth with neither
// serviceAccountRef nor secretRef, pointing at a server that records
// everything (the store spec and its server URL are the tenant's input).
// The operator left --allow-cluster-store-controller-identity off. Store
// validation alone used to send the controller's own token there; now both
// stores are refused with a Ready condition that says why, and the server
// receives no request at all.
func TestStoreNeverGetsControllerIdentityByDefault(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	rv := newRecordingVault(t)
	r, class := startVaultES(t, e, e.Config, false)

	tenant := kubernetesStore(t, e, esv1.SecretStoreKind, r.NS, "tenant", class, rv.URL, "tenant")
	cluster := kubernetesStore(t, e, esv1.ClusterSecretStoreKind, "", "cluster-"+r.NS, class, rv.URL, "cluster")

	c := waitStoreReady(t, e, tenant, corev1.ConditionFalse, "names neither serviceAccountRef nor secretRef")
	if c.Reason != esv1.ReasonInvalidProviderConfig || !strings.Contains(c.Message, "a SecretStore must name its own credentials") {
		t.Errorf("SecretStore Ready: %s: %s", c.Reason, c.Message)
	}
	c = waitStoreReady(t, e, cluster, corev1.ConditionFalse, "--allow-cluster-store-controller-identity")
	if c.Reason != esv1.ReasonInvalidProviderConfig {
		t.Errorf("ClusterSecretStore Ready: %s: %s", c.Reason, c.Message)
	}
	// Both stores are validated (and refused) by now; anything sent would
	// have been sent before the condition was written.
	for _, req := range rv.all() {
		t.Errorf("Vault received %s %s (Authorization %q, X-Vault-Token %q, body %d bytes)",
			req.method, req.path, req.header.Get("Authorization"), req.header.Get("X-Vault-Token"), len(req.body))
	}
}

// asServiceAccount creates ServiceAccount saNS/sealsync-controller, bound
// to cluster-admin, and returns a config that reaches the API server as it:
// a controller running as a ServiceAccount, as in a cluster.
func asServiceAccount(t *testing.T, e *testkit.Env, saNS string) *rest.Config {
	t.Helper()
	create(t, e, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sealsync-controller", Namespace: saNS}})
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "identity-test-" + saNS},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "sealsync-controller", Namespace: saNS}},
	}
	create(t, e, crb)
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), crb) })
	e.WaitForGrant(t, saNS, "sealsync-controller", authzv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"})
	return &rest.Config{
		Host: e.Config.Host, BearerToken: mintToken(t, e, saNS, "sealsync-controller"),
		TLSClientConfig: rest.TLSClientConfig{CAData: e.Config.CAData},
	}
}

// TestClusterStoreControllerIdentityWhenAllowed: the operator starts the
// controller with --allow-cluster-store-controller-identity, and the
// controller runs as a ServiceAccount. A ClusterSecretStore naming no
// credentials logs in with a fresh token of that ServiceAccount for
// audience "vault", valid for 10 minutes, not with a token the API server
// would accept; a tenant SecretStore is still refused and sends nothing.
func TestClusterStoreControllerIdentityWhenAllowed(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	saNS := e.Namespace(t)
	asController := asServiceAccount(t, e, saNS)
	apiAud := apiServerAudiences(t, e, saNS)

	rv := newRecordingVault(t)
	r, class := startVaultES(t, e, asController, true)
	tenant := kubernetesStore(t, e, esv1.SecretStoreKind, r.NS, "tenant", class, rv.URL, "tenant")
	cluster := kubernetesStore(t, e, esv1.ClusterSecretStoreKind, "", "cluster-"+r.NS, class, rv.URL, "cluster")

	waitStoreReady(t, e, cluster, corev1.ConditionTrue, "")
	waitStoreReady(t, e, tenant, corev1.ConditionFalse, "a SecretStore must name its own credentials")
	if jwts := rv.logins(t, "tenant"); len(jwts) != 0 {
		t.Errorf("the SecretStore sent %d logins", len(jwts))
	}
	jwts := rv.logins(t, "cluster")
	if len(jwts) == 0 {
		t.Fatal("the ClusterSecretStore did not log in")
	}
	got := tokenClaims(t, jwts[0])
	if want := "system:serviceaccount:" + saNS + ":sealsync-controller"; got.Sub != want {
		t.Errorf("token subject %q, want %q", got.Sub, want)
	}
	if !slices.Equal(got.Aud, []string{"vault"}) {
		t.Errorf("token audiences %q, want [vault]", got.Aud)
	}
	for _, a := range apiAud {
		if slices.Contains(got.Aud, a) {
			t.Errorf("token carries the API server's audience %q", a)
		}
	}
	if d := got.Exp - got.Iat; d != providers.MinTokenExpiration {
		t.Errorf("token valid for %d s, want %d", d, providers.MinTokenExpiration)
	}
}

// TestControllerIdentityNeedsServiceAccount: the operator turns the flag
// on but runs the controller as a user that is no ServiceAccount (the
// test's administrator): the controller refuses to start, saying why,
// rather than failing each ClusterSecretStore later.
func TestControllerIdentityNeedsServiceAccount(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	reg := providers.NewRegistry()
	reg.Register(providers.Vault, vault.New())
	_, err := controller.New(e.Config, controller.Options{
		Keys:        keys.Options{Namespace: e.Namespace(t), Prefix: "sealed-secrets-key", Bits: controllertest.Bits},
		MetricsAddr: "0",
		Server:      controllertest.TestServer,
		ES:          externalsecrets.Options{Providers: reg, ControllerClass: "never-served", AllowControllerIdentity: true},
	}, controller.SharedProcess())
	if err == nil || !strings.Contains(err.Error(), "--allow-cluster-store-controller-identity") || !strings.Contains(err.Error(), "not as a ServiceAccount") {
		t.Fatalf("New: error %v, want a refusal to start", err)
	}
}
