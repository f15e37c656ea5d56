package externalsecrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

// liveProvider is the fake provider with live secrets, /live and any key
// under /live/, which all hold one value the test changes as a secret
// manager's would change, counting the reads that reach them.
type liveProvider struct {
	providers.Provider
	value atomic.Pointer[string]
	reads atomic.Int64
}

func newLiveProvider(v string) *liveProvider {
	p := &liveProvider{Provider: fake.New()}
	p.set(v)
	return p
}

func (p *liveProvider) set(v string) { p.value.Store(&v) }

func (p *liveProvider) NewClient(ctx context.Context, s providers.Store, k providers.Kube) (providers.Client, error) {
	c, err := p.Provider.NewClient(ctx, s, k)
	if err != nil {
		return nil, err
	}
	return &liveClient{Client: c, p: p}, nil
}

type liveClient struct {
	providers.Client
	p *liveProvider
}

func (c *liveClient) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	if ref.Key != "/live" && !strings.HasPrefix(ref.Key, "/live/") {
		return c.Client.GetSecret(ctx, ref)
	}
	c.p.reads.Add(1)
	return []byte(*c.p.value.Load()), nil
}

// liveES is a tenant's ExternalSecret reading /live from store (kind,
// name) with a refresh interval so long that only a requested refresh
// reads the provider again.
func liveES(name, kind, store string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: %s
spec:
  refreshInterval: 8760h
  secretStoreRef:
    kind: %s
    name: %s
  data:
  - secretKey: v
    remoteRef:
      key: /live
`, name, kind, store)
}

// refreshCaller is a webhook: a ServiceAccount (created by the operator)
// with a token for audience "sealsync", as `kubectl create token
// --audience sealsync` makes one.
type refreshCaller struct {
	name, token string
}

func newRefreshCaller(t *testing.T, e *testkit.Env, ns, name string) refreshCaller {
	t.Helper()
	create(t, e, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	return refreshCaller{name: name, token: mintToken(t, e, ns, name, externalsecrets.DefaultRefreshAudience)}
}

// grantPatch is the operator's RBAC: the ServiceAccount saNS/sa may patch
// ExternalSecrets in ns, only those named if names are given.
func grantPatch(t *testing.T, e *testkit.Env, ns, saNS, sa string, names ...string) {
	t.Helper()
	name := "refresh-" + sa
	create(t, e, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{esv1.GroupName}, Resources: []string{"externalsecrets"},
			Verbs: []string{"patch"}, ResourceNames: names,
		}},
	})
	create(t, e, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: saNS}},
	})
	probe := "any"
	if len(names) > 0 {
		probe = names[0]
	}
	e.WaitForGrant(t, saNS, sa, authzv1.ResourceAttributes{
		Namespace: ns, Verb: "patch", Group: esv1.GroupName, Resource: "externalsecrets", Name: probe,
	})
}

// refresher posts to a running controller's POST /v1/refresh, each
// request from an address of its own unless told otherwise, so that only
// the per-user rate limit is in play.
type refresher struct {
	h    http.Handler
	addr atomic.Int32
}

func (rf *refresher) post(token, body string) *httptest.ResponseRecorder {
	n := rf.addr.Add(1)
	return rf.postFrom(net.IPv4(198, 18, byte(n>>8), byte(n)).String(), token, body)
}

func (rf *refresher) postFrom(addr, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/v1/refresh", strings.NewReader(body))
	r.RemoteAddr = net.JoinHostPort(addr, "40000")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	rf.h.ServeHTTP(w, r)
	return w
}

func refreshBody(kind, ns, name string) string {
	b, _ := json.Marshal(server.RefreshRequest{Kind: kind, Namespace: ns, Name: name})
	return string(b)
}

func decodeResult(t *testing.T, w *httptest.ResponseRecorder) server.RefreshResult {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var res server.RefreshResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func refreshRequested(t *testing.T, e *testkit.Env, ns, name string) bool {
	t.Helper()
	var es esv1.ExternalSecret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &es); err != nil {
		t.Fatal(err)
	}
	_, ok := es.Annotations[externalsecrets.RefreshRequestedAnnotation]
	return ok
}

// refreshOptions are the operator's: sealsync's token audience, at most
// three ExternalSecrets per request, and a rate of one request per 1000
// seconds with a burst of 5, per address and per user.
func refreshOptions(extraNS ...string) controllertest.Option {
	return func(o *controller.Options) {
		o.ES.Refresh = externalsecrets.RefreshOptions{Audiences: []string{externalsecrets.DefaultRefreshAudience}, MaxObjects: 3}
		o.Server.RateLimit, o.Server.RateBurst = 0.001, 5
		o.AdditionalNamespaces = append(o.AdditionalNamespaces, extraNS...)
	}
}

// setupOneES starts a controller with the operator's refreshOptions, a
// tenant's ExternalSecret "db" synced from the live provider ("v1"), and a
// webhook "ci" allowed to patch the ExternalSecrets of the namespace.
func setupOneES(t *testing.T) (*testkit.Env, *controllertest.Running, *liveProvider, *refresher, refreshCaller) {
	t.Helper()
	p := newLiveProvider("v1")
	e, r := setup(t, controllertest.ExternalSecrets(p, 5*time.Second), refreshOptions())
	apply(t, e, r.NS, fakeStore+"---\n"+liveES("db", "SecretStore", "fake"))
	waitSecret(t, e, r.NS, "db", hasData(map[string]string{"v": "v1"}))
	ci := newRefreshCaller(t, e, r.NS, "ci")
	grantPatch(t, e, r.NS, r.NS, "ci")
	return e, r, p, &refresher{h: r.Server.Handler()}, ci
}

// TestRefreshOneExternalSecret: a webhook allowed to patch a tenant's
// ExternalSecret refreshes it, and the refresh reads the provider again
// and writes the value the provider has now; a webhook without the right,
// or without a valid token, changes nothing.
func TestRefreshOneExternalSecret(t *testing.T) {
	e, r, p, rf, ci := setupOneES(t)
	nobody := newRefreshCaller(t, e, r.NS, "nobody")
	apiToken := mintToken(t, e, r.NS, "ci") // the API server's audience

	// The provider's value changes; no refresh is due for a year.
	p.set("v2")
	before := p.reads.Load()
	body := refreshBody(server.RefreshExternalSecret, r.NS, "db")
	for _, tc := range []struct {
		name, token, body string
		want              int
	}{
		{"caller sends no token", "", body, http.StatusUnauthorized},
		{"caller sends a forged token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", body, http.StatusUnauthorized},
		{"caller sends a token for the API server, not for sealsync", apiToken, body, http.StatusUnauthorized},
		{"caller may not patch it", nobody.token, body, http.StatusForbidden},
		{"caller may not patch it, and it does not exist", nobody.token, refreshBody(server.RefreshExternalSecret, r.NS, "nope"), http.StatusForbidden},
		{"caller may patch it, but it does not exist", ci.token, refreshBody(server.RefreshExternalSecret, r.NS, "nope"), http.StatusNotFound},
		{"caller names a namespace the controller does not serve", ci.token, refreshBody(server.RefreshExternalSecret, "kube-system", "db"), http.StatusForbidden},
		{"caller sends an oversized body", ci.token, `{"kind": "ExternalSecret", "pad": "` + strings.Repeat("x", 8<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := rf.post(tc.token, tc.body)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if strings.Contains(w.Body.String(), "v1") || strings.Contains(w.Body.String(), "v2") {
				t.Errorf("the answer carries a secret value: %s", w.Body)
			}
		})
	}
	if refreshRequested(t, e, r.NS, "db") {
		t.Fatal("a refused request patched the ExternalSecret")
	}
	controllertest.AssertUntouched(t, e, waitSecret(t, e, r.NS, "db", hasData(map[string]string{"v": "v1"})))

	res := decodeResult(t, rf.post(ci.token, body))
	if len(res.Refreshed) != 1 || res.Refreshed[0] != (server.ObjectRef{Namespace: r.NS, Name: "db"}) || len(res.Skipped) != 0 {
		t.Fatalf("answer %+v", res)
	}
	waitSecret(t, e, r.NS, "db", hasData(map[string]string{"v": "v2"}))
	if p.reads.Load() == before {
		t.Fatal("the Secret changed without a provider read")
	}
	if !refreshRequested(t, e, r.NS, "db") {
		t.Fatal("no refresh annotation")
	}
}

// TestRefreshStore: a webhook asks for every ExternalSecret of a
// ClusterSecretStore (the operator's) that tenants in two namespaces use.
// The operator's RBAC lets it patch every ExternalSecret of one namespace
// and one named ExternalSecret of the other: exactly those are refreshed,
// and the answer does not mention the other one. A store used by more
// ExternalSecrets than the operator allows per request is refused before
// anything is patched, unless the caller names a namespace.
func TestRefreshStore(t *testing.T) {
	p := newLiveProvider("v1")
	e := testkit.RequireEnv(t, env)
	ns1, ns2 := e.Namespace(t), e.Namespace(t)
	r := start(t, e.Namespace(t), ns1, controllertest.ExternalSecrets(p, 5*time.Second), refreshOptions(ns2))
	rf := &refresher{h: r.Server.Handler()}
	store := "refresh-" + ns1
	css := strings.Replace(strings.Replace(fakeStore, "kind: SecretStore", "kind: ClusterSecretStore", 1), "name: fake", "name: "+store, 1)
	apply(t, e, "", css)
	t.Cleanup(func() {
		_ = e.Client.Delete(ctx, &esv1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: store}})
	})
	apply(t, e, ns1, liveES("a1", "ClusterSecretStore", store)+"---\n"+liveES("a2", "ClusterSecretStore", store))
	apply(t, e, ns2, liveES("b-allowed", "ClusterSecretStore", store)+"---\n"+liveES("b-hidden", "ClusterSecretStore", store))
	all := [][2]string{{ns1, "a1"}, {ns1, "a2"}, {ns2, "b-allowed"}, {ns2, "b-hidden"}}
	for _, k := range all {
		waitSecret(t, e, k[0], k[1], hasData(map[string]string{"v": "v1"}))
	}
	ci := newRefreshCaller(t, e, ns1, "ci")
	grantPatch(t, e, ns1, ns1, "ci")
	grantPatch(t, e, ns2, ns1, "ci", "b-allowed")
	p.set("v2")

	// Four ExternalSecrets use the store; the operator allows three.
	w := rf.post(ci.token, refreshBody(server.RefreshClusterSecretStore, "", store))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("store used by 4, limit 3: status %d, want 413: %s", w.Code, w.Body)
	}
	for _, k := range all {
		if refreshRequested(t, e, k[0], k[1]) {
			t.Fatalf("%s/%s was patched by a refused request", k[0], k[1])
		}
	}

	// Per namespace: ns1 whole, ns2 only what the caller may patch.
	for _, ns := range []string{ns1, ns2} {
		w := rf.post(ci.token, refreshBody(server.RefreshClusterSecretStore, ns, store))
		res := decodeResult(t, w)
		if strings.Contains(w.Body.String(), "b-hidden") {
			t.Errorf("the answer names an ExternalSecret the caller may not patch: %s", w.Body)
		}
		if len(res.Skipped) != 0 {
			t.Errorf("skipped %+v", res.Skipped)
		}
		want := map[string][]string{ns1: {"a1", "a2"}, ns2: {"b-allowed"}}[ns]
		var got []string
		for _, ref := range res.Refreshed {
			got = append(got, ref.Name)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: refreshed %q, want %q", ns, got, want)
		}
	}
	for _, k := range all[:3] {
		waitSecret(t, e, k[0], k[1], hasData(map[string]string{"v": "v2"}))
	}
	time.Sleep(controllertest.Quiet)
	if refreshRequested(t, e, ns2, "b-hidden") {
		t.Fatal("an ExternalSecret the caller may not patch was refreshed")
	}
	waitSecret(t, e, ns2, "b-hidden", hasData(map[string]string{"v": "v1"}))
}

// TestRefreshSecretStoreAndPolicies: a webhook refreshes every
// ExternalSecret of a tenant's SecretStore; one whose tenant chose
// refreshPolicy CreatedOnce is reported as skipped, since a refresh
// would not read it again, and one provisioned by a ClusterExternalSecret
// keeps the request (the ClusterExternalSecret does not undo it, which
// would refresh it a second time).
func TestRefreshSecretStoreAndPolicies(t *testing.T) {
	p := newLiveProvider("v1")
	e, r := setup(t, controllertest.ExternalSecrets(p, 5*time.Second), refreshOptions())
	rf := &refresher{h: r.Server.Handler()}
	// Each ExternalSecret reads a key of its own: reads of one key by
	// refreshes begun together may be shared (any read begun after a
	// refresh began will do for it), and the test counts one read per
	// refreshed ExternalSecret, none for the others.
	once := strings.Replace(liveES("once", "SecretStore", "fake"), "spec:\n", "spec:\n  refreshPolicy: CreatedOnce\n", 1)
	once = strings.Replace(once, "key: /live\n", "key: /live/once\n", 1)
	apply(t, e, r.NS, fakeStore+"---\n"+liveES("plain", "SecretStore", "fake")+"---\n"+once)
	ces := &esv1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "refresh-" + r.NS},
		Spec: esv1.ClusterExternalSecretSpec{
			NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"kubernetes.io/metadata.name": r.NS}}},
			ExternalSecretName: "from-ces",
			ExternalSecretSpec: esv1.ExternalSecretSpec{
				RefreshInterval: &metav1.Duration{Duration: 8760 * time.Hour},
				SecretStoreRef:  esv1.SecretStoreRef{Name: "fake"},
				Data:            []esv1.ExternalSecretData{{SecretKey: "v", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "/live/from-ces"}}},
			},
		},
	}
	create(t, e, ces)
	t.Cleanup(func() { _ = e.Client.Delete(ctx, ces) })
	for _, name := range []string{"plain", "once", "from-ces"} {
		waitSecret(t, e, r.NS, name, hasData(map[string]string{"v": "v1"}))
		waitES(t, e, r.NS, name, corev1.ConditionTrue, "secret synced")
	}
	ci := newRefreshCaller(t, e, r.NS, "ci")
	grantPatch(t, e, r.NS, r.NS, "ci")
	// Reconciles of the first syncs (the store becoming Ready, the
	// ClusterExternalSecret's status) may still be under way: let them
	// end before counting.
	time.Sleep(controllertest.Quiet)
	p.set("v2")
	before := p.reads.Load()

	res := decodeResult(t, rf.post(ci.token, refreshBody(server.RefreshSecretStore, r.NS, "fake")))
	if len(res.Refreshed) != 2 || res.Refreshed[0].Name != "from-ces" || res.Refreshed[1].Name != "plain" {
		t.Errorf("refreshed %+v, want from-ces and plain", res.Refreshed)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Name != "once" || !strings.Contains(res.Skipped[0].Reason, "CreatedOnce") {
		t.Errorf("skipped %+v, want once (CreatedOnce)", res.Skipped)
	}
	waitSecret(t, e, r.NS, "plain", hasData(map[string]string{"v": "v2"}))
	waitSecret(t, e, r.NS, "from-ces", hasData(map[string]string{"v": "v2"}))
	time.Sleep(controllertest.Quiet)
	if got := p.reads.Load() - before; got != 2 {
		t.Errorf("%d provider reads, want 2: one per refreshed ExternalSecret", got)
	}
	if !refreshRequested(t, e, r.NS, "from-ces") {
		t.Error("the ClusterExternalSecret removed the refresh annotation")
	}
	waitSecret(t, e, r.NS, "once", hasData(map[string]string{"v": "v1"}))
}

// TestRefreshRateLimit: the operator's rate limit (burst 5 here) holds per
// user even when the caller claims a new address for each request; the
// 429 carries Retry-After, and nothing is patched for refused requests.
func TestRefreshRateLimit(t *testing.T) {
	e, r, _, rf, ci := setupOneES(t)
	body := refreshBody(server.RefreshExternalSecret, r.NS, "db")
	for i := range 5 {
		if w := rf.post(ci.token, body); w.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, w.Code, w.Body)
		}
	}
	var es esv1.ExternalSecret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "db"}, &es); err != nil {
		t.Fatal(err)
	}
	w := rf.post(ci.token, body)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("beyond the burst: %d (Retry-After %q), want 429", w.Code, w.Header().Get("Retry-After"))
	}
	var after esv1.ExternalSecret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "db"}, &after); err != nil {
		t.Fatal(err)
	}
	if after.Annotations[externalsecrets.RefreshRequestedAnnotation] != es.Annotations[externalsecrets.RefreshRequestedAnnotation] {
		t.Fatal("a rate-limited request patched the ExternalSecret")
	}
	// Without a token, from one address: the per-address limit.
	for i := range 6 {
		w := rf.postFrom("198.51.100.1", "", body)
		if want := map[bool]int{true: http.StatusUnauthorized, false: http.StatusTooManyRequests}[i < 5]; w.Code != want {
			t.Fatalf("unauthenticated request %d from one address: %d, want %d", i+1, w.Code, want)
		}
	}
}

// TestRefreshThroughStandby: the operator runs two replicas with leader
// election, and the Service sends a webhook's request to the standby,
// which reconciles nothing: it only sets the annotation, and the leader,
// seeing it through its watch, refreshes.
func TestRefreshThroughStandby(t *testing.T) {
	p := newLiveProvider("v1")
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	opts := []controllertest.Option{controllertest.ExternalSecrets(p, 5*time.Second), refreshOptions(), func(o *controller.Options) {
		o.LeaderElection, o.LeaderElectionID = true, "refresh-"+ns
	}}
	start(t, keyNS, ns, opts...)
	apply(t, e, ns, fakeStore+"---\n"+liveES("db", "SecretStore", "fake"))
	// Only a leader syncs: the first replica leads.
	waitSecret(t, e, ns, "db", hasData(map[string]string{"v": "v1"}))
	standby := start(t, keyNS, ns, opts...)
	ci := newRefreshCaller(t, e, ns, "ci")
	grantPatch(t, e, ns, ns, "ci")
	p.set("v2")

	rf := &refresher{h: standby.Server.Handler()}
	res := decodeResult(t, rf.post(ci.token, refreshBody(server.RefreshExternalSecret, ns, "db")))
	if len(res.Refreshed) != 1 {
		t.Fatalf("answer %+v", res)
	}
	waitSecret(t, e, ns, "db", hasData(map[string]string{"v": "v2"}))
}
