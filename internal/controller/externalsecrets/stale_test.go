package externalsecrets

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// TestStaleStatus: an ExternalSecret read from the cache before the
// cache has the status this controller wrote for it is stale, for a
// while, and only that object.
func TestStaleStatus(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	written := now.Add(-300 * time.Millisecond)
	es := func(name string, uid types.UID, refresh time.Time) *esv1.ExternalSecret {
		e := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid}}
		if !refresh.IsZero() {
			e.Status.RefreshTime = metav1.NewTime(refresh)
		}
		return e
	}
	r := &Reconciler{}
	r.remember(es("es", "u1", time.Time{}), func(m *memo) { m.refresh, m.at = written, written })
	for _, tc := range []struct {
		name string
		es   *esv1.ExternalSecret
		now  time.Time
		want bool
	}{
		{"never synced in the cache", es("es", "u1", time.Time{}), now, true},
		{"an older refresh in the cache", es("es", "u1", written.Add(-time.Minute)), now, true},
		{"the written refresh, stored to the second", es("es", "u1", written.Truncate(time.Second)), now, false},
		{"a newer refresh", es("es", "u1", written.Add(time.Minute)), now, false},
		{"another object of the same name", es("es", "u2", time.Time{}), now, false},
		{"the mark is too old to trust", es("es", "u1", time.Time{}), written.Add(staleCacheWait), false},
		{"no mark", es("other", "u3", time.Time{}), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := staleStatus(tc.es, r.recall(tc.es), tc.now); got != tc.want {
				t.Errorf("staleStatus = %v, want %v", got, tc.want)
			}
		})
	}
}
