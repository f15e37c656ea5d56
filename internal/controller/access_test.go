package controller_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/spf13/pflag"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers/fake"
)

// TestUnderBitnamiChartRBAC renders Bitnami's own chart (v0.36.6, from
// its module; operator input) with the Helm SDK, applies its RBAC and runs
// the controller with exactly the arguments the chart gives Bitnami's
// controller, as the chart's ServiceAccount:
// no Leases, no events.k8s.io, update but not patch on SealedSecret
// status, nothing of ESO's or on workloads. Leader election is asked
// for, as Bitnami's chart does not, and ExternalSecrets and restarts on
// Secret change are on. The controller starts
// anyway: one replica without leader election, SealedSecrets unsealed
// with their status updated and core/v1 Events, the ExternalSecret half
// and restarts off with a log line each; once the operator grants ESO's resources, it
// starts without a restart and syncs (the objects are a tenant's).
func TestUnderBitnamiChartRBAC(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	chart := filepath.Join(testkit.ModuleDir(t, "kubeseal", "github.com/bitnami-labs/sealed-secrets", "v0.36.6"), "helm", "sealed-secrets")
	objs := testkit.RenderChart(t, chart, "sealed-secrets", keyNS, map[string]any{
		"rbac": map[string]any{"clusterRoleName": keyNS + "-secrets-unsealer"},
	})
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		for _, u := range objs[kind] {
			if u.GetNamespace() == "" && (kind == "Role" || kind == "RoleBinding" || kind == "ServiceAccount") {
				u.SetNamespace(keyNS)
			}
			if err := e.Client.Create(ctx, u); err != nil {
				t.Fatalf("create %s %s: %v", kind, u.GetName(), err)
			}
			if kind == "ClusterRole" || kind == "ClusterRoleBinding" {
				t.Cleanup(func() { _ = e.Client.Delete(ctx, u) })
			}
		}
	}
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs["Deployment"][0].Object, &dep); err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: keyNS, Name: dep.Spec.Template.Spec.ServiceAccountName}}
	// Leader election and restarts asked for although the chart grants
	// neither Leases nor workloads.
	r := startAsDeployment(t, e, &dep, keyNS, ns, func(o *controller.Options) {
		o.LeaderElection, o.LeaderElectionID = true, "sealsync-bitnami-rbac"
		o.RestartOnSecretChange = true
	})

	k := r.LatestKey(t)
	create(t, e, seal(t, k, ns, "db", crypto.ScopeStrict, map[string]string{"password": "p"}))
	waitSecret(t, e, ns, "db", hasData(map[string]string{"password": "p"}))
	waitSynced(t, e, ns, "db", "True", "")
	waitCoreEvent(t, e, ns, "db", "Unsealed", "sealed-secrets")
	var leases coordinationv1.LeaseList
	if err := e.Client.List(ctx, &leases, client.InNamespace(keyNS)); err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) != 0 {
		t.Fatalf("%d Leases in %s: leader election ran without the rights", len(leases.Items), keyNS)
	}
	for _, line := range []string{
		"running as the only replica, without leader election",
		"writing core/v1 Events",
		"updating it instead",
		"ExternalSecrets are off until this changes",
		// The chart grants nothing on Deployments and the like.
		"Restarts on Secret change are off until this changes",
	} {
		if !strings.Contains(string(logs.Bytes()), line) {
			t.Errorf("no log line %q", line)
		}
	}

	// The operator grants ESO's resources: the ExternalSecret half starts.
	bindClusterRole(t, e, keyNS, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: eso
rules:
- apiGroups: [external-secrets.io]
  resources: [externalsecrets, secretstores, clustersecretstores, clusterexternalsecrets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [external-secrets.io]
  resources: [externalsecrets/status, secretstores/status, clustersecretstores/status, clusterexternalsecrets/status]
  verbs: [get, update, patch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
`, subject)
	syncFromFake(t, e, ns)
	if !strings.Contains(string(logs.Bytes()), "ExternalSecrets are on") {
		t.Error("no log line saying the ExternalSecrets started")
	}
}

// bindClusterRole creates the ClusterRole in doc, named after ns to keep
// tests apart, and binds it to subjects.
func bindClusterRole(t *testing.T, e *testkit.Env, ns, doc string, subjects []rbacv1.Subject) {
	t.Helper()
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
		t.Fatal(err)
	}
	role.Name = ns + "-" + role.Name
	create(t, e, &role)
	create(t, e, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   subjects,
	})
	t.Cleanup(func() {
		_ = e.Client.Delete(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name}})
		_ = e.Client.Delete(ctx, &role)
	})
}

// TestUnderESOChartRBAC renders ESO's own chart (v0.16.2 from its
// module, the newest the proxy serves whole; operator input) with the
// Helm SDK, applies the RBAC it gives its controller and starts the
// controller with exactly the arguments the chart gives ESO's, as the
// chart's ServiceAccount. It has no SealedSecret rights and core/v1 Events
// only: the ExternalSecret half syncs (the store and the ExternalSecret are
// a tenant's), the SealedSecret half stays off with a log line, and the
// events are core/v1 Events.
func TestUnderESOChartRBAC(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	chart := testkit.Tool(t, "eso-chart", "external-secrets")
	// The webhook and the cert controller are other programs: not this one's.
	objs := testkit.RenderChart(t, chart, "external-secrets", keyNS, map[string]any{
		"installCRDs": false, "webhook": map[string]any{"create": false}, "certController": map[string]any{"create": false},
	})
	var dep *appsv1.Deployment
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"} {
		for _, u := range objs[kind] {
			if kind == "Deployment" {
				dep = &appsv1.Deployment{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, dep); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if kind == "ClusterRole" || kind == "ClusterRoleBinding" {
				// Named per test, as two runs share the API server.
				u.SetName(keyNS + "-" + u.GetName())
				if kind == "ClusterRoleBinding" {
					ref, _, _ := unstructured.NestedString(u.Object, "roleRef", "name")
					if err := unstructured.SetNestedField(u.Object, keyNS+"-"+ref, "roleRef", "name"); err != nil {
						t.Fatal(err)
					}
				}
				t.Cleanup(func() { _ = e.Client.Delete(ctx, u) })
			}
			if err := e.Client.Create(ctx, u); err != nil {
				t.Fatalf("create %s %s: %v", kind, u.GetName(), err)
			}
		}
	}
	if dep == nil {
		t.Fatal("ESO's chart rendered no controller Deployment")
	}
	startAsDeployment(t, e, dep, keyNS, ns, nil)

	syncFromFake(t, e, ns)
	waitCoreEvent(t, e, ns, "from-fake", "Created", "external-secrets")
	for _, line := range []string{"SealedSecrets are off until this changes", "writing core/v1 Events"} {
		if !strings.Contains(string(logs.Bytes()), line) {
			t.Errorf("no log line %q", line)
		}
	}
}

// startAsDeployment starts the controller as an upstream chart's
// Deployment dep would (operator input): with exactly its arguments, as
// its ServiceAccount in keyNS. For the test, the ports are free ones (an
// HTTP API the arguments turn off stays off), the key small, the only
// workload namespace ns, products looked at again every second, and
// ExternalSecrets read from the fake provider with the arguments'
// concurrency; tweak, if set, changes the options last.
func startAsDeployment(t *testing.T, e *testkit.Env, dep *appsv1.Deployment, keyNS, ns string, tweak func(*controller.Options)) *controllertest.Running {
	t.Helper()
	args := dep.Spec.Template.Spec.Containers[0].Args
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	flags := controller.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the chart's arguments %q: %v", args, err)
	}
	opts, err := flags.Options(keyNS)
	if err != nil {
		t.Fatalf("the chart's arguments %q: %v", args, err)
	}
	t.Logf("the chart's arguments: %q", args)
	if opts.Server.Addr != "0" {
		opts.Server.Addr = controllertest.TestServer.Addr
	}
	opts.MetricsAddr, opts.Keys.Bits = "0", controllertest.Bits
	opts.AllNamespaces, opts.AdditionalNamespaces, opts.Recheck = false, []string{ns}, time.Second
	workers := opts.ES.Workers
	controllertest.ExternalSecrets(fake.New(), time.Second)(&opts)
	opts.ES.Workers = workers
	if tweak != nil {
		tweak(&opts)
	}
	sa := dep.Spec.Template.Spec.ServiceAccountName
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + keyNS + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + keyNS, "system:authenticated"},
	}
	return controllertest.StartWith(t, cfg, opts)
}

// syncFromFake applies a store of the fake provider and an ExternalSecret
// "from-fake" reading it in ns (a tenant's objects) and waits for its
// Secret.
func syncFromFake(t *testing.T, e *testkit.Env, ns string) {
	t.Helper()
	controllertest.Apply(t, e, ns, controllertest.FakeStore+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: from-fake
spec:
  refreshInterval: 8760h
  secretStoreRef:
    name: fake
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v1
`)
	waitSecret(t, e, ns, "from-fake", hasData(map[string]string{"v": "HELLO1"}))
}

// waitCoreEvent waits for a core/v1 Event with reason about object ns/name
// from component. The core/v1 API records the component as the source;
// the events.k8s.io API would set reportingController instead.
func waitCoreEvent(t *testing.T, e *testkit.Env, ns, name, reason, component string) {
	t.Helper()
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		var list corev1.EventList
		if err := e.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.Reason == reason && ev.Source.Component == component {
				return true, nil
			}
		}
		return false, fmt.Errorf("no core/v1 %s event about %s", reason, name)
	})
}
