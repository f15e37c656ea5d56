// Package install_test checks config/: the kustomization builds with
// kubectl, the API server accepts every object, and the controller works
// with exactly the RBAC the install grants, by running it as the install's
// ServiceAccount.
package install_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/controller/restart"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/keybackup"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

func fakeRegistry() *providers.Registry {
	r := providers.NewRegistry()
	r.Register(providers.Fake, fake.New())
	return r
}

var env *testkit.Env

func TestMain(m *testing.M) { os.Exit(testkit.Main(m, &env)) }

const saUser = "system:serviceaccount:kube-system:sealed-secrets-controller"

// build renders config/default with kubectl, as users install it.
func build(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is required: %v", err)
	}
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(root, "config", "default")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v", err)
	}
	docs, err := manifest.Split(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(d.Raw, &u.Object); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	return objs
}

func TestInstall(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ctx := context.Background()
	kinds := map[string]int{}
	for _, u := range build(t) {
		kinds[u.GetKind()]++
		if u.GetKind() == "CustomResourceDefinition" {
			continue // installed by testkit from the same files
		}
		if u.GetNamespace() != "" && u.GetNamespace() != "kube-system" {
			t.Errorf("%s %s is in namespace %s", u.GetKind(), u.GetName(), u.GetNamespace())
		}
		if err := e.Client.Create(ctx, u); err != nil {
			t.Fatalf("the API server rejected %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	for kind, want := range map[string]int{"CustomResourceDefinition": 5, "Deployment": 1, "Service": 2, "ServiceAccount": 1, "ClusterRole": 1, "Role": 2} {
		if kinds[kind] != want {
			t.Errorf("%d %s objects, want %d", kinds[kind], kind, want)
		}
	}
	var svc corev1.Service
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "sealed-secrets-controller"}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("service port = %+v, want Bitnami's http/8080", svc.Spec.Ports[0])
	}

	t.Run("controller works with the granted RBAC only", func(t *testing.T) {
		testControllerAsServiceAccount(t, e)
	})
	t.Run("authenticated users reach only the controller service proxy", func(t *testing.T) {
		testServiceProxyRBAC(t, e)
	})
}

func impersonate(cfg *rest.Config, user string, groups ...string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	return c
}

// waitForInstallRBAC waits until the install's grants to the
// controller's ServiceAccount ns/sa are in effect. The controller asks at
// start what it may do and does without the rest for good: begun before
// the API server's RBAC informers hold the install's bindings, it would
// write core/v1 Events and update SealedSecret status, which the install
// does not grant, and start a product only at its next recheck. One right
// of each binding, the cluster-wide one and the one in ns, tells that the
// binding and its role are in effect.
func waitForInstallRBAC(t *testing.T, e *testkit.Env, ns, sa string) {
	t.Helper()
	e.WaitForGrant(t, ns, sa, authzv1.ResourceAttributes{Verb: "create", Group: "events.k8s.io", Resource: "events"})
	e.WaitForGrant(t, ns, sa, authzv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: "coordination.k8s.io", Resource: "leases"})
}

func testControllerAsServiceAccount(t *testing.T, e *testkit.Env) {
	ctx := context.Background()
	waitForInstallRBAC(t, e, "kube-system", "sealed-secrets-controller")
	cfg := impersonate(e.Config, saUser, "system:serviceaccounts", "system:serviceaccounts:kube-system")
	backupID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(cfg, controller.Options{
		Keys:        keys.Options{Namespace: "kube-system", Prefix: keysecret.DefaultPrefix, Bits: 2048, ValidFor: crypto.DefaultCertValidity},
		MetricsAddr: "0", AllNamespaces: true, AcceptV1Data: true, UpdateStatus: true,
		MaxUnsealRetries: 5, Workers: 2, LeaderElection: true, LeaderElectionID: "sealsync-install-test",
		Server: server.Options{Addr: "127.0.0.1:0"},
		Backup: keys.BackupOptions{Recipients: backupID.Recipient().String(), ConfigMap: keys.DefaultBackupConfigMap},
		ES: externalsecrets.Options{
			Providers: fakeRegistry(), ControllerClass: "default", FloodGate: true,
			StoreInterval: time.Minute, DedupeTTL: time.Second, Workers: 2,
			Refresh: externalsecrets.RefreshOptions{Audiences: []string{externalsecrets.DefaultRefreshAudience}},
		},
		RestartOnSecretChange: true, Restart: restart.Options{Delay: time.Second},
	}, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Manager.Start(runCtx) }()
	defer func() { cancel(); <-done }()

	var key *crypto.Key
	testkit.Eventually(t, 60*time.Second, func() (bool, error) {
		k, err := c.Keys.Keyring().Latest()
		key = k
		return err == nil, err
	})
	testKeyBackupRBAC(t, e, c, backupID)
	ns := e.Namespace(t)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, StringData: map[string]string{"k": "v"}}
	ss, err := sealing.NewSealer(rand.Reader, &key.PrivateKey.PublicKey).SealSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var got corev1.Secret
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &got); err != nil {
			return false, err
		}
		return string(got.Data["k"]) == "v", nil
	})
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(ss), ss); err != nil {
			return false, err
		}
		if ss.Status == nil || len(ss.Status.Conditions) == 0 || ss.Status.Conditions[0].Status != corev1.ConditionTrue {
			return false, errors.New("status not written")
		}
		return true, nil
	})
	// The ExternalSecret half, with a ClusterExternalSecret provisioning an
	// ExternalSecret that reads a SecretStore in the namespace.
	store := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "fake", Namespace: ns}, Spec: esv1.SecretStoreSpec{
		Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{Data: []esv1.FakeProviderData{{Key: "/k", Value: "from-fake"}}}},
	}}
	if err := e.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
	ces := &esv1.ClusterExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "install-test"}, Spec: esv1.ClusterExternalSecretSpec{
		NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		ExternalSecretSpec: esv1.ExternalSecretSpec{
			SecretStoreRef: esv1.SecretStoreRef{Name: "fake"},
			Data:           []esv1.ExternalSecretData{{SecretKey: "v", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "/k"}}},
		},
	}}
	if err := e.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var got corev1.Secret
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "install-test"}, &got); err != nil {
			return false, err
		}
		return string(got.Data["v"]) == "from-fake", nil
	})
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var es esv1.ExternalSecret
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "install-test"}, &es); err != nil {
			return false, err
		}
		return len(es.Status.Conditions) > 0 && es.Status.Conditions[0].Status == corev1.ConditionTrue, errors.New("ExternalSecret status not written")
	})

	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var evs corev1.EventList
		if err := e.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range evs.Items {
			if ev.Reason == "Unsealed" {
				return true, nil
			}
		}
		return false, errors.New("no Unsealed event: cannot create events?")
	})
	testRefreshAndRestartRBAC(t, e, c, ns, store)
}

// testRefreshAndRestartRBAC: with the install's RBAC the controller
// watches and patches an opted-in Deployment, keeps its digest key in its
// namespace, authenticates a webhook's token, checks its rights and
// patches the ExternalSecret it refreshes; the refresh reads the new value
// and the Deployment rolls.
func testRefreshAndRestartRBAC(t *testing.T, e *testkit.Env, c *controller.Controller, ns string, store *esv1.SecretStore) {
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: map[string]string{restart.OptInAnnotation: "true"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "install-test"}}}}}}},
		}},
	}
	if err := e.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return false, err
		}
		_, ok := dep.Annotations[restart.RecordAnnotation]
		return ok, errors.New("the Deployment's Secrets were not recorded: cannot watch or patch Deployments?")
	})
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: restart.KeySecretName}, &corev1.Secret{}); err != nil {
		t.Fatalf("no digest key: %v", err)
	}

	// The webhook: a ServiceAccount allowed to patch ExternalSecrets in ns.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: ns}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "refresh", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{esv1.GroupName}, Resources: []string{"externalsecrets"}, Verbs: []string{"patch"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "refresh", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "refresh"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ci", Namespace: ns}}}
	for _, o := range []client.Object{sa, role, binding} {
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// The refresh asks the API server whether ci may patch the
	// ExternalSecret, which it answers from its RBAC informers.
	e.WaitForGrant(t, ns, "ci", authzv1.ResourceAttributes{
		Namespace: ns, Verb: "patch", Group: esv1.GroupName, Resource: "externalsecrets", Name: "install-test",
	})
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{Audiences: []string{externalsecrets.DefaultRefreshAudience}}}
	if err := e.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatal(err)
	}

	// The secret manager has a new value, and its event bus calls the
	// webhook.
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(store), store); err != nil {
		t.Fatal(err)
	}
	store.Spec.Provider.Fake.Data[0].Value = "rotated"
	if err := e.Client.Update(ctx, store); err != nil {
		t.Fatal(err)
	}
	// The refresh may reach the controller before the store's new spec
	// does and read the old value: ask again, within the rate limit,
	// until it brings the new one.
	body := `{"kind": "SecretStore", "namespace": "` + ns + `", "name": "fake"}`
	rotated := func() bool {
		var got corev1.Secret
		return e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "install-test"}, &got) == nil && string(got.Data["v"]) == "rotated"
	}
	for try := 0; !rotated(); try++ {
		if try == 6 {
			t.Fatal("the refreshes did not bring the new value")
		}
		r := httptest.NewRequest(http.MethodPost, "/v1/refresh", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tr.Status.Token)
		w := httptest.NewRecorder()
		c.Server.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"install-test"`) {
			t.Fatalf("refresh: %d %s", w.Code, w.Body)
		}
		for wait := time.Now().Add(5 * time.Second); !rotated() && time.Now().Before(wait); {
			time.Sleep(100 * time.Millisecond)
		}
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return false, err
		}
		return dep.Spec.Template.Annotations[restart.TemplateAnnotation] != "", errors.New("the Deployment was not restarted")
	})
}

// testKeyBackupRBAC: the controller creates its backup ConfigMap and, after
// a rotation, updates it, with the namespaced Role's rights; it may update
// no other ConfigMap in its namespace.
func testKeyBackupRBAC(t *testing.T, e *testkit.Env, c *controller.Controller, id *age.X25519Identity) {
	ctx := context.Background()
	backupKey := client.ObjectKey{Namespace: "kube-system", Name: keys.DefaultBackupConfigMap}
	holds := func(n int) func() (bool, error) {
		return func() (bool, error) {
			var cm corev1.ConfigMap
			if err := e.Client.Get(ctx, backupKey, &cm); err != nil {
				return false, err
			}
			b, err := keybackup.Open(strings.NewReader(cm.Data[keys.BackupDataKey]), id)
			if err != nil {
				return false, err
			}
			if got := len(b.Keys()); got != n || got != c.Keys.Keyring().Len() {
				return false, fmt.Errorf("backup holds %d keys, keyring %d, want %d", got, c.Keys.Keyring().Len(), n)
			}
			return true, nil
		}
	}
	testkit.Eventually(t, 30*time.Second, holds(1))

	// A rotation, requested as kubeseal keys rotate does, a second after
	// the first key so that the request is newer than it.
	var keys corev1.SecretList
	if err := e.Client.List(ctx, &keys, client.InNamespace("kube-system"), client.HasLabels{keysecret.Label}); err != nil || len(keys.Items) != 1 {
		t.Fatalf("key secrets: %v, %d", err, len(keys.Items))
	}
	time.Sleep(1100 * time.Millisecond)
	s := &keys.Items[0]
	s.Annotations = map[string]string{keysecret.RenewRequestAnnotation: time.Now().UTC().Format(time.RFC3339)}
	if err := e.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 60*time.Second, holds(2))

	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "coredns-lookalike", Namespace: "kube-system"}, Data: map[string]string{"k": "v"}}
	if err := e.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	sa, err := client.New(impersonate(e.Config, saUser, "system:serviceaccounts", "system:serviceaccounts:kube-system"), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	other.Data["k"] = "changed"
	if err := sa.Update(ctx, other); !apierrors.IsForbidden(err) {
		t.Fatalf("the controller may update another ConfigMap in its namespace: %v", err)
	}
}

func testServiceProxyRBAC(t *testing.T, e *testkit.Env) {
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(impersonate(e.Config, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	// Allowed by RBAC: the request reaches the proxy, which then fails for
	// lack of endpoints (503), not for lack of rights (403).
	_, err = cs.CoreV1().Services("kube-system").ProxyGet("http", "sealed-secrets-controller", "http", "/v1/cert.pem", nil).DoRaw(ctx)
	if apierrors.IsForbidden(err) {
		t.Fatalf("alice may not reach the controller: %v", err)
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.Status().Code != http.StatusServiceUnavailable {
		t.Logf("proxy answered %d (no endpoints in envtest)", se.Status().Code)
	}
	// Another service is not reachable.
	_, err = cs.CoreV1().Services("kube-system").ProxyGet("http", "sealed-secrets-controller-metrics", "metrics", "/metrics", nil).DoRaw(ctx)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("alice reached another service: %v", err)
	}
	// Nor the keys.
	_, err = cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("alice can list kube-system secrets: %v", err)
	}
}
