package externalsecrets_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/internal/testkit"
)

// TestDriftRepair edits and then deletes a managed Secret: both are
// repaired from what the controller last wrote, and Vault's audit log
// shows that the repairs asked Vault nothing. The refreshInterval is a
// year: with 1h, the slot the store's phase puts after the first sync
// falls within the few seconds the test counts once in about a thousand
// runs, more often the slower the machine, and its refresh reads Vault.
// The edit and the deletion are a tenant's.
func TestDriftRepair(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	want := value("drift")
	put(t, v, "drift", map[string]any{"value": want})
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))
	s.apply(ns, esFor("app", "vault", "drift", "  refreshInterval: 8760h\n"))
	s.waitSynced(ns, "app")
	synced := s.waitData(ns, "app", map[string]string{"value": want})
	before := s.auditLog()

	edited := synced.DeepCopy()
	edited.Data["value"] = []byte("edited by hand")
	edited.Data["extra"] = []byte("added by hand")
	if err := s.e.Client.Update(s.ctx(), edited); err != nil {
		t.Fatal(err)
	}
	s.waitData(ns, "app", map[string]string{"value": want})

	if err := s.e.Client.Delete(s.ctx(), synced); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, waitTimeout, func() (bool, error) {
		sec := &corev1.Secret{}
		if err := s.e.Client.Get(s.ctx(), client.ObjectKey{Namespace: ns, Name: "app"}, sec); err != nil {
			return false, err
		}
		if sec.UID == synced.UID {
			return false, errors.New("not recreated yet")
		}
		err := sameData(sec, map[string]string{"value": want})
		return err == nil, err
	})
	s.waitSynced(ns, "app")

	if calls := s.auditSince(before); len(calls) != 0 {
		t.Errorf("repairing the Secret made %d Vault requests, want none:\n%s", len(calls), calls)
	}
}
