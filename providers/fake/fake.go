// Package fake is ESO's fake provider: a SecretStore whose
// spec.provider.fake.data holds the remote secrets inline. It exists for
// tests, demos and examples, and answers exactly as ESO's does, so
// manifests written against ESO's fake store sync unchanged.
//
// # Reads
//
//   - GetSecret finds the entry with the ref's key and version (an entry
//     with a version is found only by that version) and, with a property,
//     reads it from the JSON value ([providers.Property]).
//   - GetSecretMap splits the entry's JSON object value into keys; an entry
//     with the deprecated valueMap answers with that map.
//   - GetAllSecrets matches entry keys against find.name.regexp and
//     find.path (a prefix) and returns the newest version of each match.
//     Fake entries carry no tags, so a find by tags alone is refused as ESO
//     refuses it.
package fake

import (
	"context"
	"errors"
	"fmt"
	"maps"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// New returns the fake provider, to register as [providers.Fake].
func New() providers.Provider { return provider{} }

type provider struct{}

// NewClient reads the store's fake data. It needs no Kubernetes access.
func (provider) NewClient(_ context.Context, store providers.Store, _ providers.Kube) (providers.Client, error) {
	if store.Spec == nil || store.Spec.Provider == nil || store.Spec.Provider.Fake == nil {
		return nil, errors.New("fake: store has no fake provider")
	}
	if err := ValidateStore(store.Spec.Provider.Fake); err != nil {
		return nil, err
	}
	c := &Client{entries: map[entryKey]entry{}}
	for _, d := range store.Spec.Provider.Fake.Data {
		// A later entry with the same key and version wins, as in ESO.
		//lint:ignore SA1019 stores written for ESO v1beta1 still carry valueMap.
		c.entries[entryKey{d.Key, d.Version}] = entry{value: []byte(d.Value), valueMap: maps.Clone(d.ValueMap)}
	}
	return c, nil
}

// ValidateStore checks a fake provider spec as ESO's webhook does: every
// entry needs a key and a value (or the deprecated valueMap).
func ValidateStore(p *esv1.FakeProvider) error {
	for i, d := range p.Data {
		if d.Key == "" {
			return fmt.Errorf("fake: data[%d]: key must be set", i)
		}
		//lint:ignore SA1019 valueMap still counts as a value for old stores.
		if d.Value == "" && len(d.ValueMap) == 0 {
			return fmt.Errorf("fake: data[%d] (key %q): value must be set", i, d.Key)
		}
	}
	return nil
}

type entryKey struct{ key, version string }

type entry struct {
	value    []byte
	valueMap map[string]string
}

// Client answers from a fake store's data. It is immutable once built, so
// it is safe for concurrent use.
type Client struct {
	entries map[entryKey]entry
}

var (
	_ providers.Client    = (*Client)(nil)
	_ providers.Validator = (*Client)(nil)
)

func (c *Client) lookup(ref esv1.ExternalSecretDataRemoteRef) (entry, error) {
	e, ok := c.entries[entryKey{ref.Key, ref.Version}]
	if !ok {
		if ref.Version != "" {
			return entry{}, providers.NotFound("key %q version %q", ref.Key, ref.Version)
		}
		return entry{}, providers.NotFound("key %q", ref.Key)
	}
	return e, nil
}

// GetSecret returns the value of the entry ref names, or one property of
// it.
func (c *Client) GetSecret(_ context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	e, err := c.lookup(ref)
	if err != nil {
		return nil, err
	}
	if ref.Property == "" {
		return clone(e.value), nil
	}
	v, err := providers.Property(e.value, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("fake: key %q: %w", ref.Key, err)
	}
	return v, nil
}

// GetSecretMap returns the entry's JSON object (or the object at
// ref.Property) as one key per property, or its valueMap.
func (c *Client) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	e, err := c.lookup(ref)
	if err != nil {
		return nil, err
	}
	if e.valueMap != nil && ref.Property == "" {
		out := make(map[string][]byte, len(e.valueMap))
		for k, v := range e.valueMap {
			out[k] = []byte(v)
		}
		return out, nil
	}
	v, err := c.GetSecret(ctx, ref)
	if err != nil {
		return nil, err
	}
	m, err := providers.SecretMapFromJSON(v)
	if err != nil {
		return nil, fmt.Errorf("fake: key %q: %w", ref.Key, err)
	}
	return m, nil
}

// GetAllSecrets returns, keyed by entry key, the newest version of every
// entry whose key matches find.name.regexp and lies under find.path.
// Versions compare as strings, as in ESO.
func (c *Client) GetAllSecrets(_ context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	m, err := providers.NewMatcher(find)
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	if !m.HasName() && !m.HasPath() {
		// ESO's fake answers find by name only; fake entries have no tags
		// to match.
		return nil, errors.New("fake: find needs name.regexp or path; fake secrets carry no tags")
	}
	newest := map[string]string{}
	out := map[string][]byte{}
	for k, e := range c.entries {
		if !m.MatchPath(k.key) || !m.MatchName(k.key) {
			continue
		}
		if v, seen := newest[k.key]; seen && v >= k.version {
			continue
		}
		newest[k.key] = k.version
		out[k.key] = clone(e.value)
	}
	return out, nil
}

// Validate always succeeds: the data is in the store's spec.
func (c *Client) Validate(context.Context) error { return nil }

// Close does nothing; the client holds no resources.
func (c *Client) Close(context.Context) error { return nil }

// clone keeps callers from mutating the store's data through a result.
func clone(b []byte) []byte { return append([]byte(nil), b...) }
