package controller_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestMetricsOmitSecretLabels: with Bitnami v0.40's
// --metrics-omit-secret-labels (the operator's flag) a SealedSecret's
// name never shows in /metrics.
func TestMetricsOmitSecretLabels(t *testing.T) {
	e, r := setup(t, func(o *controller.Options) { o.OmitConditionMetric = true })
	k := r.latestKey(t)
	create(t, e, seal(t, k, r.ns, "m", crypto.ScopeStrict, map[string]string{"v": "1"}))
	waitSynced(t, e, r.ns, "m", "True", "")
	time.Sleep(time.Second) // the gauge would be set right after the status write
	for _, m := range gather(t)["sealed_secrets_controller_condition_info"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "namespace" && l.GetValue() == r.ns {
				t.Fatalf("condition_info names a SealedSecret of %s: %v", r.ns, m)
			}
		}
	}
}

// TestMetricsAuthAndLiveAddr: ESO's --metrics-secure --metrics-auth and
// --live-addr (the operator's flags). /metrics answers only clients the
// API server authenticates and authorizes for it: no token 401, a
// ServiceAccount without the right 403, one bound to get /metrics 200.
// /healthz and /readyz answer on the live address. The HTTP API is off
// (address "0"), as under ESO's chart: the controller starts without it.
func TestMetricsAuthAndLiveAddr(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	metricsAddr, liveAddr := freeAddr(t), freeAddr(t)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	start(t, keyNS, ns, func(o *controller.Options) {
		o.MetricsAddr = metricsAddr
		o.Metrics = controller.MetricsOptions{Secure: true, Auth: true, CertDir: t.TempDir()}
		o.HealthAddr = liveAddr
		o.Server.Addr = "0"
	})

	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	nobody, scraper := token("nobody"), token("scraper")
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-" + ns},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{}) })
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{}) })
	// The metrics filter keeps a denial for 30 s, longer than the wait
	// below: asked before the API server's RBAC informers hold the
	// binding, it would go on answering 403.
	e.WaitForPathGrant(t, ns, "scraper", authzv1.NonResourceAttributes{Verb: "get", Path: "/metrics"})

	// The certificate is self-signed: there is nothing to verify it with.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(url, token string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, tt := range []struct {
		name, url, token string
		want             int
	}{
		{"no token", "https://" + metricsAddr + "/metrics", "", http.StatusUnauthorized},
		{"a token the API server does not know", "https://" + metricsAddr + "/metrics", "not-a-token", http.StatusUnauthorized},
		{"a ServiceAccount without the right", "https://" + metricsAddr + "/metrics", nobody, http.StatusForbidden},
		{"a ServiceAccount bound to get /metrics", "https://" + metricsAddr + "/metrics", scraper, http.StatusOK},
		{"healthz", "http://" + liveAddr + "/healthz", "", http.StatusOK},
		{"readyz", "http://" + liveAddr + "/readyz", "", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
				code, err := get(tt.url, tt.token)
				if err != nil {
					return false, err
				}
				return code == tt.want, fmt.Errorf("status %d, want %d", code, tt.want)
			})
		})
	}
}
