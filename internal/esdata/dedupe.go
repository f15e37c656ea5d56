package esdata

import (
	"context"
	"encoding/json"
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
type Reads struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[readKey]*readEntry
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
	used    time.Time
	value   []byte
	values  map[string][]byte
	err     error
	expired bool
}

// NewReads returns a dedupe layer whose results live for ttl.
func NewReads(ttl time.Duration) *Reads {
	return &Reads{ttl: ttl, now: time.Now, entries: map[readKey]*readEntry{}}
}

// Wrap returns a client that reads through the dedupe layer for identity.
func (d *Reads) Wrap(identity string, c providers.Client) providers.Client {
	return &dedupedClient{d: d, identity: identity, c: c}
}

type dedupedClient struct {
	d        *Reads
	identity string
	c        providers.Client
	// notBefore, if set, is the oldest call whose result will do (see
	// [NotBefore]); zero accepts any younger than the TTL.
	notBefore time.Time
}

var _ providers.Client = (*dedupedClient)(nil)

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
	e := c.d.do(ctx, c.notBefore, readKey{c.identity, "get", refKey(ref)}, func() *readEntry {
		v, err := c.c.GetSecret(ctx, ref)
		return &readEntry{value: v, err: err}
	})
	return clone(e.value), e.err
}

func (c *dedupedClient) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	e := c.d.do(ctx, c.notBefore, readKey{c.identity, "map", refKey(ref)}, func() *readEntry {
		v, err := c.c.GetSecretMap(ctx, ref)
		return &readEntry{values: v, err: err}
	})
	return cloneMap(e.values), e.err
}

func (c *dedupedClient) GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	e := c.d.do(ctx, c.notBefore, readKey{c.identity, "find", refKey(find)}, func() *readEntry {
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
	dc, ok := c.(*dedupedClient)
	if !ok {
		return c
	}
	v := *dc
	v.notBefore = t
	return &v
}

// do returns the entry for key, calling fetch if there is no recent
// enough one: one begun at or after nb if it is set, else one younger
// than the TTL. Errors are shared with
// concurrent waiters but not cached afterwards, so a failure is retried
// by the next caller.
func (d *Reads) do(ctx context.Context, nb time.Time, key readKey, fetch func() *readEntry) *readEntry {
	d.mu.Lock()
	now := d.now()
	if e, ok := d.entries[key]; ok && !e.at.Before(nb) {
		select {
		case <-e.done:
			if !e.expired && e.err == nil && (!nb.IsZero() || now.Sub(e.at) < d.ttl) {
				e.used = now
				d.mu.Unlock()
				return e
			}
		default:
			e.used = now
			d.mu.Unlock()
			select {
			case <-e.done:
				return e
			case <-ctx.Done():
				return &readEntry{err: ctx.Err()}
			}
		}
	}
	// No entry, a stale one, or one in flight since before nb: a new call.
	// A call still in flight finishes into its own entry and serves its
	// waiters; the map holds the newest.
	e := &readEntry{done: make(chan struct{}), at: now, used: now}
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
	for k, e := range d.entries {
		if k.identity == identity {
			e.expired = true
			delete(d.entries, k)
		}
	}
}

// Sweep drops the results nobody asked for during the last TTL and
// failed ones; call it periodically so that memory holds only the reads
// in use.
func (d *Reads) Sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for k, e := range d.entries {
		select {
		case <-e.done:
			if now.Sub(e.used) >= d.ttl || e.err != nil {
				delete(d.entries, k)
			}
		default:
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
