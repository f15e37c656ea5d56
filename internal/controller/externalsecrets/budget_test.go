package externalsecrets_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

// keyReads wraps a provider and counts reads per remote key.
type keyReads struct {
	providers.Provider
	mu sync.Mutex
	n  map[string]int
}

func (p *keyReads) NewClient(ctx context.Context, s providers.Store, k providers.Kube) (providers.Client, error) {
	c, err := p.Provider.NewClient(ctx, s, k)
	if err != nil {
		return nil, err
	}
	return &keyReadsClient{Client: c, p: p}, nil
}

func (p *keyReads) reads(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[key]
}

type keyReadsClient struct {
	providers.Client
	p *keyReads
}

func (c *keyReadsClient) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	c.p.mu.Lock()
	c.p.n[ref.Key]++
	c.p.mu.Unlock()
	return c.Client.GetSecretMap(ctx, ref)
}

// startES starts a controller for r's namespaces that serves
// ExternalSecrets from p.
func startES(t *testing.T, keyNS, ns string, p providers.Provider) *controllertest.Running {
	t.Helper()
	return start(t, keyNS, ns, controllertest.ExternalSecrets(p, time.Second))
}

// TestExternalSecretOverTemplateBudget: an ExternalSecret whose
// target.template goes over the render budget gets Ready=False and one
// UpdateFailed event, its Secret stays as it was, and it is not rendered
// again (counted by reads of its remote key, each render reading anew)
// while other ExternalSecrets sync, nor after a controller restart, before
// its next refresh. The template text and the provider data are the
// tenant's; the store's provider and the controller's flags are the
// operator's.
func TestExternalSecretOverTemplateBudget(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	p := &keyReads{Provider: fake.New(), n: map[string]int{}}
	r := startES(t, keyNS, ns, p)
	store := strings.Replace(fakeStore, "      - key: /db\n", "      - key: /greedy\n        value: '{\"user\": \"app\"}'\n      - key: /db\n", 1)
	apply(t, e, ns, store+`---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: greedy
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: fake
  target:
    template:
      data:
        dsn: "db:{{ .user }}"
  dataFrom:
  - extract:
      key: /greedy
`)
	before := waitSecret(t, e, ns, "greedy", hasData(map[string]string{"dsn": "db:app"}))

	var es esv1.ExternalSecret
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "greedy"}, &es); err != nil {
		t.Fatal(err)
	}
	es.Spec.Target.Template.Data["dsn"] = controllertest.Greedy
	if err := e.Client.Update(ctx, &es); err != nil {
		t.Fatal(err)
	}
	got := waitES(t, e, ns, "greedy", corev1.ConditionFalse, "template render budget exceeded")
	if c := got.Status.Conditions[0]; c.Reason != esv1.ConditionReasonSecretSyncedError || !strings.Contains(c.Message, "more than 1000000 steps") {
		t.Fatalf("condition = %+v", c)
	}
	waitEvent(t, e, ns, "greedy", esv1.ReasonUpdateFailed)
	renders := p.reads("/greedy")

	// Other work goes on, and the failed one is not retried meanwhile.
	apply(t, e, ns, `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: next
spec:
  secretStoreRef:
    name: fake
  dataFrom:
  - extract:
      key: /db
`)
	waitSecret(t, e, ns, "next", hasData(map[string]string{"user": "app"}))
	time.Sleep(controllertest.Quiet)
	// A restart does not render it again either.
	r.Stop()
	startES(t, keyNS, ns, p)
	apply(t, e, ns, `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: after-restart
spec:
  secretStoreRef:
    name: fake
  data:
  - secretKey: v
    remoteRef:
      key: /foo/bar
      version: v1
`)
	waitSecret(t, e, ns, "after-restart", hasData(map[string]string{"v": "HELLO1"}))
	time.Sleep(controllertest.Quiet)
	if n := p.reads("/greedy"); n != renders {
		t.Fatalf("%d renders since the failure, want none", n-renders)
	}
	var after corev1.Secret
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(before), &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatal("the Secret changed after a render over budget")
	}
	waitES(t, e, ns, "greedy", corev1.ConditionFalse, "template render budget exceeded")
}
