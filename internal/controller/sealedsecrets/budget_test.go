package sealedsecrets_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/controller/sealedsecrets"
)

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
	k := r.LatestKey(t)
	ss := seal(t, k, r.NS, "greedy", crypto.ScopeStrict, map[string]string{"password": "pw"})
	ss.Spec.Template.Data = map[string]string{"dsn": "db:{{ .password }}"}
	create(t, e, ss)
	before := waitSecret(t, e, r.NS, "greedy", hasData(map[string]string{"dsn": "db:pw"}))

	updateSS(t, e, r.NS, "greedy", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.Template.Data["dsn"] = controllertest.Greedy })
	got := waitSynced(t, e, r.NS, "greedy", corev1.ConditionFalse, "template render budget exceeded: more than 1000000 steps")
	if c := got.Status.Conditions[0]; c.Reason != sealedsecrets.ReasonTemplateBudgetExceeded || strings.Contains(c.Message, "pw") {
		t.Fatalf("condition = %+v", c)
	}
	waitEvent(t, e, r.NS, "greedy", sealedsecrets.EventUnsealFailed)
	if n := unsealErrors(t, r.NS); n != 1 {
		t.Fatalf("%v failed unseals, want 1", n)
	}

	// Other work goes on, and the failed one is not retried meanwhile.
	create(t, e, seal(t, k, r.NS, "next", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, r.NS, "next", hasData(map[string]string{"k": "v"}))
	time.Sleep(controllertest.Quiet)
	// A restart does not render it again either.
	r.Stop()
	r = start(t, r.KeyNS, r.NS)
	create(t, e, seal(t, k, r.NS, "after-restart", crypto.ScopeStrict, map[string]string{"k": "v"}))
	waitSecret(t, e, r.NS, "after-restart", hasData(map[string]string{"k": "v"}))
	time.Sleep(controllertest.Quiet)
	if n := unsealErrors(t, r.NS); n != 1 {
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
	updateSS(t, e, r.NS, "greedy", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.Template.Data["dsn"] = "db2:{{ .password }}" })
	waitSecret(t, e, r.NS, "greedy", hasData(map[string]string{"dsn": "db2:pw"}))
	waitSynced(t, e, r.NS, "greedy", corev1.ConditionTrue, "")
}

// unsealErrors reads sealed_secrets_controller_unseal_errors_total for
// reason "unseal" in namespace ns.
func unsealErrors(t *testing.T, ns string) float64 {
	t.Helper()
	for _, m := range controllertest.Gather(t)["sealed_secrets_controller_unseal_errors_total"].GetMetric() {
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
