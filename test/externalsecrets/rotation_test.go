package externalsecrets_test

import (
	"testing"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// rotationInterval is the refreshInterval of the periodic ExternalSecret.
const rotationInterval = 5 * time.Second

// TestRotation changes values in Vault under ExternalSecrets of each
// refresh policy: refreshInterval 5s picks the change up by the second
// refresh begun after it at the latest (see waitFresh), refreshInterval 0
// and OnChange only on a spec change, CreatedOnce never. The
// ExternalSecrets are a tenant's, the values the operator's.
func TestRotation(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	cases := []struct{ name, spec string }{
		{"periodic", "  refreshInterval: 5s\n"}, // rotationInterval
		{"zero", "  refreshInterval: 0s\n"},
		{"on-change", "  refreshPolicy: OnChange\n  refreshInterval: 5s\n"},
		{"created-once", "  refreshPolicy: CreatedOnce\n  refreshInterval: 5s\n"},
	}
	old := map[string]string{}
	for _, c := range cases {
		old[c.name] = value("rotation-" + c.name + "-old")
		put(t, v, "rotation/"+c.name, map[string]any{"value": old[c.name]})
	}
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))
	for _, c := range cases {
		s.apply(ns, esFor(c.name, "vault", "rotation/"+c.name, c.spec))
	}
	for _, c := range cases {
		s.waitSynced(ns, c.name)
		s.waitData(ns, c.name, map[string]string{"value": old[c.name]})
	}
	before := map[string]string{}
	for _, c := range cases {
		before[c.name] = s.secret(ns, c.name).ResourceVersion
	}

	rotated := map[string]string{}
	for _, c := range cases {
		rotated[c.name] = value("rotation-" + c.name + "-new")
		put(t, v, "rotation/"+c.name, map[string]any{"value": rotated[c.name]})
	}
	took := s.waitFresh(ns, "periodic", map[string]string{"value": rotated["periodic"]}, time.Now(), rotationInterval)
	t.Logf("refreshInterval %v: the new value arrived after %v", rotationInterval, took.Round(time.Millisecond))

	// The others share the periodic one's refresh slot (same store), each
	// at its own offset within the spread: past that, nothing more comes.
	time.Sleep(2*time.Second + quiet)
	for _, name := range []string{"zero", "on-change", "created-once"} {
		if sec := s.secret(ns, name); sec.ResourceVersion != before[name] {
			t.Errorf("%s: the Secret was written after the Vault change alone", name)
		}
	}

	// A spec change refreshes OnChange (and refreshInterval 0), never
	// CreatedOnce.
	for _, name := range []string{"zero", "on-change", "created-once"} {
		s.updateES(ns, name, func(es *esv1.ExternalSecret) {
			again := es.Spec.Data[0]
			again.SecretKey = "again"
			es.Spec.Data = append(es.Spec.Data, again)
		})
	}
	s.waitData(ns, "on-change", map[string]string{"value": rotated["on-change"], "again": rotated["on-change"]})
	s.waitData(ns, "zero", map[string]string{"value": rotated["zero"], "again": rotated["zero"]})
	time.Sleep(quiet)
	if sec := s.secret(ns, "created-once"); sec.ResourceVersion != before["created-once"] {
		t.Error("created-once: the Secret was written again after a spec change")
	}
	s.waitSynced(ns, "created-once")
}

// TestForceSync rotates a value in Vault and at once annotates the
// ExternalSecret, as ESO users force a sync (ESO #760, the force-sync
// annotation of #5156): the sync this triggers must read Vault as it is
// now, not a read shared from before the annotation.
func TestForceSync(t *testing.T) {
	_, v := requireEnv(t)
	resetKV(t, v, 2)
	old := value("force-sync-old")
	put(t, v, "force-sync", map[string]any{"value": old})
	s := setup(t, 1)
	ns := s.ns[0]
	s.apply(ns, tokenStore(t, v, "vault"))
	for _, name := range []string{"periodic", "on-change"} {
		spec := "  refreshInterval: 1h\n"
		if name == "on-change" {
			spec = "  refreshPolicy: OnChange\n"
		}
		s.apply(ns, esFor(name, "vault", "force-sync", spec))
	}
	for _, name := range []string{"periodic", "on-change"} {
		s.waitSynced(ns, name)
		s.waitData(ns, name, map[string]string{"value": old})
	}
	rotated := value("force-sync-new")
	put(t, v, "force-sync", map[string]any{"value": rotated})
	for _, name := range []string{"periodic", "on-change"} {
		s.updateES(ns, name, func(es *esv1.ExternalSecret) {
			if es.Annotations == nil {
				es.Annotations = map[string]string{}
			}
			es.Annotations["force-sync"] = time.Now().Format(time.RFC3339Nano)
		})
	}
	for _, name := range []string{"periodic", "on-change"} {
		s.waitData(ns, name, map[string]string{"value": rotated})
	}
}
