package esdata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/providers"
)

// TrackingKube is the Kubernetes access the core gives a provider while it
// builds a client. It records what was read, so the cache can tell when the
// credentials behind a client change and which clients share an identity.
type TrackingKube interface {
	providers.Kube
	// Fingerprint digests everything read so far: the content of Secrets
	// and ConfigMaps, and the service accounts tokens were requested for.
	Fingerprint() string
	// Changed reports whether any object read has changed since.
	Changed(ctx context.Context) (bool, error)
}

// ClientCacheOptions configure a [ClientCache].
type ClientCacheOptions struct {
	// Registry builds clients.
	Registry *providers.Registry
	// Kube returns a fresh TrackingKube scoped to store.
	Kube func(store providers.Store) TrackingKube
	// Reads deduplicates reads among clients of the same identity; nil
	// turns deduplication off.
	Reads *Reads
	// Recheck is how often a cached client's credentials are checked for
	// changes.
	Recheck time.Duration
	// IdleTimeout closes clients unused this long.
	IdleTimeout time.Duration
	// Instrument, if set, wraps each client as built, below the dedupe
	// layer, so it sees the calls that reach the backend (metrics).
	Instrument func(providers.Name, providers.Client) providers.Client
}

// ClientCache keeps one authenticated client per store (per referent
// namespace for a ClusterSecretStore) and reuses it until the store's spec
// or credentials change, instead of logging in on every reconcile as ESO
// does.
type ClientCache struct {
	opts ClientCacheOptions
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]*clientEntry
}

type clientEntry struct {
	mu        sync.Mutex // held while building or checking
	specHash  string
	client    providers.Client
	identity  string
	kube      TrackingKube
	checkedAt time.Time
	usedAt    time.Time
}

// NewClientCache returns an empty cache.
func NewClientCache(opts ClientCacheOptions) *ClientCache {
	return &ClientCache{opts: opts, now: time.Now, entries: map[string]*clientEntry{}}
}

// Client returns the client for store. specHash identifies the store's
// spec version; a different one rebuilds the client. The returned identity
// names the backend and credentials (see [NextRefresh] and [Reads]).
func (c *ClientCache) Client(ctx context.Context, store providers.Store, specHash string) (providers.Client, string, error) {
	key := store.Kind + "/" + store.Namespace + "/" + store.Name
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &clientEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	if e.client != nil && e.specHash == specHash {
		if now.Sub(e.checkedAt) < c.opts.Recheck {
			e.usedAt = now
			return e.client, e.identity, nil
		}
		changed, err := e.kube.Changed(ctx)
		if err == nil && !changed {
			e.checkedAt, e.usedAt = now, now
			return e.client, e.identity, nil
		}
	}
	if e.client != nil {
		c.closeEntry(ctx, e)
	}
	name, p, err := c.opts.Registry.For(store.Spec)
	if err != nil {
		return nil, "", err
	}
	kube := c.opts.Kube(store)
	cl, err := p.NewClient(ctx, store, kube)
	if err != nil {
		return nil, "", err
	}
	id := identity(name, store, kube.Fingerprint())
	if ider, ok := cl.(providers.Identifier); ok {
		if own := ider.Identity(); own != "" {
			id = string(name) + ":" + own
		}
	}
	if c.opts.Instrument != nil {
		cl = c.opts.Instrument(name, cl)
	}
	if c.opts.Reads != nil {
		cl = c.opts.Reads.Wrap(id, cl)
	}
	e.specHash, e.client, e.identity, e.kube, e.checkedAt, e.usedAt = specHash, cl, id, kube, now, now
	return cl, id, nil
}

// identity hashes what decides what a client may read: the provider, its
// spec (store-namespace-relative references included) and the credentials
// it was built from.
func identity(name providers.Name, store providers.Store, credentials string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", name, syncer.SourceHash(store.Spec.Provider), credentials)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func (c *ClientCache) closeEntry(ctx context.Context, e *clientEntry) {
	if c.opts.Reads != nil {
		c.opts.Reads.Forget(e.identity)
	}
	_ = e.client.Close(ctx)
	e.client = nil
}

// Invalidate drops the client of a store, e.g. after an authentication
// failure.
func (c *ClientCache) Invalidate(ctx context.Context, store providers.Store) {
	key := store.Kind + "/" + store.Namespace + "/" + store.Name
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != nil {
		c.closeEntry(ctx, e)
	}
}

// Sweep closes clients idle for longer than IdleTimeout.
func (c *ClientCache) Sweep(ctx context.Context) { c.sweep(ctx, c.opts.IdleTimeout) }

// Close closes every client.
func (c *ClientCache) Close(ctx context.Context) { c.sweep(ctx, -1) }

func (c *ClientCache) sweep(ctx context.Context, idleTimeout time.Duration) {
	c.mu.Lock()
	entries := make(map[string]*clientEntry, len(c.entries))
	for k, e := range c.entries {
		entries[k] = e
	}
	c.mu.Unlock()
	now := c.now()
	for k, e := range entries {
		e.mu.Lock()
		idle := e.client == nil || now.Sub(e.usedAt) > idleTimeout
		if idle && e.client != nil {
			c.closeEntry(ctx, e)
		}
		e.mu.Unlock()
		if idle {
			c.mu.Lock()
			if c.entries[k] == e {
				delete(c.entries, k)
			}
			c.mu.Unlock()
		}
	}
}
