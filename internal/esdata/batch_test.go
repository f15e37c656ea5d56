package esdata_test

// Tests of batched reads and reading ahead. The remote refs and the
// secrets' contents are tenant input: ExternalSecrets of several tenants
// reading through one store identity, some naming keys that do not exist.
// Identities come from the client cache and slot times from the
// controller's schedule; the TTL is the operator's.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/providers"
)

// batchBackend is a provider client that reads in batches, as the AWS
// clients do, and records the keys of every batch call.
type batchBackend struct {
	size    int
	singles atomic.Int32 // GetSecret calls, which batching must not make

	mu      sync.Mutex
	values  map[string]string // whole values by key; absent: not found
	failing map[string]error  // per-entry failures by key
	calls   [][]string
	gate    chan struct{} // nil: calls return at once
	short   bool          // answer one result too few
	panics  bool
}

var _ providers.BatchGetter = (*batchBackend)(nil)

// newBackend holds n JSON secrets prefix/000… with properties user and
// pass.
func newBackend(prefix string, n int) *batchBackend {
	b := &batchBackend{size: 20, values: map[string]string{}, failing: map[string]error{}}
	for i := range n {
		b.values[key(prefix, i)] = fmt.Sprintf(`{"user":"u-%s","pass":"p-%s"}`, key(prefix, i), key(prefix, i))
	}
	return b
}

func key(prefix string, i int) string { return fmt.Sprintf("%s/%03d", prefix, i) }

func (b *batchBackend) GetSecret(_ context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	b.singles.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.values[ref.Key]
	if !ok {
		return nil, providers.NotFound("%s", ref.Key)
	}
	if ref.Property != "" {
		return providers.Property([]byte(v), ref.Property)
	}
	return []byte(v), nil
}

func (b *batchBackend) GetSecretMap(context.Context, esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	return nil, errors.New("not used: the dedupe layer extracts maps from whole reads")
}

func (b *batchBackend) GetAllSecrets(context.Context, esv1.ExternalSecretFind) (map[string][]byte, error) {
	return nil, errors.New("not used")
}

func (b *batchBackend) Close(context.Context) error { return nil }

func (b *batchBackend) BatchSize() int { return b.size }

func (b *batchBackend) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	return providers.Property(whole, ref.Property)
}

func (b *batchBackend) ExtractMap(ref esv1.ExternalSecretDataRemoteRef, whole []byte) (map[string][]byte, error) {
	return providers.SecretMapFromJSON(whole)
}

func (b *batchBackend) GetSecrets(_ context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	keys := make([]string, len(refs))
	for i, ref := range refs {
		keys[i] = ref.Key
	}
	b.mu.Lock()
	b.calls = append(b.calls, keys)
	gate, short, panics := b.gate, b.short, b.panics
	b.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if panics {
		panic("provider bug")
	}
	out := make([]providers.Result, len(refs))
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, ref := range refs {
		v, ok := b.values[ref.Key]
		switch {
		case ref.Property != "":
			out[i].Err = errors.New("the dedupe layer asked for a property, not the whole secret")
		case b.failing[ref.Key] != nil:
			out[i].Err = b.failing[ref.Key]
		case !ok:
			out[i].Err = providers.NotFound("%s", ref.Key)
		default:
			out[i].Value = []byte(v)
		}
	}
	if short {
		return out[1:]
	}
	return out
}

// reset forgets the calls made so far.
func (b *batchBackend) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = nil
}

// recorded returns the keys of each batch call so far.
func (b *batchBackend) recorded() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// keysRead counts how often each key was read in a batch call.
func (b *batchBackend) keysRead() map[string]int {
	m := map[string]int{}
	for _, call := range b.recorded() {
		for _, k := range call {
			m[k]++
		}
	}
	return m
}

// twoRefs are the data refs of an ExternalSecret reading user of one
// secret and pass of another.
func twoRefs(a, b string) []esv1.ExternalSecretDataRemoteRef {
	return []esv1.ExternalSecretDataRemoteRef{{Key: a, Property: "user"}, {Key: b, Property: "pass"}}
}

// checkTwo requires the values twoRefs(a, b) read.
func checkTwo(t *testing.T, a, b string, got []providers.Result) {
	t.Helper()
	if len(got) != 2 || got[0].Err != nil || got[1].Err != nil || string(got[0].Value) != "u-"+a || string(got[1].Value) != "p-"+b {
		t.Errorf("read %s user and %s pass: %+v", a, b, got)
	}
}

// readAll reads each ExternalSecret's refs through c, in the slot, on
// workers goroutines, as the controller's workers do.
func readAll(t *testing.T, c providers.Client, slot esdata.Slot, nb time.Time, ess [][2]string, workers int) {
	t.Helper()
	cl := esdata.InSlot(esdata.NotBefore(c, nb), slot).(providers.BatchGetter)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ess) {
					return
				}
				es := ess[i]
				checkTwo(t, es[0], es[1], cl.GetSecrets(context.Background(), twoRefs(es[0], es[1])))
			}
		})
	}
	wg.Wait()
}

// TestReadAheadReadsASlotInFullBatches is the case in miniature:
// 500 ExternalSecrets read two of 200 secrets each through one identity,
// with 4 workers. From the first scheduled slot on, each slot reads every
// secret once, in 10 calls of 20, and never one by one; a new
// ExternalSecret between slots reads its own keys in one call.
func TestReadAheadReadsASlotInFullBatches(t *testing.T) {
	reads, clk := newClockedReads(10 * time.Second)
	be := newBackend("s", 200)
	c := reads.Wrap("id", be)
	const interval = time.Minute
	ess := make([][2]string, 500)
	for i := range ess {
		ess[i] = [2]string{key("s", (2*i)%200), key("s", (2*i+1)%200)}
	}
	s0 := clk.now()
	readAll(t, c, esdata.Slot{Start: s0, Interval: interval}, s0, ess, 4)
	if n := esdata.ReadsRemembered(reads, "id"); n != 200 {
		t.Fatalf("%d reads remembered after the first syncs, want 200", n)
	}
	for cycle := 1; cycle <= 3; cycle++ {
		start := s0.Add(time.Duration(cycle) * interval)
		clk.set(start.Add(time.Second))
		be.reset()
		readAll(t, c, esdata.Slot{Start: start, Interval: interval, Scheduled: true}, start, ess, 4)
		calls := be.recorded()
		if len(calls) > 10 {
			t.Errorf("slot %d: %d batch calls for 200 secrets, want at most 10", cycle, len(calls))
		}
		for k, n := range be.keysRead() {
			if n != 1 {
				t.Errorf("slot %d: %s read %d times, want once", cycle, k, n)
			}
		}
		if n := len(be.keysRead()); n != 200 {
			t.Errorf("slot %d: %d secrets read, want 200", cycle, n)
		}
	}
	if n := be.singles.Load(); n != 0 {
		t.Fatalf("%d reads one by one, want none", n)
	}

	t.Run("a new ExternalSecret between slots reads its own keys in one call", func(t *testing.T) {
		be.mu.Lock()
		be.values["new/a"] = `{"user":"u-new/a"}`
		be.values["new/b"] = `{"pass":"p-new/b"}`
		be.mu.Unlock()
		be.reset()
		now := s0.Add(3*interval + 30*time.Second)
		clk.set(now)
		cl := esdata.InSlot(esdata.NotBefore(c, now), esdata.Slot{Start: s0.Add(3 * interval), Interval: interval})
		checkTwo(t, "new/a", "new/b", cl.(providers.BatchGetter).GetSecrets(context.Background(), twoRefs("new/a", "new/b")))
		if calls := be.recorded(); len(calls) != 1 || !slices.Equal(calls[0], []string{"new/a", "new/b"}) {
			t.Fatalf("batch calls %q, want one of its two keys", calls)
		}
	})
}

// TestReadAheadServesEveryReaderOfTheSlot: 20 ExternalSecrets read two
// of 40 secrets each; after their first syncs, half of them refresh one
// slot later than the other half. Whichever refreshes first, the slot in
// which all of them refresh reads the 40 secrets in 2 calls of 20, each
// once, and a slot reads ahead only what its readers want.
func TestReadAheadServesEveryReaderOfTheSlot(t *testing.T) {
	const interval = time.Minute
	ess := make([][2]string, 20)
	for i := range ess {
		ess[i] = [2]string{key("s", 2*i), key("s", 2*i+1)}
	}
	onTime, others := ess[:10], ess[10:]
	tests := []struct {
		name string
		// othersNext is the slot the others' first syncs in slot 0 are
		// next due in, as the controller's schedule says (Slot.Next).
		othersNext int
		// slot1Keys is how many secrets slot 1, where only the on-time
		// half refreshes, reads.
		slot1Keys int
	}{
		{
			// The controller keeps refresh times to the second, and
			// counts a refresh begun in the last second of a slot in
			// the slot after: that reader skips one slot.
			name:       "the others began in the last second of slot 0 and are due in slot 2",
			othersNext: 2,
			slot1Keys:  20,
		},
		{
			// Their refreshes were due in slot 1, but the load held
			// them past its end: they run in slot 2.
			name:       "the others are due in slot 1 and run late, in slot 2",
			othersNext: 1,
			slot1Keys:  40,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads, clk := newClockedReads(10 * time.Second)
			be := newBackend("s", 40)
			c := reads.Wrap("id", be)
			s0 := clk.now()
			slot := func(n int) time.Time { return s0.Add(time.Duration(n) * interval) }
			readAll(t, c, esdata.Slot{Start: slot(0), Interval: interval, Next: slot(1)}, slot(0), onTime, 4)
			readAll(t, c, esdata.Slot{Start: slot(0), Interval: interval, Next: slot(tt.othersNext)}, slot(0), others, 4)

			clk.set(slot(1).Add(time.Second))
			be.reset()
			scheduled := esdata.Slot{Start: slot(1), Interval: interval, Scheduled: true, Next: slot(2)}
			readAll(t, c, scheduled, slot(1), onTime, 4)
			waitFor(t, func() bool { return len(be.keysRead()) >= tt.slot1Keys })
			if got := be.keysRead(); len(got) != tt.slot1Keys {
				t.Errorf("slot 1 read %d secrets, want %d: %v", len(got), tt.slot1Keys, got)
			}

			clk.set(slot(2).Add(time.Second))
			be.reset()
			// The others first: any reader of the slot reads it ahead.
			scheduled = esdata.Slot{Start: slot(2), Interval: interval, Scheduled: true, Next: slot(3)}
			readAll(t, c, scheduled, slot(2), others, 4)
			readAll(t, c, scheduled, slot(2), onTime, 4)
			if calls := be.recorded(); len(calls) != 2 {
				t.Errorf("slot 2: %d batch calls for 40 secrets, want 2: %q", len(calls), calls)
			}
			for k, n := range be.keysRead() {
				if n != 1 {
					t.Errorf("slot 2: %s read %d times, want once", k, n)
				}
			}
		})
	}
}

// TestBatchedReadsConcurrent: many ExternalSecrets reading overlapping
// keys at once, while the backend is slow, read each key once and get
// their own values.
func TestBatchedReadsConcurrent(t *testing.T) {
	reads, clk := newClockedReads(time.Hour)
	be := newBackend("k", 40)
	be.gate = make(chan struct{})
	c := reads.Wrap("id", be)
	nb := clk.now()
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			a, b := key("k", (g*7)%40), key("k", (g*11+3)%40)
			checkTwo(t, a, b, esdata.NotBefore(c, nb).(providers.BatchGetter).GetSecrets(context.Background(), twoRefs(a, b)))
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(be.gate)
	wg.Wait()
	for k, n := range be.keysRead() {
		if n != 1 {
			t.Errorf("%s read %d times, want once", k, n)
		}
	}
	if n := be.singles.Load(); n != 0 {
		t.Fatalf("%d reads one by one, want none", n)
	}
}

// TestBatchedReadsPerEntryErrors: the reads of two ExternalSecrets share a
// call; what fails for one key reaches the ExternalSecret that asked for
// it alone.
func TestBatchedReadsPerEntryErrors(t *testing.T) {
	errThrottled := errors.New("ThrottlingException: Rate exceeded")
	tests := []struct {
		name string
		// set up the backend; the bad ExternalSecret reads k/000 and
		// "bad", the good one k/001 and k/002.
		setup func(b *batchBackend)
		// wantBad decides whether the bad ref's error is right.
		wantBad func(err error) bool
		// reread says whether reading the bad ref again calls the
		// backend: a failure is tried again, an answer is shared.
		reread bool
	}{
		{
			name:    "a key that does not exist is not found, for its reader alone",
			setup:   func(*batchBackend) {},
			wantBad: func(err error) bool { return errors.Is(err, providers.ErrSecretNotFound) },
		},
		{
			name:    "a key that fails fails its reader alone and is tried again",
			setup:   func(b *batchBackend) { b.values["bad"] = `{"user":"x"}`; b.failing["bad"] = errThrottled },
			wantBad: func(err error) bool { return errors.Is(err, errThrottled) },
			reread:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads, clk := newClockedReads(time.Hour)
			be := newBackend("k", 3)
			tt.setup(be)
			be.gate = make(chan struct{})
			c := esdata.NotBefore(reads.Wrap("id", be), clk.now()).(providers.BatchGetter)
			var bad, good []providers.Result
			var wg sync.WaitGroup
			wg.Go(func() { bad = c.GetSecrets(context.Background(), twoRefs(key("k", 0), "bad")) })
			for len(be.recorded()) == 0 {
				time.Sleep(time.Millisecond)
			}
			// The good ExternalSecret reads while the bad one's call is
			// in flight.
			wg.Go(func() { good = c.GetSecrets(context.Background(), twoRefs(key("k", 1), key("k", 2))) })
			time.Sleep(10 * time.Millisecond)
			close(be.gate)
			wg.Wait()
			checkTwo(t, key("k", 1), key("k", 2), good)
			if bad[0].Err != nil || string(bad[0].Value) != "u-k/000" {
				t.Errorf("the bad ExternalSecret's good ref: %q, %v", bad[0].Value, bad[0].Err)
			}
			if !tt.wantBad(bad[1].Err) {
				t.Errorf("the bad ref: %q, %v", bad[1].Value, bad[1].Err)
			}
			before := len(be.recorded())
			_, err := c.(providers.Client).GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "bad", Property: "user"})
			if !tt.wantBad(err) {
				t.Errorf("the bad ref again: %v", err)
			}
			if again := len(be.recorded()) > before; again != tt.reread {
				t.Errorf("reading the bad ref again called the backend: %v, want %v", again, tt.reread)
			}
		})
	}
}

// TestBatchedReadsBrokenCallFailsItsReads: a batch call that answers the
// wrong number of results, or panics, fails the reads it carried instead
// of leaving their callers waiting, and the next read tries again.
func TestBatchedReadsBrokenCallFailsItsReads(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(b *batchBackend)
	}{
		{"too few results", func(b *batchBackend) { b.short = true }},
		{"a panic", func(b *batchBackend) { b.panics = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads, _ := newClockedReads(time.Hour)
			be := newBackend("k", 2)
			tc.breakIt(be)
			c := reads.Wrap("id", be).(providers.BatchGetter)
			for _, r := range c.GetSecrets(context.Background(), twoRefs(key("k", 0), key("k", 1))) {
				if r.Err == nil || errors.Is(r.Err, providers.ErrSecretNotFound) {
					t.Fatalf("got %q, %v; want a failure", r.Value, r.Err)
				}
			}
			be.mu.Lock()
			be.short, be.panics = false, false
			be.mu.Unlock()
			checkTwo(t, key("k", 0), key("k", 1), c.GetSecrets(context.Background(), twoRefs(key("k", 0), key("k", 1))))
		})
	}
}

// TestReadAheadNeverCrossesIdentities: two tenants' stores with different
// credentials read keys of the same names; a scheduled refresh of one
// reads ahead its own reads only, with its own client.
func TestReadAheadNeverCrossesIdentities(t *testing.T) {
	reads, clk := newClockedReads(10 * time.Second)
	const interval = time.Minute
	// Both backends hold every key, so a read-ahead through the wrong
	// client would succeed: only the calls can tell.
	a, b := newBackend("a", 30), newBackend("a", 30)
	maps.Copy(a.values, newBackend("b", 5).values)
	maps.Copy(b.values, newBackend("b", 5).values)
	ca, cb := reads.Wrap("tenant-a", a), reads.Wrap("tenant-b", b)
	s0 := clk.now()
	var aKeys [][2]string
	for i := 0; i < 30; i += 2 {
		aKeys = append(aKeys, [2]string{key("a", i), key("a", i+1)})
	}
	readAll(t, ca, esdata.Slot{Start: s0, Interval: interval}, s0, aKeys, 2)
	readAll(t, cb, esdata.Slot{Start: s0, Interval: interval}, s0, [][2]string{{key("b", 0), key("b", 1)}}, 1)
	a.reset()
	b.reset()
	s1 := s0.Add(interval)
	clk.set(s1)
	readAll(t, cb, esdata.Slot{Start: s1, Interval: interval, Scheduled: true}, s1, [][2]string{{key("b", 0), key("b", 1)}}, 1)
	readAll(t, ca, esdata.Slot{Start: s1, Interval: interval, Scheduled: true}, s1, aKeys[:1], 1)
	// The rest of A's read-ahead goes on in the background.
	waitFor(t, func() bool { return len(a.keysRead()) == 30 })
	for k := range b.keysRead() {
		if strings.HasPrefix(k, "a/") {
			t.Errorf("tenant A's %s was read with tenant B's client", k)
		}
	}
	for k := range a.keysRead() {
		if strings.HasPrefix(k, "b/") {
			t.Errorf("tenant B's %s was read with tenant A's client", k)
		}
	}
}

// TestReadAheadForgetsWhatNoSlotRead: a key is read ahead in the slot
// its reader refreshes in next and, if no reader came there, once more in
// the slot after (its reader may be running late); then it is forgotten.
// Read-ahead results outlive the TTL until their slot ends.
func TestReadAheadForgetsWhatNoSlotRead(t *testing.T) {
	reads, clk := newClockedReads(10 * time.Second)
	be := newBackend("k", 3)
	c := reads.Wrap("id", be)
	const interval = time.Minute
	s0 := clk.now()
	slot := func(start time.Time, scheduled bool) providers.BatchGetter {
		return esdata.InSlot(esdata.NotBefore(c, start), esdata.Slot{Start: start, Interval: interval, Scheduled: scheduled}).(providers.BatchGetter)
	}
	readOne := func(cl providers.BatchGetter, k string) {
		t.Helper()
		if r := cl.GetSecrets(context.Background(), []esv1.ExternalSecretDataRemoteRef{{Key: k, Property: "user"}}); r[0].Err != nil || string(r[0].Value) != "u-"+k {
			t.Fatalf("%s: %q, %v", k, r[0].Value, r[0].Err)
		}
	}
	for i := range 3 {
		readOne(slot(s0, false), key("k", i))
	}
	s1 := s0.Add(interval)
	clk.set(s1)
	be.reset()
	readOne(slot(s1, true), key("k", 0))
	if calls := be.recorded(); len(calls) != 1 || len(calls[0]) != 3 {
		t.Fatalf("slot 1 calls %q, want one reading k/000 and the two others ahead", calls)
	}
	// k/001 is read late in the slot, past the TTL: the read-ahead still
	// serves it. k/002 is not read in slot 1.
	clk.set(s1.Add(40 * time.Second))
	reads.Sweep()
	readOne(slot(s1, true), key("k", 1))
	if n := len(be.recorded()); n != 1 {
		t.Fatalf("%d calls: a read made ahead was swept before its slot ended", n)
	}
	s2 := s1.Add(interval)
	clk.set(s2)
	be.reset()
	readOne(slot(s2, true), key("k", 0))
	readOne(slot(s2, true), key("k", 1))
	if got := be.keysRead(); len(be.recorded()) != 1 || got[key("k", 1)] != 1 || got[key("k", 2)] != 1 {
		t.Fatalf("slot 2 calls %q; want one, with k/001 and k/002 ahead: slot 1 wanted k/002 and its reader may come late", be.recorded())
	}
	reads.Sweep()
	if n := esdata.ReadsRemembered(reads, "id"); n != 3 {
		t.Fatalf("%d reads remembered in slot 2, want 3", n)
	}
	s3 := s2.Add(interval)
	clk.set(s3)
	be.reset()
	readOne(slot(s3, true), key("k", 0))
	if got := be.keysRead(); got[key("k", 2)] != 0 || got[key("k", 1)] != 1 {
		t.Fatalf("slot 3 read %v; want k/001 ahead and not k/002, which neither slot 1 nor slot 2 read", got)
	}
	reads.Sweep()
	if n := esdata.ReadsRemembered(reads, "id"); n != 2 {
		t.Fatalf("%d reads remembered, want 2: k/002 was not read for two slots", n)
	}
	t.Run("a store that changed forgets", func(t *testing.T) {
		reads.Forget("id")
		if n := esdata.ReadsRemembered(reads, "id"); n != 0 {
			t.Fatalf("%d reads remembered after Forget", n)
		}
	})
}

// TestReadAheadRemembersAtMostTheCap: a tenant reading more keys than the
// cap through one identity bounds what is remembered, not what is read.
func TestReadAheadRemembersAtMostTheCap(t *testing.T) {
	reads, clk := newClockedReads(time.Hour)
	be := newBackend("k", 0)
	be.size = 500
	c := esdata.InSlot(esdata.NotBefore(reads.Wrap("id", be), clk.now()), esdata.Slot{Start: clk.now(), Interval: time.Hour}).(providers.BatchGetter)
	const n = esdata.MaxRememberedReads + 500
	refs := make([]esv1.ExternalSecretDataRemoteRef, 0, 1000)
	for i := range n {
		refs = append(refs, esv1.ExternalSecretDataRemoteRef{Key: fmt.Sprintf("k/%05d", i)})
		if len(refs) == cap(refs) || i == n-1 {
			for _, r := range c.GetSecrets(context.Background(), refs) {
				if !errors.Is(r.Err, providers.ErrSecretNotFound) {
					t.Fatalf("got %v, want not found", r.Err)
				}
			}
			refs = refs[:0]
		}
	}
	if got := esdata.ReadsRemembered(reads, "id"); got != esdata.MaxRememberedReads {
		t.Fatalf("%d reads remembered, want the cap %d", got, esdata.MaxRememberedReads)
	}
}

// TestBatchedReadsShareWholeSecrets: data entries with any property,
// decoding and a dataFrom.extract of one secret share one read.
func TestBatchedReadsShareWholeSecrets(t *testing.T) {
	reads, clk := newClockedReads(time.Hour)
	be := newBackend("k", 1)
	c := esdata.NotBefore(reads.Wrap("id", be), clk.now())
	ctx := context.Background()
	k := key("k", 0)
	if v, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: k, Property: "user"}); err != nil || string(v) != "u-"+k {
		t.Fatalf("GetSecret = %q, %v", v, err)
	}
	if v, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: k, Property: "pass", DecodingStrategy: esv1.ExternalSecretDecodeNone}); err != nil || string(v) != "p-"+k {
		t.Fatalf("GetSecret = %q, %v", v, err)
	}
	m, err := c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: k, ConversionStrategy: esv1.ExternalSecretConversionDefault})
	if err != nil || string(m["user"]) != "u-"+k || string(m["pass"]) != "p-"+k {
		t.Fatalf("GetSecretMap = %q, %v", m, err)
	}
	if calls := be.recorded(); len(calls) != 1 || be.singles.Load() != 0 {
		t.Fatalf("batch calls %q and %d single reads, want one batch call", calls, be.singles.Load())
	}
}

// TestUnbatchedReads: with batching off, a batch reader is read one key a
// call, deduplicated as other clients are.
func TestUnbatchedReads(t *testing.T) {
	reads := esdata.NewReads(time.Hour).Unbatched()
	be := newBackend("k", 2)
	c := reads.Wrap("id", be)
	if _, ok := c.(providers.BatchGetter); ok {
		t.Fatal("the unbatched client offers batches")
	}
	for range 2 {
		for i := range 2 {
			if _, err := c.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: key("k", i), Property: "user"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := be.singles.Load(); n != 2 || len(be.recorded()) != 0 {
		t.Fatalf("%d single reads and %d batch calls, want 2 and 0", n, len(be.recorded()))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
