package controller_test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// TestTwoReplicas runs two controllers with leader election: one key is
// generated, both serve it, and when the leader stops the other takes over.
func TestTwoReplicas(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	elect := func(o *controller.Options) {
		o.LeaderElection = true
		o.LeaderElectionID = "sealsync-ha-test"
	}
	leader := start(t, keyNS, ns, elect)
	k := leader.latestKey(t)
	standby := start(t, keyNS, ns, elect)
	waitKeyring(t, standby, func(ring *crypto.Keyring) error {
		if _, ok := ring.Lookup(k.ID); !ok {
			return errNotYet
		}
		return nil
	})
	create(t, e, seal(t, k, ns, "before", crypto.ScopeStrict, map[string]string{"v": "1"}))
	waitSecret(t, e, ns, "before", hasData(map[string]string{"v": "1"}))

	leader.stop()
	create(t, e, seal(t, k, ns, "after", crypto.ScopeStrict, map[string]string{"v": "2"}))
	waitSecret(t, e, ns, "after", hasData(map[string]string{"v": "2"}))
	time.Sleep(time.Second)
	if n := len(keySecrets(t, e, keyNS)); n != 1 {
		t.Fatalf("%d keys: the standby generated a key although one exists", n)
	}
}

// TestMetricNames checks that Bitnami's metric names are exposed (the
// ExternalSecret metrics are checked by the ExternalSecret tests).
func TestMetricNames(t *testing.T) {
	e, r := setup(t)
	k := r.latestKey(t)
	create(t, e, seal(t, k, r.ns, "m", crypto.ScopeStrict, map[string]string{"v": "1"}))
	waitSecret(t, e, r.ns, "m", nil)
	waitSynced(t, e, r.ns, "m", "True", "")
	// The gauge is set right after the status write the test saw, so
	// give the controller a moment to get there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		families := gather(t)
		missing := ""
		for _, name := range []string{
			"sealed_secrets_controller_unseal_requests_total",
			"sealed_secrets_controller_condition_info",
			"controller_runtime_reconcile_total",
		} {
			if _, ok := families[name]; !ok {
				missing = "metric " + name + " not exposed"
			}
		}
		if missing == "" && !syncedGauge(families, r.ns, "m") {
			missing = "condition_info{condition=Synced} is not 1 for the unsealed SealedSecret"
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncedGauge reports whether condition_info{condition=Synced} is 1 for
// the SealedSecret namespace/name.
func syncedGauge(families map[string]*dto.MetricFamily, namespace, name string) bool {
	for _, m := range families["sealed_secrets_controller_condition_info"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["name"] == name && labels["namespace"] == namespace && labels["condition"] == "Synced" && m.GetGauge().GetValue() == 1 {
			return true
		}
	}
	return false
}

var gather = controllertest.Gather
