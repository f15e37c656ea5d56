package esdata

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/go-logr/logr"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// Batched reads. A client that reads many secrets in one backend call
// ([providers.BatchGetter]: AWS BatchGetSecretValue, 20 secrets a call;
// Parameter Store GetParameters, 10) gets every read that no shared result
// serves through such a call: the reads an ExternalSecret asks for
// together share one, and a scheduled refresh reads ahead.
//
// Reading ahead: the reads of one identity are remembered with the
// refresh slot their reader refreshes in next ([Slot.Next]). The first
// scheduled refresh of a new slot claims, besides its own reads, every
// read remembered for that slot or for the slot before (a reader that
// runs late, past the end of the slot it was due in, refreshes in this
// one), fills its own call with them up to the batch size, and reads the
// rest in batches in the background; the slot's other refreshes then find
// their reads done or in flight. So the refreshes of N secrets cost about
// N/20 calls however many ExternalSecrets read them, however few workers
// reconcile them and however late the load makes them. A key that no
// refresh read in the slot it was wanted in nor in the slot after is not
// read ahead again and is forgotten. Each identity remembers at most
// [MaxRememberedReads]; what is read ahead is fetched with the client, and
// so the credentials, of the identity that read it.

const (
	// MaxRememberedReads bounds the whole-secret reads remembered per
	// identity for reading ahead: 10,000, a few MiB of refs at most. Past
	// it, a new key is read when asked, batched with its caller's, but
	// not ahead.
	MaxRememberedReads = 10000
	// maxSlotSeries bounds the refresh intervals per identity whose slots
	// are read ahead: intervals are chosen by tenants.
	maxSlotSeries = 64
	// readAheadTimeout bounds the background calls of one read-ahead; its
	// reads fail with the deadline past it, and their callers read again.
	readAheadTimeout = 5 * time.Minute
)

// errBatchAnswer fails the reads of a batch call that did not answer one
// result per ref.
var errBatchAnswer = errors.New("the provider's batch read answered no result for this ref")

// errBatchPanic fails the reads of a batch call that panicked.
var errBatchPanic = errors.New("the provider's batch read panicked")

// Slot is the refresh slot a read is made for (see [NextRefresh]).
type Slot struct {
	// Start is when the slot begins.
	Start time.Time
	// Interval is the refresh interval of the ExternalSecret reading: the
	// slots of an identity and an interval are Interval apart.
	Interval time.Duration
	// Scheduled says the read is a scheduled refresh of the slot: the
	// first of a slot reads ahead. A first sync or the sync of a changed
	// ExternalSecret is not; its reads are remembered all the same.
	Scheduled bool
	// Next is when the slot of the reader's next scheduled refresh
	// begins: the reads are remembered to be read ahead for it. It is
	// usually the slot after Start, but the schedule may count a read at
	// the very end of a slot in the slot after (the controller keeps the
	// refresh time to the second), and then the reader skips that one.
	// Zero means the slot after Start.
	Next time.Time
}

// end is when s ends: the reads made for it are kept until then. Zero
// outside a slot.
func (s Slot) end() time.Time {
	if s.Interval <= 0 || s.Start.IsZero() {
		return time.Time{}
	}
	return s.Start.Add(s.Interval)
}

// next is the slot whose read-ahead s's reads are remembered for.
func (s Slot) next() time.Time {
	if s.Next.IsZero() {
		return s.Start.Add(s.Interval)
	}
	return s.Next
}

// InSlot returns c reading for slot s: its whole-secret reads are
// remembered to be read ahead in the slot the reader refreshes in next
// ([Slot.Next]), a scheduled refresh of a slot not seen yet reads ahead,
// and what is read or used for s is kept until s ends. Only clients that read in
// batches remember and read ahead. A client that does not read through a
// [Reads] is returned as it is. Combine it with [NotBefore], which says
// which results the reads accept.
func InSlot(c providers.Client, s Slot) providers.Client {
	o, ok := c.(readOptioner)
	if !ok {
		return c
	}
	return o.with(func(dc *dedupedClient) { dc.slot = s })
}

// readMemory is what one identity's batched reads read.
type readMemory struct {
	keys map[readKey]*remembered
	// begun is, per refresh interval, the latest slot a read-ahead began
	// for.
	begun map[time.Duration]time.Time
}

// remembered is a whole-secret read and the slot it is wanted in next:
// the earliest slot in which a reader that read it refreshes again.
type remembered struct {
	ref      esv1.ExternalSecretDataRemoteRef
	interval time.Duration
	slot     time.Time
}

// sweep forgets the reads that no refresh made in the slot they were
// wanted in nor in the slot after, and reports whether nothing is left.
func (m *readMemory) sweep(now time.Time) bool {
	for k, r := range m.keys {
		if !now.Before(r.slot.Add(2 * r.interval)) {
			delete(m.keys, k)
		}
	}
	for iv, start := range m.begun {
		if !now.Before(start.Add(2 * iv)) {
			delete(m.begun, iv)
		}
	}
	return len(m.keys) == 0 && len(m.begun) == 0
}

// batchingClient reads through the dedupe layer with a client that reads
// in batches.
type batchingClient struct {
	dedupedClient
	bg providers.BatchGetter
}

var (
	_ providers.Client      = (*batchingClient)(nil)
	_ providers.BatchGetter = (*batchingClient)(nil)
	_ providers.Validator   = (*batchingClient)(nil)
)

func (c *batchingClient) with(f func(*dedupedClient)) providers.Client {
	v := *c
	f(&v.dedupedClient)
	return &v
}

// wholeRef is the read of the whole secret ref names: what a batch
// reader's value depends on (see [providers.BatchGetter]). Refs that
// differ in property, decoding, conversion or null-byte policy share it.
func wholeRef(ref esv1.ExternalSecretDataRemoteRef) esv1.ExternalSecretDataRemoteRef {
	w := esv1.ExternalSecretDataRemoteRef{Key: ref.Key, Version: ref.Version}
	if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch {
		w.MetadataPolicy = ref.MetadataPolicy
	}
	return w
}

// GetSecret reads ref through a batch of one, unless a shared result or a
// read-ahead serves it.
func (c *batchingClient) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	r := c.GetSecrets(ctx, []esv1.ExternalSecretDataRemoteRef{ref})[0]
	return r.Value, r.Err
}

// GetSecretMap splits the whole secret, read as GetSecret reads it.
func (c *batchingClient) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	r := c.read(ctx, []esv1.ExternalSecretDataRemoteRef{ref})[0]
	if r.Err != nil {
		return nil, r.Err
	}
	return c.bg.ExtractMap(ref, r.Value)
}

// GetSecrets reads refs, the reads that no shared result serves in as few
// batch calls as the provider needs, and picks out their properties.
func (c *batchingClient) GetSecrets(ctx context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	out := c.read(ctx, refs)
	for i, ref := range refs {
		if out[i].Err == nil && ref.Property != "" {
			out[i].Value, out[i].Err = c.bg.ExtractProperty(ref, out[i].Value)
		}
	}
	return out
}

// BatchSize is the provider's.
func (c *batchingClient) BatchSize() int { return c.bg.BatchSize() }

// ExtractProperty is the provider's.
func (c *batchingClient) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	return c.bg.ExtractProperty(ref, whole)
}

// ExtractMap is the provider's.
func (c *batchingClient) ExtractMap(ref esv1.ExternalSecretDataRemoteRef, whole []byte) (map[string][]byte, error) {
	return c.bg.ExtractMap(ref, whole)
}

// pending is a read claimed for a batch call: its entry is in flight until
// the call fills it.
type pending struct {
	ref esv1.ExternalSecretDataRemoteRef
	e   *readEntry
}

// read returns the whole secret of each ref (see wholeRef). The caller's
// reads that no result serves are fetched in its own goroutine, its call
// filled up with reads ahead; the rest of a read-ahead is fetched in the
// background.
func (c *batchingClient) read(ctx context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	entries, own, ahead := c.claim(refs)
	if len(own) > 0 {
		size := max(c.bg.BatchSize(), 1)
		fill := min((size-len(own)%size)%size, len(ahead))
		own, ahead = append(own, ahead[:fill]...), ahead[fill:]
	}
	if len(ahead) > 0 {
		go c.readAhead(ctx, ahead)
	}
	if len(own) > 0 {
		c.fetch(ctx, own)
	}
	out := make([]providers.Result, len(refs))
	for i, e := range entries {
		e = wait(ctx, e)
		out[i] = providers.Result{Value: clone(e.value), Err: e.err}
	}
	return out
}

// claim finds the entry serving each of refs, making in-flight ones for
// those that none serves (own), remembers the reads for c's slot and,
// for the first scheduled refresh of a slot, claims the reads to make
// ahead.
func (c *batchingClient) claim(refs []esv1.ExternalSecretDataRemoteRef) (entries []*readEntry, own, ahead []pending) {
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	now, keep := d.now(), c.slot.end()
	entries = make([]*readEntry, len(refs))
	keys := make([]readKey, len(refs))
	for i, ref := range refs {
		w := wholeRef(ref)
		keys[i] = readKey{c.identity, "get", refKey(w)}
		if e, ok := d.entries[keys[i]]; ok && d.usable(e, c.notBefore, now) {
			e.serve(now, keep)
			entries[i] = e
			continue
		}
		// Refs of this call that read the same find this entry in flight.
		e := &readEntry{done: make(chan struct{}), at: now, used: now, keep: keep}
		d.entries[keys[i]] = e
		entries[i] = e
		own = append(own, pending{w, e})
	}
	s := c.slot
	if s.Interval <= 0 || s.Start.IsZero() {
		return entries, own, nil
	}
	m := d.memory[c.identity]
	if m == nil {
		m = &readMemory{keys: map[readKey]*remembered{}, begun: map[time.Duration]time.Time{}}
		d.memory[c.identity] = m
	}
	next, prev := s.next(), s.Start.Add(-s.Interval)
	for i, ref := range refs {
		r, ok := m.keys[keys[i]]
		switch {
		case !ok:
			if len(m.keys) < MaxRememberedReads {
				m.keys[keys[i]] = &remembered{ref: wholeRef(ref), interval: s.Interval, slot: next}
			}
		case next.Before(r.slot), r.slot.Before(prev),
			!r.slot.After(s.Start) && !entries[i].at.Before(s.Start):
			// This reader wants it sooner than the others, or nobody
			// wants it any more, or it was wanted by now and this slot
			// reads it: it is wanted next when this reader refreshes.
			r.interval, r.slot = s.Interval, next
		}
	}
	begun, seen := m.begun[s.Interval]
	if !s.Scheduled || !s.Start.After(begun) || (!seen && len(m.begun) >= maxSlotSeries) {
		return entries, own, nil
	}
	m.begun[s.Interval] = s.Start
	for k, r := range m.keys {
		// Wanted in this slot, or in the slot before by a reader that
		// has not come yet: it runs late and refreshes in this one.
		if r.interval != s.Interval || r.slot.Before(prev) || r.slot.After(s.Start) {
			continue
		}
		if e, ok := d.entries[k]; ok && d.usable(e, c.notBefore, now) {
			continue
		}
		e := &readEntry{done: make(chan struct{}), at: now, used: now, keep: keep}
		d.entries[k] = e
		ahead = append(ahead, pending{r.ref, e})
	}
	// In key order, so that the calls of a slot are the same every slot.
	slices.SortFunc(ahead, func(a, b pending) int {
		return cmp.Or(cmp.Compare(a.ref.Key, b.ref.Key), cmp.Compare(a.ref.Version, b.ref.Version), cmp.Compare(a.ref.MetadataPolicy, b.ref.MetadataPolicy))
	})
	return entries, own, ahead
}

// readAhead fetches reads claimed ahead of their callers, a batch a call,
// one call after the other, detached from the reconcile that claimed them
// but bounded in time.
func (c *batchingClient) readAhead(ctx context.Context, ps []pending) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readAheadTimeout)
	defer cancel()
	defer context.AfterFunc(c.d.stop, cancel)()
	size := max(c.bg.BatchSize(), 1)
	for chunk := range slices.Chunk(ps, size) {
		c.fetch(ctx, chunk)
	}
}

// fetch reads ps with one GetSecrets and fills their entries. Every entry
// is finished however the call ends, a panic included (it fails the
// reads and, in the background, goes no further): its waiters must not
// hang.
func (c *batchingClient) fetch(ctx context.Context, ps []pending) {
	var results []providers.Result
	defer func() {
		p := recover()
		if p != nil {
			// The panic's value may quote what was read: not logged.
			logr.FromContextOrDiscard(ctx).Error(errBatchPanic, "batch read", "reads", len(ps))
		}
		c.d.mu.Lock()
		for i, pe := range ps {
			r := providers.Result{Err: errBatchAnswer}
			if p != nil {
				r.Err = errBatchPanic
			} else if len(results) == len(ps) {
				r = results[i]
			}
			pe.e.value, pe.e.err = r.Value, r.Err
			close(pe.e.done)
		}
		c.d.mu.Unlock()
	}()
	refs := make([]esv1.ExternalSecretDataRemoteRef, len(ps))
	for i, p := range ps {
		refs[i] = p.ref
	}
	results = c.bg.GetSecrets(ctx, refs)
}
