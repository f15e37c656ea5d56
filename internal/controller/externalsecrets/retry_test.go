package externalsecrets

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// TestRetryAfter: transient failures in a row back off from retryBase,
// doubling, never past the ExternalSecret's refresh interval (a tenant's
// choice) nor retryMax, and a success starts over.
func TestRetryAfter(t *testing.T) {
	es := func(name string, interval time.Duration) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: name, UID: types.UID("u-" + name)},
			Spec:       esv1.ExternalSecretSpec{RefreshInterval: &metav1.Duration{Duration: interval}},
		}
	}
	for _, tt := range []struct {
		name     string
		interval time.Duration
		want     []time.Duration
	}{
		{"doubling up to the refresh interval", 2 * time.Second,
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second}},
		{"no refresh: up to retryMax", 0,
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}},
		{"an hour: retryMax", time.Hour, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reconciler{}
			o := es(tt.name, tt.interval)
			for i, want := range tt.want {
				if got := r.retryAfter(o); got != want {
					t.Fatalf("failure %d: retry after %v, want %v", i+1, got, want)
				}
			}
			if tt.want == nil {
				var got time.Duration
				for range 40 {
					got = r.retryAfter(o)
				}
				if got != retryMax {
					t.Fatalf("after 40 failures: %v, want %v", got, retryMax)
				}
			}
			r.remember(o, func(m *memo) { m.failures = 0 })
			if got := r.retryAfter(o); got != retryBase {
				t.Fatalf("after a success: %v, want %v", got, retryBase)
			}
		})
	}
}
