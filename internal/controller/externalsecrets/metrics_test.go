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

// batchClient reads in batches, as the AWS clients do.
type batchClient struct{ extractingClient }

func (batchClient) GetSecrets(_ context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	out := make([]providers.Result, len(refs))
	for i := range refs {
		out[i].Value = []byte(`{"user":"admin"}`)
	}
	return out
}
func (batchClient) BatchSize() int { return 20 }
func (batchClient) ExtractMap(esv1.ExternalSecretDataRemoteRef, []byte) (map[string][]byte, error) {
	return nil, nil
}

// TestInstrumentKeepsPropertyExtraction checks that counting calls does
// not hide from the read dedupe layer that a client extracts properties
// itself or reads in batches, nor make one of a client that does not.
func TestInstrumentKeepsPropertyExtraction(t *testing.T) {
	m := externalSecretMetrics()
	tests := []struct {
		name              string
		client            providers.Client
		extracts, batches bool
	}{
		{"extracting client", extractingClient{}, true, false},
		{"plain client", plainClient{}, false, false},
		{"batch client", batchClient{}, true, true},
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
			bg, ok := c.(providers.BatchGetter)
			if ok != tt.batches {
				t.Fatalf("instrumented client reads in batches: %v, want %v", ok, tt.batches)
			}
			if ok {
				if r := bg.GetSecrets(t.Context(), make([]esv1.ExternalSecretDataRemoteRef, 3)); len(r) != 3 || bg.BatchSize() != 20 {
					t.Fatalf("GetSecrets: %d results, batch size %d", len(r), bg.BatchSize())
				}
				batches := m.apiCalls.WithLabelValues("bench-"+tt.name, "GetSecrets", "success")
				if n := testutil.ToFloat64(batches); n != 1 {
					t.Fatalf("%v GetSecrets calls counted, want 1", n)
				}
			}
		})
	}
}
