package controller_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

// greedy is a template that goes over the render budget: a range over a
// huge integer, which without a budget runs for hours.
const greedy = `{{ range 100000000000 }}{{ end }}`

// quiet is how long the tests watch for renders that should not happen.
const quiet = 3 * time.Second

// TestSealedSecretOverTemplateBudget: a SealedSecret whose
// spec.template.data goes over the render budget gets Synced=False with
// its own reason and one ErrUnsealFailed event, its existing Secret stays
// as it was, and it is not unsealed again (counted by
// unseal_errors_total{reason="unseal"} of its namespace) while other
// SealedSecrets sync, nor after a controller restart, until its spec
// changes. The template text and the sealed values are the tenant's; the
// keys and the controller's flags are the operator's.
func TestSealedSecretOverTemplateBudget(t *testing.T) {
	e, r := setup(t)
	k := r.latestKey(t)
	ss := seal(t, k, r.ns, "greedy", crypto.ScopeStrict, map[string]string{"password": "pw"})
	ss.Spec.Template.Data = map[string]string{"dsn": "db:{{ .password }}"}
	create(t, e, ss)
	before := waitSecret(t, e, r.ns, "greedy", hasData(map[string]string{"dsn": "db:pw"}))

	updateSS(t, e, r.ns, "greedy", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.Template.Data["dsn"] = greedy })
	got := waitSynced(t, e, r.ns, "greedy", corev1.ConditionFalse, "template render budget exceeded: more than 1000000 steps")
	if c := got.Status.Conditions[0]; c.Reason != controller.ReasonTemplateBudgetExceeded || strings.Contains(c.Message, "pw") {
		t.Fatalf("condition = %+v", c)
	}
	waitEvent(t, e, r.ns, "greedy", controller.EventUnsealFailed)
	if n := unsealErrors(t, r.ns); n != 1 {
		t.Fatalf("%v failed unseals, want 1", n)
	}

	// Other work goes on, and the failed one is not retried meanwhile.
	create(t, e, seal(t, k, r.ns, "next", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, r.ns, "next", hasData(map[string]string{"k": "v"}))
	time.Sleep(quiet)
	// A restart does not render it again either.
	r.stop()
	r = start(t, r.keyNS, r.ns)
	create(t, e, seal(t, k, r.ns, "after-restart", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, r.ns, "after-restart", hasData(map[string]string{"k": "v"}))
	time.Sleep(quiet)
	if n := unsealErrors(t, r.ns); n != 1 {
		t.Fatalf("%v failed unseals, want 1: the SealedSecret was rendered again", n)
	}
	var after corev1.Secret
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(before), &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatal("the Secret changed after a render over budget")
	}

	// A new spec is rendered.
	updateSS(t, e, r.ns, "greedy", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.Template.Data["dsn"] = "db2:{{ .password }}" })
	waitSecret(t, e, r.ns, "greedy", hasData(map[string]string{"dsn": "db2:pw"}))
	waitSynced(t, e, r.ns, "greedy", corev1.ConditionTrue, "")
}

// unsealErrors reads sealed_secrets_controller_unseal_errors_total for
// reason "unseal" in namespace ns.
func unsealErrors(t *testing.T, ns string) float64 {
	t.Helper()
	for _, m := range gather(t)["sealed_secrets_controller_unseal_errors_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["namespace"] == ns && labels["reason"] == "unseal" {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

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
func startES(t *testing.T, keyNS, ns string, p providers.Provider) *running {
	t.Helper()
	reg := providers.NewRegistry()
	reg.Register(providers.Fake, p)
	return start(t, keyNS, ns, func(o *controller.Options) {
		o.ES = controller.ESOptions{
			Providers: reg, ControllerClass: "default", FloodGate: true,
			StoreInterval: time.Minute, DedupeTTL: time.Second, Workers: 4,
		}
	})
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
	es.Spec.Target.Template.Data["dsn"] = greedy
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
	time.Sleep(quiet)
	// A restart does not render it again either.
	r.stop()
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
	time.Sleep(quiet)
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
