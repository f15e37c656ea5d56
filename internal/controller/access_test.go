package controller_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers/fake"
)

// TestUnderBitnamiChartRBAC runs the controller as a ServiceAccount bound
// to exactly the rules Bitnami's chart grants (testdata, operator input):
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
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: keyNS, Name: "sealed-secrets-controller"}}
	create(t, e, sa)
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: keyNS, Name: sa.Name}}
	raw, err := os.ReadFile("testdata/bitnami-chart-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var probe struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &probe); err != nil {
			t.Fatal(err)
		}
		switch probe.Kind {
		case "ClusterRole":
			bindClusterRole(t, e, keyNS, doc, subject)
		case "Role":
			var role rbacv1.Role
			if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
				t.Fatal(err)
			}
			role.Namespace = keyNS
			create(t, e, &role)
			create(t, e, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: keyNS, Name: role.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
				Subjects:   subject,
			})
		}
	}
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + keyNS + ":" + sa.Name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + keyNS, "system:authenticated"},
	}
	r := controllertest.Start(t, cfg, keyNS, ns, controllertest.ExternalSecrets(fake.New(), time.Second), func(o *controller.Options) {
		o.LeaderElection, o.LeaderElectionID = true, "sealsync-bitnami-rbac"
		o.Recheck = time.Second
		o.RestartOnSecretChange = true
	})

	k := r.LatestKey(t)
	create(t, e, seal(t, k, ns, "db", crypto.ScopeStrict, map[string]string{"password": "p"}))
	waitSecret(t, e, ns, "db", hasData(map[string]string{"password": "p"}))
	waitSynced(t, e, ns, "db", "True", "")
	testkit.Eventually(t, controllertest.Wait, func() (bool, error) {
		var list corev1.EventList
		if err := e.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			// The core/v1 API records the component as the source; the
			// events.k8s.io API would set reportingController instead.
			if ev.InvolvedObject.Name == "db" && ev.Reason == "Unsealed" && ev.Source.Component == "sealed-secrets" {
				return true, nil
			}
		}
		return false, fmt.Errorf("no core/v1 Unsealed event about db")
	})
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
