package externalsecrets_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/providers/fake"
)

// TestDisabledReconcilers: ESO's --enable-cluster-store-reconciler=false
// and --enable-cluster-external-secret-reconciler=false (the operator's
// flags, which ESO's chart passes under scopedRBAC). The tenant's
// ExternalSecret of a SecretStore syncs; one of a ClusterSecretStore is
// skipped without a status, as ESO skips it; the ClusterSecretStore and
// the ClusterExternalSecret (the operator's) are left alone.
func TestDisabledReconcilers(t *testing.T) {
	e, r := setup(t, controllertest.ExternalSecrets(fake.New(), time.Second), func(o *controller.Options) {
		o.ES.DisableClusterStores = true
		o.ES.DisableClusterExternalSecrets = true
	})
	css := "css-" + r.NS
	apply(t, e, r.NS, fakeStore+`---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: `+css+`
spec:
  provider:
    fake:
      data:
      - key: /foo/bar
        value: HELLO1
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: cluster-store
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: `+css+`
    kind: ClusterSecretStore
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: namespaced-store
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: fake
    kind: SecretStore
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v1
---
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata:
  name: `+css+`
spec:
  namespaces: [`+r.NS+`]
  externalSecretName: from-ces
  externalSecretSpec:
    secretStoreRef:
      name: fake
      kind: SecretStore
    data:
    - secretKey: v
      remoteRef:
        key: /foo/bar
        version: v1
`)
	t.Cleanup(func() {
		_ = e.Client.Delete(ctx, &esv1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: css}})
		_ = e.Client.Delete(ctx, &esv1.ClusterExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: css}})
	})
	waitSecret(t, e, r.NS, "namespaced-store", hasData(map[string]string{"v": "HELLO1"}))
	time.Sleep(controllertest.Quiet)

	es := &esv1.ExternalSecret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "cluster-store"}, es); err != nil {
		t.Fatal(err)
	}
	if len(es.Status.Conditions) != 0 {
		t.Errorf("ExternalSecret of a ClusterSecretStore has a status: %+v", es.Status.Conditions)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "cluster-store"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret of a ClusterSecretStore: %v, want none", err)
	}
	store := &esv1.ClusterSecretStore{}
	if err := e.Client.Get(ctx, client.ObjectKey{Name: css}, store); err != nil {
		t.Fatal(err)
	}
	if len(store.Status.Conditions) != 0 {
		t.Errorf("ClusterSecretStore validated: %+v", store.Status.Conditions)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "from-ces"}, &esv1.ExternalSecret{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterExternalSecret served: %v", err)
	}
}
