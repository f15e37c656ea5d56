package externalsecrets_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

// countingProvider wraps the fake provider and counts what reaches the
// backend: logins (NewClient) and reads.
type countingProvider struct {
	providers.Provider
	logins, reads atomic.Int64
}

func (p *countingProvider) NewClient(ctx context.Context, s providers.Store, k providers.Kube) (providers.Client, error) {
	p.logins.Add(1)
	c, err := p.Provider.NewClient(ctx, s, k)
	if err != nil {
		return nil, err
	}
	return &countingReads{Client: c, n: &p.reads}, nil
}

type countingReads struct {
	providers.Client
	n *atomic.Int64
}

func (c *countingReads) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	c.n.Add(1)
	return c.Client.GetSecret(ctx, ref)
}

func (c *countingReads) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	c.n.Add(1)
	return c.Client.GetSecretMap(ctx, ref)
}

func (c *countingReads) GetAllSecrets(ctx context.Context, f esv1.ExternalSecretFind) (map[string][]byte, error) {
	c.n.Add(1)
	return c.Client.GetAllSecrets(ctx, f)
}

// setupES starts a controller that serves ExternalSecrets in its namespace
// with a counting fake provider.
func setupES(t *testing.T) (*testkit.Env, *controllertest.Running, *countingProvider) {
	t.Helper()
	p := &countingProvider{Provider: fake.New()}
	e, r := setup(t, controllertest.ExternalSecrets(p, 5*time.Second))
	return e, r, p
}

func TestExternalSecretSyncsFromFakeStore(t *testing.T) {
	e, r, p := setupES(t)
	apply(t, e, r.NS, fakeStore+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: example
spec:
  refreshInterval: 8760h
  secretStoreRef:
    name: fake
    kind: SecretStore
  target:
    name: secret-to-be-created
  data:
  - secretKey: foo_bar
    remoteRef:
      key: /foo/bar
      version: v1
  dataFrom:
  - extract:
      key: /foo/baz
`)
	s := waitSecret(t, e, r.NS, "secret-to-be-created", hasData(map[string]string{"foo_bar": "HELLO1", "john": "doe", "jane": "roe"}))
	if s.Labels[esv1.LabelManaged] != "true" || s.Annotations[esv1.AnnotationDataHash] != esdata.Hash(s.Data) {
		t.Fatalf("ESO metadata missing: %v %v", s.Labels, s.Annotations)
	}
	es := waitES(t, e, r.NS, "example", corev1.ConditionTrue, "secret synced")
	if ref := metav1.GetControllerOf(s); ref == nil || ref.UID != es.UID {
		t.Fatalf("owner = %v", s.OwnerReferences)
	}
	if es.Status.Binding.Name != "secret-to-be-created" || es.Status.SyncedResourceVersion == "" || es.Status.RefreshTime.IsZero() {
		t.Fatalf("status = %+v", es.Status)
	}
	waitEvent(t, e, r.NS, "example", esv1.ReasonCreated)
	families := controllertest.Gather(t)
	for _, name := range []string{"externalsecret_sync_calls_total", "externalsecret_status_condition",
		"externalsecret_reconcile_duration", "externalsecret_provider_api_calls_count", "secretstore_status_condition"} {
		if _, ok := families[name]; !ok {
			t.Errorf("metric %s not exposed", name)
		}
	}
	var store esv1.SecretStore
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "fake"}, &store); err != nil {
			return false, err
		}
		return len(store.Status.Conditions) == 1 && store.Status.Conditions[0].Status == corev1.ConditionTrue &&
			store.Status.Capabilities == esv1.SecretStoreReadOnly, nil
	})

	// Drift: a hand edit is repaired without calling the provider again.
	logins, reads := p.logins.Load(), p.reads.Load()
	s.Data["foo_bar"] = []byte("edited")
	if err := e.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitSecret(t, e, r.NS, "secret-to-be-created", hasData(map[string]string{"foo_bar": "HELLO1"}))
	if p.reads.Load() != reads || p.logins.Load() != logins {
		t.Fatalf("drift repair called the provider: %d reads, %d logins", p.reads.Load()-reads, p.logins.Load()-logins)
	}
	// Deleted: recreated, again from memory.
	if err := e.Client.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitSecret(t, e, r.NS, "secret-to-be-created", func(n *corev1.Secret) error {
		if n.UID == s.UID {
			return errors.New("not recreated yet")
		}
		return nil
	})
	if p.reads.Load() != reads {
		t.Fatal("recreation called the provider")
	}
}

func TestExternalSecretTemplatesAndPolicies(t *testing.T) {
	e, r, _ := setupES(t)
	apply(t, e, r.NS, fakeStore+`---
apiVersion: v1
kind: ConfigMap
metadata:
  name: tmpl
data:
  config.yaml: |
    user: {{ .user }}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: templated
spec:
  secretStoreRef:
    name: fake
  target:
    template:
      type: kubernetes.io/basic-auth
      metadata:
        labels:
          app: db
      data:
        username: "{{ .user }}"
        password: "{{ .password }}"
        dsn: "postgres://{{ .user }}:{{ .password | urlquery }}@db/app"
      templateFrom:
      - configMap:
          name: tmpl
          items:
          - key: config.yaml
  dataFrom:
  - extract:
      key: /db
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: orphan
spec:
  secretStoreRef:
    name: fake
  target:
    creationPolicy: Orphan
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v2
---
apiVersion: v1
kind: Secret
metadata:
  name: existing
  labels:
    theirs: "1"
data:
  theirs: eA==
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: merge
spec:
  secretStoreRef:
    name: fake
  target:
    name: existing
    creationPolicy: Merge
  data:
  - secretKey: ours
    remoteRef:
      key: /foo/bar
      version: v1
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: merge-missing
spec:
  secretStoreRef:
    name: fake
  target:
    name: not-there
    creationPolicy: Merge
  data:
  - secretKey: ours
    remoteRef:
      key: /foo/bar
      version: v1
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: none
spec:
  secretStoreRef:
    name: fake
  target:
    creationPolicy: None
  data:
  - secretKey: ours
    remoteRef:
      key: /foo/bar
      version: v1
`)
	s := waitSecret(t, e, r.NS, "templated", hasData(map[string]string{"dsn": "postgres://app:p%40ss@db/app", "config.yaml": "user: app\n"}))
	if s.Type != corev1.SecretTypeBasicAuth || s.Labels["app"] != "db" {
		t.Errorf("template metadata: type %s labels %v", s.Type, s.Labels)
	}
	o := waitSecret(t, e, r.NS, "orphan", hasData(map[string]string{"v": "HELLO2"}))
	if len(o.OwnerReferences) != 0 {
		t.Error("Orphan Secret has an owner")
	}
	m := waitSecret(t, e, r.NS, "existing", hasData(map[string]string{"ours": "HELLO1", "theirs": "x"}))
	if m.Labels["theirs"] != "1" || len(m.OwnerReferences) != 0 {
		t.Errorf("merge lost metadata: %v %v", m.Labels, m.OwnerReferences)
	}
	waitES(t, e, r.NS, "merge-missing", corev1.ConditionFalse, "With creationPolicy=Merge the secret won't be created")
	waitES(t, e, r.NS, "none", corev1.ConditionTrue, "")
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: "none"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatal("creationPolicy None wrote a Secret")
	}
}

func TestExternalSecretBadInputIsReported(t *testing.T) {
	e, r, _ := setupES(t)
	apply(t, e, r.NS, fakeStore+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: bad-template
spec:
  secretStoreRef:
    name: fake
  target:
    template:
      data:
        broken: "{{ .user "
  dataFrom:
  - extract:
      key: /db
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: bad-regexp
spec:
  secretStoreRef:
    name: fake
  dataFrom:
  - find:
      name:
        regexp: "([a-z"
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: missing-key
spec:
  secretStoreRef:
    name: fake
  data:
  - secretKey: x
    remoteRef:
      key: /does/not/exist
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: missing-store
spec:
  secretStoreRef:
    name: nope
  data:
  - secretKey: x
    remoteRef:
      key: /foo/bar
`)
	for name, want := range map[string]string{
		"bad-template":  `could not get secret data from provider`,
		"bad-regexp":    "regexp",
		"missing-key":   "secret not found",
		"missing-store": `could not get SecretStore "nope"`,
	} {
		es := waitES(t, e, r.NS, name, corev1.ConditionFalse, want)
		if es.Status.Conditions[0].Reason != esv1.ConditionReasonSecretSyncedError {
			t.Errorf("%s: reason %s", name, es.Status.Conditions[0].Reason)
		}
		waitEvent(t, e, r.NS, name, esv1.ReasonUpdateFailed)
		if strings.Contains(es.Status.Conditions[0].Message, "p@ss") {
			t.Fatalf("%s: secret value in status", name)
		}
	}
}

// TestInvalidSecretIsReportedNotRetried: the API server refuses the Secret
// the template describes; the status says why and no hot retry loop runs.
func TestInvalidSecretIsReported(t *testing.T) {
	e, r, _ := setupES(t)
	apply(t, e, r.NS, fakeStore+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: invalid
spec:
  secretStoreRef:
    name: fake
  target:
    template:
      type: kubernetes.io/basic-auth
      data:
        dsn: "{{ .user }}"
  dataFrom:
  - extract:
      key: /db
`)
	waitES(t, e, r.NS, "invalid", corev1.ConditionFalse, "data[username]: Required value")
}
