package esdata_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
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

// clock is a settable time for Reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newClockedReads(ttl time.Duration) (*esdata.Reads, *clock) {
	r := esdata.NewReads(ttl)
	c := &clock{t: time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)}
	esdata.SetReadsClock(r, c.now)
	return r, c
}

func TestReadsShareOneReadAcrossProperties(t *testing.T) {
	reads := esdata.NewReads(time.Hour)
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

// TestReadsSlotServedPastTTL checks that a slot's read serves every
// refresh of the slot, however long after the slot began the refresh
// comes, while a caller without a slot still gets the TTL.
func TestReadsSlotServedPastTTL(t *testing.T) {
	reads, clk := newClockedReads(10 * time.Second)
	under := &jsonClient{}
	c := reads.Wrap("id", under)
	ref := esv1.ExternalSecretDataRemoteRef{Key: "db", Property: "user"}
	slot := clk.now()
	inSlot := esdata.NotBefore(c, slot)
	for _, after := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 59 * time.Second} {
		clk.set(slot.Add(after))
		if _, err := inSlot.GetSecret(context.Background(), ref); err != nil {
			t.Fatal(err)
		}
	}
	if n := under.calls.Load(); n != 1 {
		t.Fatalf("%d backend calls for one slot's refreshes, want 1", n)
	}
	if _, err := c.GetSecret(context.Background(), ref); err != nil || under.calls.Load() != 2 {
		t.Fatalf("without a slot, a read 58 s old was served past the 10 s TTL (%d calls, %v)", under.calls.Load(), err)
	}
	next := esdata.NotBefore(c, slot.Add(time.Minute))
	clk.set(slot.Add(time.Minute + time.Second))
	if _, err := next.GetSecret(context.Background(), ref); err != nil || under.calls.Load() != 3 {
		t.Fatalf("the next slot was served a read from before it (%d calls, %v)", under.calls.Load(), err)
	}
}

// TestSlotReadsSurviveSweeps: a read made or used for a refresh slot
// serves the slot's later refreshes however long past the TTL they come,
// sweeps or not, and is dropped once the slot ended. The slot and TTL are
// the controller's; the ref is tenant input.
func TestSlotReadsSurviveSweeps(t *testing.T) {
	const interval = time.Minute
	clients := []struct {
		name string
		// wrap returns a client reading through reads and a count of
		// its backend calls.
		wrap func(reads *esdata.Reads) (providers.Client, func() int)
	}{
		{"one by one", func(reads *esdata.Reads) (providers.Client, func() int) {
			under := &jsonClient{}
			return reads.Wrap("id", under), func() int { return int(under.calls.Load()) }
		}},
		{"in batches", func(reads *esdata.Reads) (providers.Client, func() int) {
			under := newBackend("k", 1)
			return reads.Wrap("id", under), func() int { return len(under.recorded()) }
		}},
	}
	for _, cl := range clients {
		for _, first := range []string{"the slot's refresh", "a read outside the slot"} {
			t.Run(cl.name+", first read by "+first, func(t *testing.T) {
				reads, clk := newClockedReads(10 * time.Second)
				c, calls := cl.wrap(reads)
				s := clk.now()
				inSlot := esdata.InSlot(esdata.NotBefore(c, s), esdata.Slot{Start: s, Interval: interval, Scheduled: true})
				ref := esv1.ExternalSecretDataRemoteRef{Key: "k/000", Property: "user"}
				get := func(c providers.Client) {
					t.Helper()
					if _, err := c.GetSecret(context.Background(), ref); err != nil {
						t.Fatal(err)
					}
				}
				clk.set(s.Add(time.Second))
				if first == "a read outside the slot" {
					get(esdata.NotBefore(c, s))
				}
				get(inSlot)
				clk.set(s.Add(40 * time.Second))
				reads.Sweep()
				get(inSlot)
				if n := calls(); n != 1 {
					t.Fatalf("%d backend calls, want 1: the slot's read was swept before the slot ended", n)
				}
				clk.set(s.Add(interval + time.Second))
				reads.Sweep()
				if n := esdata.ReadsHeld(reads); n != 0 {
					t.Fatalf("%d reads held after the slot ended and a TTL passed unused, want 0", n)
				}
			})
		}
	}
}

// TestReadsNotBeforeSkipsOlderCallInFlight checks that a call begun
// before a caller's not-before time does not serve it, even in flight,
// while callers it is recent enough for share it.
func TestReadsNotBeforeSkipsOlderCallInFlight(t *testing.T) {
	reads, clk := newClockedReads(time.Hour)
	gate := make(chan struct{})
	under := &jsonClient{gate: gate}
	c := reads.Wrap("id", under)
	ref := esv1.ExternalSecretDataRemoteRef{Key: "db"}
	t0 := clk.now()
	var wg sync.WaitGroup
	get := func(c providers.Client) {
		wg.Go(func() {
			if _, err := c.GetSecret(context.Background(), ref); err != nil {
				t.Error(err)
			}
		})
	}
	waitCalls := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for under.calls.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d backend calls, want %d", under.calls.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	get(c)
	waitCalls(1)
	clk.set(t0.Add(time.Second))
	get(esdata.NotBefore(c, t0)) // the call in flight will do
	get(esdata.NotBefore(c, t0.Add(time.Second)))
	waitCalls(2)
	get(esdata.NotBefore(c, t0.Add(time.Second))) // joins the second
	time.Sleep(20 * time.Millisecond)
	close(gate)
	wg.Wait()
	if n := under.calls.Load(); n != 2 {
		t.Fatalf("%d backend calls, want 2: the first, and one for the callers it began too early for", n)
	}
}

func TestReadsSweepDropsUnused(t *testing.T) {
	reads, clk := newClockedReads(10 * time.Second)
	t0 := clk.now()
	inSlot := esdata.NotBefore(reads.Wrap("id", &jsonClient{}), t0)
	kept := esv1.ExternalSecretDataRemoteRef{Key: "kept"}
	for _, key := range []string{"kept", "dropped"} {
		if _, err := inSlot.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	clk.set(t0.Add(8 * time.Second))
	if _, err := inSlot.GetSecret(context.Background(), kept); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(12 * time.Second))
	reads.Sweep()
	if n := esdata.ReadsHeld(reads); n != 1 {
		t.Fatalf("%d results held after a sweep, want 1: the one used within the TTL", n)
	}
	clk.set(t0.Add(18 * time.Second))
	reads.Sweep()
	if n := esdata.ReadsHeld(reads); n != 0 {
		t.Fatalf("%d results held after none was used for a TTL, want 0", n)
	}
}
