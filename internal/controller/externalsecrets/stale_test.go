package externalsecrets

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

func TestStaleStatus(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	written := now.Add(-300 * time.Millisecond)
	mark := statusMark{uid: "u1", refresh: written, at: written}
	es := func(uid types.UID, refresh time.Time) *esv1.ExternalSecret {
		e := &esv1.ExternalSecret{}
		e.UID = uid
		if !refresh.IsZero() {
			e.Status.RefreshTime = metav1.NewTime(refresh)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		es   *esv1.ExternalSecret
		mark statusMark
		now  time.Time
		want bool
	}{
		{"never synced in the cache", es("u1", time.Time{}), mark, now, true},
		{"an older refresh in the cache", es("u1", written.Add(-time.Minute)), mark, now, true},
		{"the written refresh, stored to the second", es("u1", written.Truncate(time.Second)), mark, now, false},
		{"a newer refresh", es("u1", written.Add(time.Minute)), mark, now, false},
		{"another object of the same name", es("u2", time.Time{}), mark, now, false},
		{"the mark is too old to trust", es("u1", time.Time{}), mark, written.Add(staleCacheWait), false},
		{"no mark", es("u1", time.Time{}), statusMark{}, now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := staleStatus(tc.es, tc.mark, tc.now); got != tc.want {
				t.Errorf("staleStatus = %v, want %v", got, tc.want)
			}
		})
	}
}
