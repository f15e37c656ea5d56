package esdata_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sealsync/sealsync/internal/esdata"
)

func TestNextRefresh(t *testing.T) {
	interval := time.Minute
	last := time.Date(2026, 11, 22, 10, 0, 17, 0, time.UTC)
	a := esdata.NextRefresh(last, interval, "identity-a", "es1", 0)
	a2 := esdata.NextRefresh(last.Add(20*time.Second), interval, "identity-a", "es2", 0)
	if !a.After(last) || a.Sub(last) > interval {
		t.Fatalf("next %v is not within one interval of %v", a, last)
	}
	if a.UnixNano()%int64(interval) != a2.UnixNano()%int64(interval) {
		t.Fatal("same identity landed in different slots")
	}
	phases := map[int64]bool{}
	for i := range 20 {
		n := esdata.NextRefresh(last, interval, fmt.Sprint("identity-", i), "es", 0)
		phases[n.UnixNano()%int64(interval)] = true
	}
	if len(phases) < 15 {
		t.Fatalf("identities share too few phases: %d of 20", len(phases))
	}
	s := esdata.NextRefresh(last, interval, "identity-a", "es1", time.Second)
	if s.Before(a) || s.Sub(a) >= time.Second {
		t.Fatalf("spread out of bounds: %v", s.Sub(a))
	}
	if !esdata.NextRefresh(last, 0, "x", "y", 0).IsZero() {
		t.Fatal("interval 0 must mean never")
	}
}
