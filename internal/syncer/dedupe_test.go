package syncer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/providers"
)

// jsonClient answers every key with a JSON secret of two fields and
// extracts properties itself, as the Vault client does. Calls can be held
// at a gate to keep them in flight.
type jsonClient struct {
	calls atomic.Int32
	gate  chan struct{} // nil: calls return at once
}

var (
	_ providers.Client            = (*jsonClient)(nil)
	_ providers.PropertyExtractor = (*jsonClient)(nil)
)

func (c *jsonClient) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	whole := []byte(`{"user":"u-` + ref.Key + ref.Version + `","password":"p-` + ref.Key + ref.Version + `"}`)
	if ref.Property == "" {
		return whole, nil
	}
	return c.ExtractProperty(ref, whole)
}

func (c *jsonClient) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	return providers.Property(whole, ref.Property)
}

func (c *jsonClient) GetSecretMap(context.Context, esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	return nil, errors.New("not used")
}

func (c *jsonClient) GetAllSecrets(context.Context, esv1.ExternalSecretFind) (map[string][]byte, error) {
	return nil, errors.New("not used")
}

func (c *jsonClient) Close(context.Context) error { return nil }

func TestReadsShareOneReadAcrossProperties(t *testing.T) {
	reads := syncer.NewReads(time.Hour)
	under := &jsonClient{}
	c := reads.Wrap("id", under)
	ctx := context.Background()
	tests := []struct {
		name string
		ref  esv1.ExternalSecretDataRemoteRef
		want string
		// calls is the backend calls made so far, this one included.
		calls int32
	}{
		{"first property reads the secret", esv1.ExternalSecretDataRemoteRef{Key: "db", Property: "user"}, "u-db", 1},
		{"another property of it reads nothing", esv1.ExternalSecretDataRemoteRef{Key: "db", Property: "password"}, "p-db", 1},
		{"the whole secret is the same read", esv1.ExternalSecretDataRemoteRef{Key: "db"}, `{"user":"u-db","password":"p-db"}`, 1},
		{"another secret is another read", esv1.ExternalSecretDataRemoteRef{Key: "cache", Property: "user"}, "u-cache", 2},
		{"another version is another read", esv1.ExternalSecretDataRemoteRef{Key: "db", Property: "user", Version: "1"}, "u-db1", 3},
		// Decoding is the core's, after the read, but the key keeps it:
		// sharing across it is not needed to meet any goal.
		{"another decoding is another read", esv1.ExternalSecretDataRemoteRef{Key: "db", Property: "user", DecodingStrategy: esv1.ExternalSecretDecodeNone}, "u-db", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetSecret(ctx, tt.ref)
			if err != nil || string(got) != tt.want {
				t.Fatalf("GetSecret(%+v) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
			if n := under.calls.Load(); n != tt.calls {
				t.Fatalf("%d backend calls so far, want %d", n, tt.calls)
			}
		})
	}
	_, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "db", Property: "nope"})
	if !errors.Is(err, providers.ErrSecretNotFound) || under.calls.Load() != 4 {
		t.Fatalf("missing property: %v after %d calls; want not found from the shared read", err, under.calls.Load())
	}
}
