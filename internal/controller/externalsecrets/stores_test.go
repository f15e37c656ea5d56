package externalsecrets_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers/fake"
)

func TestStoreReadinessGatesAndRetriggers(t *testing.T) {
	e, r, _ := setupES(t)
	apply(t, e, r.NS, `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: later
spec:
  provider:
    aws:
      service: SecretsManager
      region: eu-west-1
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: waiting
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: later
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v1
`)
	waitES(t, e, r.NS, "waiting", corev1.ConditionFalse, "SecretStore is not ready")
	// The store's own reconciler writes its status; the ExternalSecret
	// may have found the store unusable first.
	var st esv1.SecretStore
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "later"}, &st); err != nil {
			t.Fatal(err)
		}
		if c := st.Status.Conditions; len(c) == 1 && c[0].Reason == esv1.ReasonInvalidProviderConfig {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store status = %+v", st.Status)
		}
	}
	// Fix the store: the ExternalSecret syncs at once, not after a backoff.
	var fixed esv1.SecretStore
	if err := yaml.Unmarshal([]byte(fakeStore), &fixed); err != nil {
		t.Fatal(err)
	}
	st.Spec.Provider = fixed.Spec.Provider
	if err := e.Client.Update(ctx, &st); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitSecret(t, e, r.NS, "waiting", hasData(map[string]string{"v": "HELLO1"}))
	// Not ready is looked at again only after storeNotReadyRetry (a
	// minute): well under it means the store's transition triggered the
	// sync, with room for a loaded machine.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %v after the store became ready", d)
	}
}

func TestClusterSecretStoreConditions(t *testing.T) {
	e, r, _ := setupES(t)
	other := e.Namespace(t)
	css := strings.Replace(strings.Replace(fakeStore, "kind: SecretStore", "kind: ClusterSecretStore", 1), "name: fake", "name: css-"+r.NS, 1)
	css = strings.Replace(css, "spec:\n", "spec:\n  conditions:\n  - namespaces: [\""+r.NS+"\"]\n  - namespaceRegexes: [\"^never$\"]\n", 1)
	apply(t, e, r.NS, css)
	es := `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: via-cluster-store
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: css-` + r.NS + `
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v1
`
	apply(t, e, r.NS, es)
	waitSecret(t, e, r.NS, "via-cluster-store", hasData(map[string]string{"v": "HELLO1"}))
	// The controller watches only its own namespaces: start one for other.
	r2 := start(t, e.Namespace(t), other, controllertest.ExternalSecrets(fake.New(), time.Second))
	_ = r2
	apply(t, e, other, es)
	waitES(t, e, other, "via-cluster-store", corev1.ConditionFalse, "namespace not allowed by the ClusterSecretStore's conditions")
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: other, Name: "via-cluster-store"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatal("a Secret was written in a namespace the conditions refuse")
	}
}

func TestClusterExternalSecretProvisions(t *testing.T) {
	e, r, _ := setupES(t)
	apply(t, e, r.NS, fakeStore)
	var ns corev1.Namespace
	if err := e.Client.Get(ctx, client.ObjectKey{Name: r.NS}, &ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels["ces-test"] = r.NS
	if err := e.Client.Update(ctx, &ns); err != nil {
		t.Fatal(err)
	}
	apply(t, e, "", `apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata:
  name: ces-`+r.NS+`
spec:
  externalSecretName: from-ces
  namespaceSelectors:
  - matchLabels:
      ces-test: `+r.NS+`
  externalSecretSpec:
    secretStoreRef:
      name: fake
    data:
    - secretKey: v
      remoteRef:
        key: /foo/bar
        version: v2
`)
	waitSecret(t, e, r.NS, "from-ces", hasData(map[string]string{"v": "HELLO2"}))
	var ces esv1.ClusterExternalSecret
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKey{Name: "ces-" + r.NS}, &ces); err != nil {
			return false, err
		}
		return len(ces.Status.ProvisionedNamespaces) == 1 && ces.Status.ProvisionedNamespaces[0] == r.NS, nil
	})
	// The namespace stops matching: its ExternalSecret goes.
	delete(ns.Labels, "ces-test")
	_ = e.Client.Get(ctx, client.ObjectKey{Name: r.NS}, &ns)
	delete(ns.Labels, "ces-test")
	if err := e.Client.Update(ctx, &ns); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "from-ces"}, &esv1.ExternalSecret{})
		return apierrors.IsNotFound(err), err
	})
}
