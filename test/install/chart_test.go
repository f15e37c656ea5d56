package install_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/spf13/pflag"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cmp"
	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/testkit"
)

const chartDir = "../../charts/sealsync"

// renderChart renders charts/sealsync with values for a release in ns.
func renderChart(t *testing.T, ns string, values map[string]any) map[string][]*unstructured.Unstructured {
	t.Helper()
	return testkit.RenderChart(t, chartDir, "sealsync", ns, values)
}

// rulesOf reads the rules of the first object of kind in objs.
func rulesOf(t *testing.T, objs []*unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	if len(objs) == 0 {
		t.Fatal("no such object")
	}
	b, err := yaml.Marshal(objs[0].Object["rules"])
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	return rules
}

// installRules reads the rules of the first object of kind in a file of
// config/rbac.
func installRules(t *testing.T, file, kind string) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../config/rbac", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if u.GetKind() == kind {
			return rulesOf(t, []*unstructured.Unstructured{u})
		}
	}
	t.Fatalf("no %s in %s", kind, file)
	return nil
}

// TestHelmChartLintsAndMatchesTheInstall: charts/sealsync lints without
// errors or warnings, and with its defaults grants exactly the RBAC of
// config/rbac, the one the kustomize install grants and test/install
// proves sufficient; turning a feature off drops its rules. With the Argo
// CD plugin on, it renders config/argocd's plugin.yaml and, from the
// operator's values, reference mode's store mapping.
func TestHelmChartLintsAndMatchesTheInstall(t *testing.T) {
	l := lint.RunAll(chartDir, nil, "kube-system")
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
	objs := renderChart(t, "kube-system", nil)
	if got, want := rulesOf(t, objs["ClusterRole"]), installRules(t, "role.yaml", "ClusterRole"); !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's ClusterRole differs from config/rbac/role.yaml:\n%v\nwant\n%v", got, want)
	}
	var roles []*unstructured.Unstructured
	for _, r := range objs["Role"] {
		if !strings.HasSuffix(r.GetName(), "-service-proxier") {
			roles = append(roles, r)
		}
	}
	if got, want := rulesOf(t, roles), installRules(t, "namespace_role.yaml", "Role"); !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's Role differs from config/rbac/namespace_role.yaml:\n%v\nwant\n%v", got, want)
	}
	if n := len(objs["CustomResourceDefinition"]); n != 5 {
		t.Errorf("%d CRDs rendered, want 5", n)
	}

	// The Argo CD plugin's plugin.yaml is config/argocd's, byte for byte.
	if _, ok := objs["ConfigMap"]; ok {
		t.Error("a ConfigMap rendered with the Argo CD plugin off")
	}
	withPlugin := renderChart(t, "kube-system", map[string]any{"argocdPlugin": map[string]any{"enabled": true}})
	want, err := os.ReadFile("../../config/argocd/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cms := withPlugin["ConfigMap"]; len(cms) != 1 || cms[0].GetNamespace() != "argocd" {
		t.Errorf("with the Argo CD plugin on: %d ConfigMaps, want sealsync-cmp-plugin in argocd", len(cms))
	} else if got, _, _ := unstructured.NestedString(cms[0].Object, "data", "plugin.yaml"); got != string(want) {
		t.Errorf("the chart's plugin.yaml differs from config/argocd/plugin.yaml:\n%s", got)
	}

	// Reference mode's store mapping (the operator's values) becomes the
	// ConfigMap the sidecar mounts, a file the plugin accepts.
	withStores := renderChart(t, "kube-system", map[string]any{"argocdPlugin": map[string]any{"enabled": true, "stores": map[string]any{
		"refreshInterval": "30m",
		"projects": map[string]any{"team-a": []any{map[string]any{
			"path": "secret/data/team-a", "key": "team-a", "kvVersion": "2",
			"store": map[string]any{"kind": "ClusterSecretStore", "name": "vault-team-a"},
		}}},
	}}})
	var stores *unstructured.Unstructured
	for _, cm := range withStores["ConfigMap"] {
		if cm.GetName() == "sealsync-plugin-stores" {
			stores = cm
		}
	}
	if stores == nil || stores.GetNamespace() != "argocd" {
		t.Errorf("with argocdPlugin.stores: no ConfigMap sealsync-plugin-stores in argocd")
	} else {
		file, _, _ := unstructured.NestedString(stores.Object, "data", "stores.yaml")
		m, err := cmp.ParseStoreMap([]byte(file))
		if err != nil {
			t.Fatalf("the chart's stores.yaml: %v\n%s", err, file)
		}
		got, err := m.Map("team-a", placeholder.Ref{Path: "secret/data/team-a/db", KVVersion: "2"})
		if err != nil || got.Key != "team-a/db" || got.Store.Name != "vault-team-a" || m.RefreshInterval.Duration != 30*time.Minute {
			t.Errorf("the chart's stores.yaml maps secret/data/team-a/db to %+v (%v), refreshInterval %s", got, err, m.RefreshInterval.Duration)
		}
	}

	off := renderChart(t, "kube-system", map[string]any{
		"externalSecrets":       map[string]any{"enabled": false},
		"restartOnSecretChange": map[string]any{"enabled": false},
	})
	for _, r := range rulesOf(t, off["ClusterRole"]) {
		for _, g := range r.APIGroups {
			if g == "external-secrets.io" || g == "apps" || g == "authentication.k8s.io" {
				t.Errorf("a rule for %s with the feature off: %v", g, r)
			}
		}
	}
	if n := len(off["CustomResourceDefinition"]); n != 1 {
		t.Errorf("%d CRDs rendered with ExternalSecrets off, want 1", n)
	}
}

// TestHelmChartInstall applies what charts/sealsync renders (the
// operator's install, CRDs aside: the envtest API server has them) to a
// namespace of its own and runs the controller with exactly the arguments
// of the rendered Deployment, as its ServiceAccount: a SealedSecret (a
// tenant's) unseals and an ExternalSecret of the fake provider syncs.
func TestHelmChartInstall(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	ctx := context.Background()
	ns := e.Namespace(t)
	objs := renderChart(t, ns, map[string]any{"allNamespaces": false, "additionalNamespaces": []string{}})
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment"} {
		for _, u := range objs[kind] {
			if err := e.Client.Create(ctx, u); err != nil {
				t.Fatalf("create %s %s: %v", kind, u.GetName(), err)
			}
			if u.GetNamespace() == "" {
				t.Cleanup(func() { _ = e.Client.Delete(context.Background(), u) })
			}
		}
	}
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs["Deployment"][0].Object, &dep); err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	flags := controller.BindFlags(fs)
	if err := fs.Parse(c.Args); err != nil {
		t.Fatalf("the chart's arguments %q: %v", c.Args, err)
	}
	opts, err := flags.Options(ns)
	if err != nil {
		t.Fatal(err)
	}
	// Free ports instead of the container's, a smaller key for speed, and
	// the fake provider (cmd/controller registers the real ones).
	opts.Server.Addr, opts.MetricsAddr, opts.Keys.Bits = "127.0.0.1:0", "0", 2048
	opts.ES.Providers = fakeRegistry()
	sa := dep.Spec.Template.Spec.ServiceAccountName
	waitForInstallRBAC(t, e, ns, sa)
	cfg := impersonate(e.Config, "system:serviceaccount:"+ns+":"+sa, "system:serviceaccounts", "system:serviceaccounts:"+ns)
	ctrlr, err := controller.New(cfg, opts, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrlr.Manager.Start(runCtx) }()
	defer func() { cancel(); <-done }()

	var key *crypto.Key
	testkit.Eventually(t, 60*time.Second, func() (bool, error) {
		k, err := ctrlr.Keys.Keyring().Latest()
		key = k
		return err == nil, err
	})
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, StringData: map[string]string{"k": "from-the-chart"}}
	ss, err := sealing.NewSealer(rand.Reader, &key.PrivateKey.PublicKey).SealSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	store := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "fake", Namespace: ns}, Spec: esv1.SecretStoreSpec{
		Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{Data: []esv1.FakeProviderData{{Key: "/k", Value: "from-fake"}}}},
	}}
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "from-fake", Namespace: ns}, Spec: esv1.ExternalSecretSpec{
		SecretStoreRef: esv1.SecretStoreRef{Name: "fake"},
		Data:           []esv1.ExternalSecretData{{SecretKey: "k", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "/k"}}},
	}}
	for _, o := range []client.Object{ss, store, es} {
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"db": "from-the-chart", "from-fake": "from-fake"} {
		testkit.Eventually(t, 60*time.Second, func() (bool, error) {
			var got corev1.Secret
			if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &got); err != nil {
				return false, err
			}
			return string(got.Data["k"]) == want, nil
		})
	}
}
