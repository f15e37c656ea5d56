package externalsecrets

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// plainClient reads nothing and extracts no properties.
type plainClient struct{}

func (plainClient) GetSecret(context.Context, esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	return []byte(`{"user":"admin"}`), nil
}
func (plainClient) GetSecretMap(context.Context, esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	return nil, nil
}
func (plainClient) GetAllSecrets(context.Context, esv1.ExternalSecretFind) (map[string][]byte, error) {
	return nil, nil
}
func (plainClient) Close(context.Context) error { return nil }

// extractingClient extracts properties locally.
type extractingClient struct{ plainClient }

func (extractingClient) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	return providers.Property(whole, ref.Property)
}

// TestInstrumentKeepsPropertyExtraction checks that counting calls does
// not hide from the read dedupe layer that a client extracts properties
// itself, nor make one of a client that does not.
func TestInstrumentKeepsPropertyExtraction(t *testing.T) {
	m := externalSecretMetrics()
	tests := []struct {
		name     string
		client   providers.Client
		extracts bool
	}{
		{"extracting client", extractingClient{}, true},
		{"plain client", plainClient{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := m.instrument("bench-"+providers.Name(tt.name), tt.client)
			ex, ok := c.(providers.PropertyExtractor)
			if ok != tt.extracts {
				t.Fatalf("instrumented client extracts properties: %v, want %v", ok, tt.extracts)
			}
			if _, err := c.GetSecret(t.Context(), esv1.ExternalSecretDataRemoteRef{Key: "k"}); err != nil {
				t.Fatal(err)
			}
			if ok {
				v, err := ex.ExtractProperty(esv1.ExternalSecretDataRemoteRef{Key: "k", Property: "user"}, []byte(`{"user":"admin"}`))
				if err != nil || string(v) != "admin" {
					t.Fatalf("ExtractProperty = %q, %v", v, err)
				}
			}
			calls := m.apiCalls.WithLabelValues("bench-"+tt.name, "GetSecret", "success")
			if n := testutil.ToFloat64(calls); n != 1 {
				t.Fatalf("%v GetSecret calls counted, want 1: extraction is no backend call", n)
			}
		})
	}
}
