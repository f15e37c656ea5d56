package v1_test

import (
	"cmp"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

func TestRefreshIntervalOrDefault(t *testing.T) {
	tests := []struct {
		name string
		set  *metav1.Duration
		want time.Duration
	}{
		{"unset is ESO's 1h", nil, time.Hour},
		{"zero fetches once", &metav1.Duration{}, 0},
		{"set", &metav1.Duration{Duration: 15 * time.Second}, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := esv1.ExternalSecretSpec{RefreshInterval: tt.set}
			if got := es.RefreshIntervalOrDefault(); got != tt.want {
				t.Errorf("ExternalSecretSpec: got %v, want %v", got, tt.want)
			}
			ces := esv1.ClusterExternalSecretSpec{RefreshInterval: tt.set}
			if got := ces.RefreshIntervalOrDefault(); got != tt.want {
				t.Errorf("ClusterExternalSecretSpec: got %v, want %v", got, tt.want)
			}
		})
	}
}

// The schema defaults nothing; a reader applies ESO's defaults itself.
func Example_defaults() {
	var target esv1.ExternalSecretTarget // as stored for a manifest without target
	fmt.Println(cmp.Or(target.CreationPolicy, esv1.DefaultCreationPolicy))
	fmt.Println(cmp.Or(target.DeletionPolicy, esv1.DefaultDeletionPolicy))
	// Output:
	// Owner
	// Retain
}
