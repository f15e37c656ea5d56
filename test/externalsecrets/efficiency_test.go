package externalsecrets_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/testkit"
)

// effInterval is the refreshInterval of the efficiency test: long enough
// that twenty first syncs and one slot's refreshes, spread by the default
// --refresh-spread (2 s), fit between two slots.
const effInterval = 8 * time.Second

// TestVaultRequests counts, in Vault's audit log, what twenty
// ExternalSecrets reading five distinct paths through one AppRole
// SecretStore cost: one login and at most five reads for the first sync,
// at most five reads and no login per refresh slot after.
func TestVaultRequests(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	const paths, perPath = 5, 4
	for p := range paths {
		put(t, v, fmt.Sprintf("eff/p%d", p), map[string]any{"value": value(fmt.Sprintf("eff-p%d", p))})
	}
	put(t, v, "probe", map[string]any{"value": value("probe")})
	role, err := v.CreateAppRole(t.Context(), "efficiency", readerPolicy)
	if err != nil {
		t.Fatal(err)
	}
	secrets.add("an AppRole secret ID", role.SecretID)
	s := setup(t, 1)
	ns := s.ns[0]
	start := s.auditLog()
	s.apply(ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: approle
stringData:
  secret-id: %s
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault
spec:
  provider:
    vault:
      server: %q
      path: secret
      version: v2
      auth:
        appRole:
          path: approle
          roleId: %s
          secretRef:
            name: approle
            key: secret-id
`, role.SecretID, v.Addr, role.RoleID))
	interval := fmt.Sprintf("  refreshInterval: %s\n", effInterval)

	// The probe shares the store, so its refreshes fall in the same slots
	// as the others': once it has refreshed, a slot has just begun, and
	// the twenty first syncs are done long before the next.
	s.apply(ns, esFor("probe", "vault", "probe", interval))
	probe := s.waitSynced(ns, "probe")
	testkit.Eventually(t, effInterval+refreshSlack, func() (bool, error) {
		// Two seconds on: a slot's refresh, not a second look at the first
		// sync.
		es := s.es(ns, "probe")
		return es.Status.RefreshTime.After(probe.Status.RefreshTime.Add(2 * time.Second)), fmt.Errorf("probe not refreshed since %v", probe.Status.RefreshTime)
	})

	var names []string
	for p := range paths {
		for i := range perPath {
			name := fmt.Sprintf("p%d-%d", p, i)
			names = append(names, name)
			s.apply(ns, esFor(name, "vault", fmt.Sprintf("eff/p%d", p), interval))
		}
	}
	firstSync := map[string]time.Time{}
	for _, name := range names {
		firstSync[name] = s.waitSynced(ns, name).Status.RefreshTime.Time
	}
	synced, syncedAt := s.auditLog(), time.Now()
	initial := synced[len(start):]
	logins, reads := initial.Logins(), initial.Count("read", "secret/data/eff/*")
	t.Logf("first sync of %d ExternalSecrets on %d paths: %d login(s), %d reads", len(names), paths, logins, reads)
	if logins != 1 || reads > paths {
		t.Errorf("first sync: %d logins and %d reads, want 1 and at most %d:\n%s", logins, reads, paths, initial)
	}

	// One refresh slot: the first sync ended within half an interval after
	// the slot the probe saw; the next slot's refreshes, each at its
	// offset in the spread, are all done an interval, the spread and a
	// second later, before the slot after.
	time.Sleep(time.Until(syncedAt.Add(effInterval + 2*time.Second + time.Second)))
	slot := s.auditSince(synced)
	logins, reads = slot.Logins(), slot.Count("read", "secret/data/eff/*")
	t.Logf("one refresh slot: %d logins, %d reads", logins, reads)
	if logins != 0 || reads == 0 || reads > paths {
		t.Errorf("refresh slot: %d logins and %d reads, want none and 1 to %d:\n%s", logins, reads, paths, slot)
	}
	for _, name := range names {
		if es := s.es(ns, name); !es.Status.RefreshTime.After(firstSync[name]) {
			t.Errorf("%s did not refresh in the slot", name)
		}
	}
}

// TestRefreshReadsEverySlot checks that every refresh slot reads Vault,
// even when the read dedupe TTL (default 10 s) outlasts the interval: a
// refresh must not be served a read made before its slot, or a value
// changed since stays hidden for another interval. --refresh-spread 0
// puts each refresh at the very start of its slot.
func TestRefreshReadsEverySlot(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "every-slot", map[string]any{"value": value("every-slot")})
	s := setup(t, 1, func(o *externalsecrets.Options) { o.Spread = 0 })
	ns := s.ns[0]
	const interval = 3 * time.Second
	s.apply(ns, tokenStore(t, v, "vault"))
	s.apply(ns, esFor("app", "vault", "every-slot", fmt.Sprintf("  refreshInterval: %s\n", interval)))
	first := s.waitSynced(ns, "app").Status.RefreshTime
	testkit.Eventually(t, interval+refreshSlack, func() (bool, error) {
		es := s.es(ns, "app")
		return es.Status.RefreshTime.After(first.Add(2 * time.Second)), fmt.Errorf("not refreshed since %v", first)
	})
	// A slot has just been served: the next three follow within three
	// intervals and a second, the fourth later.
	before, at := s.auditLog(), time.Now()
	time.Sleep(time.Until(at.Add(3*interval + time.Second)))
	reads := s.auditSince(before).Count("read", "secret/data/every-slot")
	t.Logf("3 refresh slots of %v: %d reads", interval, reads)
	if reads != 3 {
		t.Errorf("3 refresh slots made %d reads of the secret, want one each", reads)
	}
}
