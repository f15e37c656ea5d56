package esdata_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/providers"
)

// countingClient counts calls and can be slowed down to expose
// single-flight behaviour.
type countingClient struct {
	calls atomic.Int32
	delay time.Duration
	err   error
}

func (c *countingClient) GetSecret(context.Context, esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	c.calls.Add(1)
	time.Sleep(c.delay)
	return []byte("value"), c.err
}
func (c *countingClient) GetSecretMap(context.Context, esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	c.calls.Add(1)
	return map[string][]byte{"k": []byte("v")}, c.err
}
func (c *countingClient) GetAllSecrets(context.Context, esv1.ExternalSecretFind) (map[string][]byte, error) {
	c.calls.Add(1)
	return map[string][]byte{"k": []byte("v")}, c.err
}
func (c *countingClient) Close(context.Context) error { return nil }

func TestReadsSingleFlightAndTTL(t *testing.T) {
	reads := esdata.NewReads(time.Hour)
	under := &countingClient{delay: 50 * time.Millisecond}
	a, b := reads.Wrap("id", under), reads.Wrap("id", under)
	other := reads.Wrap("other-identity", under)
	ref := esv1.ExternalSecretDataRemoteRef{Key: "path"}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			v, err := c.GetSecret(context.Background(), ref)
			if err != nil || string(v) != "value" {
				t.Errorf("got %q, %v", v, err)
			}
			v[0] = 'X' // callers own their copy
		}()
	}
	wg.Wait()
	if n := under.calls.Load(); n != 1 {
		t.Fatalf("%d backend calls for 20 identical concurrent reads, want 1", n)
	}
	if v, _ := a.GetSecret(context.Background(), ref); string(v) != "value" {
		t.Fatal("cached value was modified by a caller")
	}
	if _, _ = other.GetSecret(context.Background(), ref); under.calls.Load() != 2 {
		t.Fatal("another identity shared a result")
	}
	if _, _ = a.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "path", Property: "p"}); under.calls.Load() != 3 {
		t.Fatal("a different ref shared a result")
	}
	reads.Forget("id")
	if _, _ = a.GetSecret(context.Background(), ref); under.calls.Load() != 4 {
		t.Fatal("Forget did not drop the identity's results")
	}
}

func TestReadsDoNotCacheErrors(t *testing.T) {
	reads := esdata.NewReads(time.Hour)
	under := &countingClient{err: errors.New("vault down")}
	c := reads.Wrap("id", under)
	for range 3 {
		if _, err := c.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "k"}); err == nil {
			t.Fatal("error lost")
		}
	}
	if under.calls.Load() != 3 {
		t.Fatalf("errors were cached: %d calls", under.calls.Load())
	}
}

// countingProvider builds countingClients and counts logins.
type countingProvider struct{ logins atomic.Int32 }

func (p *countingProvider) NewClient(ctx context.Context, store providers.Store, kube providers.Kube) (providers.Client, error) {
	p.logins.Add(1)
	if _, err := kube.SecretKey(ctx, esmeta.SecretKeySelector{Name: "creds", Key: "token"}); err != nil {
		return nil, err
	}
	return &countingClient{}, nil
}

// fakeKube serves one credential whose content and version tests change.
type fakeKube struct {
	store   providers.Store
	content *atomic.Value
	version *atomic.Int32
	seen    int32
}

func (k *fakeKube) SecretKey(context.Context, esmeta.SecretKeySelector) ([]byte, error) {
	k.seen = k.version.Load()
	return []byte(k.content.Load().(string)), nil
}
func (k *fakeKube) ConfigMapKey(context.Context, string, string, string) ([]byte, error) {
	return nil, errors.New("no")
}
func (k *fakeKube) ServiceAccountToken(context.Context, esmeta.ServiceAccountSelector, []string, int64) (string, error) {
	return "", errors.New("no")
}
func (k *fakeKube) ControllerToken(context.Context, []string) (string, error) {
	return "", errors.New("no")
}
func (k *fakeKube) Fingerprint() string { return k.content.Load().(string) }
func (k *fakeKube) Changed(context.Context) (bool, error) {
	return k.version.Load() != k.seen, nil
}

func TestClientCache(t *testing.T) {
	reg := providers.NewRegistry()
	p := &countingProvider{}
	reg.Register(providers.Fake, p)
	content := &atomic.Value{}
	content.Store("cred-1")
	version := &atomic.Int32{}
	cache := esdata.NewClientCache(esdata.ClientCacheOptions{
		Registry: reg,
		Kube: func(store providers.Store) esdata.TrackingKube {
			return &fakeKube{store: store, content: content, version: version}
		},
		Reads:       esdata.NewReads(time.Minute),
		Recheck:     0,
		IdleTimeout: time.Hour,
	})
	spec := &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{}}}
	storeA := providers.Store{Kind: "SecretStore", Name: "s", Namespace: "a", Spec: spec}
	storeB := providers.Store{Kind: "SecretStore", Name: "s", Namespace: "b", Spec: spec}
	ctx := context.Background()

	_, idA, err := cache.Client(ctx, storeA, "gen1")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := cache.Client(ctx, storeA, "gen1"); err != nil {
			t.Fatal(err)
		}
	}
	if p.logins.Load() != 1 {
		t.Fatalf("%d logins for one store, want 1", p.logins.Load())
	}
	_, idB, _ := cache.Client(ctx, storeB, "gen1")
	if idA != idB || p.logins.Load() != 2 {
		t.Fatalf("identical stores: identities %s %s, logins %d", idA, idB, p.logins.Load())
	}
	// The store changed: rebuild.
	if _, _, err := cache.Client(ctx, storeA, "gen2"); err != nil || p.logins.Load() != 3 {
		t.Fatalf("spec change: logins %d, %v", p.logins.Load(), err)
	}
	// The credentials changed: rebuild with a new identity.
	content.Store("cred-2")
	version.Add(1)
	_, idA2, _ := cache.Client(ctx, storeA, "gen2")
	if p.logins.Load() != 4 || idA2 == idA {
		t.Fatalf("credential change: logins %d, same identity %v", p.logins.Load(), idA2 == idA)
	}
	cache.Invalidate(ctx, storeA)
	if _, _, _ = cache.Client(ctx, storeA, "gen2"); p.logins.Load() != 5 {
		t.Fatal("Invalidate did not drop the client")
	}
	cache.Close(ctx)
	if _, _, _ = cache.Client(ctx, storeA, "gen2"); p.logins.Load() != 6 {
		t.Fatal("Close did not drop the clients")
	}
}

func TestReadsNotBefore(t *testing.T) {
	reads := esdata.NewReads(time.Hour)
	under := &countingClient{}
	c := reads.Wrap("id", under)
	ref := esv1.ExternalSecretDataRemoteRef{Key: "k"}
	if _, err := c.GetSecret(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	slot := time.Now().Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	inSlot := esdata.NotBefore(c, slot)
	_, _ = inSlot.GetSecret(context.Background(), ref)
	_, _ = inSlot.GetSecret(context.Background(), ref)
	if n := under.calls.Load(); n != 2 {
		t.Fatalf("%d backend calls: a read from before the slot was reused, or the slot's read was not shared", n)
	}
}
