package externalsecrets_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/testkit"
)

// rootTokenStore is a SecretStore of v with its root token, which a dev
// server keeps across restarts.
func rootTokenStore(v *testkit.Vault, name string) string {
	return tokenStoreWith(v, name, v.RootToken)
}

// TestVaultOutage takes Vault down under a synced ExternalSecret: the
// Secret stays as it was, the ExternalSecret says why it cannot sync, and
// it recovers by itself once Vault is back.
func TestVaultOutage(t *testing.T) {
	e, _ := requireEnv(t)
	v := testkit.NewVault(t) // this test kills it
	secrets.add("the Vault root token", v.RootToken)
	s := setupWith(t, e, v, "", 1)
	ns := s.ns[0]
	before := value("outage-before")
	put(t, v, "app", map[string]any{"value": before})
	s.apply(ns, rootTokenStore(v, "vault"))
	s.apply(ns, esFor("app", "vault", "app", "  refreshInterval: 2s\n"))
	s.waitSynced(ns, "app")
	synced := s.waitData(ns, "app", map[string]string{"value": before})

	if err := v.Kill(); err != nil {
		t.Fatal(err)
	}
	es := s.waitFailed(ns, "app", "connection refused")
	t.Logf("Vault down: Ready=False %s: %s", readyOf(es).Reason, readyOf(es).Message)
	note := s.waitEvent(ns, "app", corev1.EventTypeWarning, esv1.ReasonUpdateFailed, "connection refused")
	t.Logf("event %s: %s", esv1.ReasonUpdateFailed, note)
	s.unchanged(ns, "app", synced)

	if err := v.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := value("outage-after")
	put(t, v, "app", map[string]any{"value": after})
	s.waitData(ns, "app", map[string]string{"value": after})
	s.waitSynced(ns, "app")
}
