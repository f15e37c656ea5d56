package externalsecrets_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/testkit"
)

// effInterval is the refreshInterval of the efficiency test: long against
// the default --refresh-spread (2 s), so that one slot's refreshes usually
// end before the next slot and the bound on a slot's reads stays tight.
const effInterval = 8 * time.Second

// TestVaultRequests counts, in Vault's audit log, what twenty
// ExternalSecrets reading five distinct paths through one AppRole
// SecretStore cost: one login for all of them, and reads as few as the
// read dedupe (internal/syncer's Reads) promises however slow the machine
// is, since both bounds follow from what a read may be shared with, not
// from how soon the controller gets to it:
//
//   - A first sync is served any read begun since its ExternalSecret was
//     created, to the second as creationTimestamp keeps it. A further read
//     of a path is made only for an ExternalSecret created in a later
//     second than the previous read began, so a path is read at most once
//     per distinct creation second of its ExternalSecrets: once when they
//     are all created in the same second, as on a quiet machine; twice
//     when a busy one spreads the four applies over a second boundary.
//   - A refresh is served any read begun since its slot started, so
//     between two reads of a path a slot starts: from the first sync to
//     the moment all have refreshed, a path is read at most once per
//     refreshInterval begun in that time, and never logged in again.
//
// The ExternalSecrets and the store are what a tenant writes; the Vault
// paths, policy and role the operator's.
func TestVaultRequests(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	const paths, perPath = 5, 4
	for p := range paths {
		put(t, v, fmt.Sprintf("eff/p%d", p), map[string]any{"value": value(fmt.Sprintf("eff-p%d", p))})
	}
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

	byPath := make([][]string, paths)
	for p := range paths {
		for i := range perPath {
			name := fmt.Sprintf("p%d-%d", p, i)
			byPath[p] = append(byPath[p], name)
			s.apply(ns, esFor(name, "vault", fmt.Sprintf("eff/p%d", p), interval))
		}
	}
	// firstSync is when each first sync began (status.refreshTime, to the
	// second); created, each creation second.
	all := slices.Concat(byPath...)
	firstSync, created := map[string]time.Time{}, map[string]time.Time{}
	for _, name := range all {
		es := s.waitSynced(ns, name)
		firstSync[name], created[name] = es.Status.RefreshTime.Time, es.CreationTimestamp.Time
	}
	synced := s.auditLog()
	initial := synced[len(start):]
	t.Logf("first sync of %d ExternalSecrets on %d paths: %d login(s), %d reads", paths*perPath, paths, initial.Logins(), initial.Count("read", "secret/data/eff/*"))
	if logins := initial.Logins(); logins != 1 {
		t.Errorf("first sync: %d logins, want 1:\n%s", logins, initial)
	}
	for p, names := range byPath {
		seconds := map[int64]bool{}
		for _, name := range names {
			seconds[created[name].Unix()] = true
		}
		path := fmt.Sprintf("secret/data/eff/p%d", p)
		if reads := initial.Count("read", path); reads < 1 || reads > len(seconds) {
			t.Errorf("first sync: %d reads of %s, want at least 1 and at most one per second its ExternalSecrets were created in (%d):\n%s",
				reads, path, len(seconds), initial)
		}
	}

	// One refresh each, however late the machine serves it.
	testkit.Eventually(t, effInterval+waitTimeout, func() (bool, error) {
		for _, name := range all {
			if es := s.es(ns, name); !es.Status.RefreshTime.After(firstSync[name]) {
				return false, fmt.Errorf("%s not refreshed since its first sync at %v", name, firstSync[name])
			}
		}
		return true, nil
	})
	slot := s.auditSince(synced)
	end := time.Now() // every read in slot began before this
	t.Logf("refreshes %v after the first sync: %d logins, %d reads", end.Sub(earliest(firstSync, all)).Round(time.Millisecond), slot.Logins(), slot.Count("read", "secret/data/eff/*"))
	if logins := slot.Logins(); logins != 0 {
		t.Errorf("refreshes: %d logins, want none:\n%s", logins, slot)
	}
	for p, names := range byPath {
		// Every read since the first sync was begun for a refresh, at or
		// after the slot start that followed its ExternalSecret's first
		// sync, and no two for the same slot: at most one per slot start
		// in (since, end].
		since := earliest(firstSync, names)
		most := int((end.Sub(since) + effInterval - 1) / effInterval)
		path := fmt.Sprintf("secret/data/eff/p%d", p)
		if reads := slot.Count("read", path); reads > most {
			t.Errorf("refreshes: %d reads of %s in the %v since its first sync, more than one per refreshInterval (%d):\n%s",
				reads, path, end.Sub(since).Round(time.Millisecond), most, slot)
		}
	}
}

// earliest returns the earliest of the times of names.
func earliest(times map[string]time.Time, names []string) time.Time {
	var first time.Time
	for _, name := range names {
		if t := times[name]; first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// TestRefreshReadsEverySlot checks that a refresh reads Vault as it is at
// its slot, even when the read dedupe TTL (default 10 s) outlasts the
// interval: a refresh must not be served a read made before its slot, or
// a value changed since stays hidden for another interval. Three times it
// changes the value in Vault and waits until the Secret holds it; at the
// latest the second refresh begun after the change must bring it (see
// waitFresh), where a refresh served reads from within the TTL would keep
// the old value for three intervals. --refresh-spread 0 puts each refresh
// at the very start of its slot. The ExternalSecret is a tenant's, the
// values the operator's.
func TestRefreshReadsEverySlot(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	put(t, v, "every-slot", map[string]any{"value": value("every-slot")})
	s := setup(t, 1, func(o *externalsecrets.Options) { o.Spread = 0 })
	ns := s.ns[0]
	const interval = 3 * time.Second
	s.apply(ns, tokenStore(t, v, "vault"))
	s.apply(ns, esFor("app", "vault", "every-slot", fmt.Sprintf("  refreshInterval: %s\n", interval)))
	s.waitSynced(ns, "app")
	for i := range 3 {
		want := value(fmt.Sprintf("every-slot-%d", i))
		put(t, v, "every-slot", map[string]any{"value": want})
		took := s.waitFresh(ns, "app", map[string]string{"value": want}, time.Now(), interval)
		t.Logf("value %d arrived %v after the change", i+1, took.Round(time.Millisecond))
	}
}
