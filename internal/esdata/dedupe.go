package esdata

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"sync"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// Reads deduplicates provider reads: identical requests to the same
// backend identity share one call while it is in flight (single-flight)
// and its result for TTL after, or, for a client that says which reads
// are recent enough ([NotBefore]), any result since then. An identity
// names a backend and the credentials used against it, so a result is
// only ever shared between callers that could have made the same call
// with the same rights.
//
// Refs that differ only in their property share one read of the whole
// secret when the client extracts properties itself
// ([providers.PropertyExtractor]).
//
// Reads of a client that reads in batches ([providers.BatchGetter]) that
// no result serves are batched, and a scheduled refresh reads ahead what
// the refreshes due in its slot read last time (see [Slot] and batch.go).
type Reads struct {
	ttl time.Duration
	now func() time.Time
	// unbatched turns batching off (see [Reads.Unbatched]).
	unbatched bool

	mu      sync.Mutex
	entries map[readKey]*readEntry
	// memory is what each identity's batched reads read, by slot, to read
	// ahead.
	memory map[string]*readMemory
	// stop ends reads ahead still running when the controller stops
	// (Close).
	stop     context.Context
	stopOnce context.CancelFunc
}

type readKey struct {
	identity string
	op       string
	ref      string
}

type readEntry struct {
	done chan struct{}
	// at is when the call to the backend began: the result is at least
	// as recent as that.
	at time.Time
	// used is when the result was last handed out; Sweep drops entries
	// unused for a TTL.
	used time.Time
	// keep is when the result may be swept unused: the end of the latest
	// refresh slot it was read or used for (see [InSlot]), since every
	// refresh of the slot shares it however late it comes; zero outside
	// slots.
	keep    time.Time
	value   []byte
	values  map[string][]byte
	err     error
	expired bool
}

// NewReads returns a dedupe layer whose results live for ttl.
func NewReads(ttl time.Duration) *Reads {
	stop, cancel := context.WithCancel(context.Background())
	return &Reads{ttl: ttl, now: time.Now, entries: map[readKey]*readEntry{}, memory: map[string]*readMemory{}, stop: stop, stopOnce: cancel}
}

// Close ends the reads ahead still running, whose waiters then fail: the
// controller is stopping and a background read must not outlive it.
func (d *Reads) Close() { d.stopOnce() }

// Unbatched turns batching off and returns d: every read that no result
// serves goes to the provider on its own, deduplicated as the reads of
// other clients are. It is there to measure what batching saves; call it
// before the first Wrap.
func (d *Reads) Unbatched() *Reads {
	d.unbatched = true
	return d
}

// Wrap returns a client that reads through the dedupe layer for identity.
func (d *Reads) Wrap(identity string, c providers.Client) providers.Client {
	dc := dedupedClient{d: d, identity: identity, c: c}
	if bg, ok := c.(providers.BatchGetter); ok && !d.unbatched {
		return &batchingClient{dedupedClient: dc, bg: bg}
	}
	return &dc
}

type dedupedClient struct {
	d        *Reads
	identity string
	c        providers.Client
	// notBefore, if set, is the oldest call whose result will do (see
	// [NotBefore]); zero accepts any younger than the TTL.
	notBefore time.Time
	// slot is the refresh slot the reads are for (see [InSlot]).
	slot Slot
}

var _ providers.Client = (*dedupedClient)(nil)

// readOptioner is a client reading through a [Reads] whose options
// [NotBefore] and [InSlot] set: a copy with f applied.
type readOptioner interface {
	with(f func(*dedupedClient)) providers.Client
}

func (c *dedupedClient) with(f func(*dedupedClient)) providers.Client {
	v := *c
	f(&v)
	return &v
}

func refKey(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("esdata: encode remote ref: " + err.Error())
	}
	return string(b)
}

func (c *dedupedClient) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	if ex, ok := c.c.(providers.PropertyExtractor); ok && ref.Property != "" {
		// One read of the whole secret serves every property of it.
		whole := ref
		whole.Property = ""
		v, err := c.GetSecret(ctx, whole)
		if err != nil {
			return nil, err
		}
		return ex.ExtractProperty(ref, v)
	}
	e := c.d.do(ctx, c.notBefore, c.slot.end(), readKey{c.identity, "get", refKey(ref)}, func() *readEntry {
		v, err := c.c.GetSecret(ctx, ref)
		return &readEntry{value: v, err: err}
	})
	return clone(e.value), e.err
}

func (c *dedupedClient) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	e := c.d.do(ctx, c.notBefore, c.slot.end(), readKey{c.identity, "map", refKey(ref)}, func() *readEntry {
		v, err := c.c.GetSecretMap(ctx, ref)
		return &readEntry{values: v, err: err}
	})
	return cloneMap(e.values), e.err
}

func (c *dedupedClient) GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	e := c.d.do(ctx, c.notBefore, c.slot.end(), readKey{c.identity, "find", refKey(find)}, func() *readEntry {
		v, err := c.c.GetAllSecrets(ctx, find)
		return &readEntry{values: v, err: err}
	})
	return cloneMap(e.values), e.err
}

// Close is a no-op: the client cache owns the underlying client.
func (c *dedupedClient) Close(context.Context) error { return nil }

// Validate passes through when the underlying client validates.
func (c *dedupedClient) Validate(ctx context.Context) error {
	if v, ok := c.c.(providers.Validator); ok {
		return v.Validate(ctx)
	}
	return nil
}

// NotBefore returns c reading so that its deduplicated reads accept
// exactly the results of calls begun at or after t, however old: the TTL
// does not apply. A scheduled refresh passes the start of its slot, so
// that it never reuses a read from before the slot (a value changed just
// after one refresh would stay hidden for another whole interval), while
// every refresh of the slot shares the slot's reads however long the
// slot's refreshes take to get through the queue. A client that does not
// read through a [Reads] is returned as it is.
func NotBefore(c providers.Client, t time.Time) providers.Client {
	o, ok := c.(readOptioner)
	if !ok {
		return c
	}
	return o.with(func(dc *dedupedClient) { dc.notBefore = t })
}

// usable reports whether e serves a caller that accepts calls begun at
// or after nb (zero: younger than the TTL): a call in flight, or a
// finished one that answered (see answered). Call it with d.mu held.
func (d *Reads) usable(e *readEntry, nb, now time.Time) bool {
	if e.at.Before(nb) {
		return false
	}
	select {
	case <-e.done:
		return !e.expired && answered(e.err) && (!nb.IsZero() || now.Sub(e.at) < d.ttl)
	default:
		return true
	}
}

// serve marks e handed out at now, to be kept until keep at least.
// Call it with d.mu held.
func (e *readEntry) serve(now, keep time.Time) {
	e.used = now
	if keep.After(e.keep) {
		e.keep = keep
	}
}

// answered reports whether a call that returned err got an answer to
// share, a value or "not found", rather than a failure, which the next
// caller tries again.
func answered(err error) bool {
	return err == nil || errors.Is(err, providers.ErrSecretNotFound)
}

// wait returns e once its call is done, or an error when ctx ends first.
func wait(ctx context.Context, e *readEntry) *readEntry {
	select {
	case <-e.done:
		return e
	default:
	}
	select {
	case <-e.done:
		return e
	case <-ctx.Done():
		return &readEntry{err: ctx.Err()}
	}
}

// do returns the entry for key, calling fetch if there is no recent
// enough one: one begun at or after nb if it is set, else one younger
// than the TTL. The entry is kept until keep at least. Failures are
// shared with concurrent waiters but not cached afterwards, so a failure
// is retried by the next caller; "not found" is an answer, shared as a
// value is.
func (d *Reads) do(ctx context.Context, nb, keep time.Time, key readKey, fetch func() *readEntry) *readEntry {
	d.mu.Lock()
	now := d.now()
	if e, ok := d.entries[key]; ok && d.usable(e, nb, now) {
		e.serve(now, keep)
		d.mu.Unlock()
		return wait(ctx, e)
	}
	// No entry, a stale one, or one in flight since before nb: a new call.
	// A call still in flight finishes into its own entry and serves its
	// waiters; the map holds the newest.
	e := &readEntry{done: make(chan struct{}), at: now, used: now, keep: keep}
	d.entries[key] = e
	d.mu.Unlock()

	r := fetch()
	d.mu.Lock()
	e.value, e.values, e.err = r.value, r.values, r.err
	close(e.done)
	d.mu.Unlock()
	return e
}

// Forget drops every cached result of identity (its store changed or its
// client was rebuilt).
func (d *Reads) Forget(identity string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.memory, identity)
	for k, e := range d.entries {
		if k.identity == identity {
			e.expired = true
			delete(d.entries, k)
		}
	}
}

// Sweep drops the results nobody asked for during the last TTL (a read
// made or used for a refresh slot stays until the slot ends) and failed ones, and the
// remembered reads of slots long past; call it periodically so that
// memory holds only the reads in use.
func (d *Reads) Sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for k, e := range d.entries {
		select {
		case <-e.done:
			if (now.Sub(e.used) >= d.ttl && !now.Before(e.keep)) || !answered(e.err) {
				delete(d.entries, k)
			}
		default:
		}
	}
	for id, m := range d.memory {
		if m.sweep(now) {
			delete(d.memory, id)
		}
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func cloneMap(m map[string][]byte) map[string][]byte {
	if m == nil {
		return nil
	}
	out := make(map[string][]byte, len(m))
	for k, v := range maps.All(m) {
		out[k] = clone(v)
	}
	return out
}
