package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// maxFindKeys bounds how many secrets one find may list, so that a find
// over a huge mount fails clearly instead of reading for minutes.
const maxFindKeys = 10000

// client reads one store's KV engine.
type client struct {
	// identity names what the client may read; see Identity.
	identity string
	kv       kvLayout
	// api reaches Vault in the namespace secrets are read in; it carries
	// no token (see session.do).
	api     *vaultapi.Client
	session *session
}

var (
	_ providers.Client            = (*client)(nil)
	_ providers.Validator         = (*client)(nil)
	_ providers.Identifier        = (*client)(nil)
	_ providers.PropertyExtractor = (*client)(nil)
)

// Identity names what the client may read: the server, the namespace and
// KV layout it reads, and its token's rights — its policies and, because
// templated ACL policies depend on it, its identity entity. Clients of
// different stores that log in with the same role get the same identity,
// so their identical reads can be shared. "" when the token could not be
// looked up.
func (c *client) Identity() string { return c.identity }

// lookupIdentity computes Identity from a lookup-self of the token.
func (c *client) lookupIdentity(ctx context.Context) string {
	var data map[string]any
	err := c.session.do(ctx, c.session.api, func(api *vaultapi.Client) error {
		s, err := api.Auth().Token().LookupSelfWithContext(ctx)
		if err == nil && s != nil {
			data = s.Data
		}
		return err
	})
	if err != nil || data == nil {
		return ""
	}
	var policies []string
	for _, k := range []string{"policies", "identity_policies"} {
		if l, ok := data[k].([]any); ok {
			for _, p := range l {
				policies = append(policies, fmt.Sprint(p))
			}
		}
	}
	slices.Sort(policies)
	policies = slices.Compact(policies)
	entity, _ := data["entity_id"].(string)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%v\x00%s\x00%s",
		c.api.Address(), c.api.Namespace(), c.kv.mount, c.kv.v2, strings.Join(policies, ","), entity))
	return hex.EncodeToString(sum[:16])
}

// GetSecret returns the secret at ref.Key as JSON, or its property
// ref.Property. With metadataPolicy Fetch it reads the KV v2
// custom_metadata instead of the data.
func (c *client) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	whole, err := c.wholeSecret(ctx, ref)
	if err != nil || ref.Property == "" {
		return whole, err
	}
	return c.ExtractProperty(ref, whole)
}

// wholeSecret returns the secret at ref.Key as JSON whatever ref.Property
// says: its data, or with metadataPolicy Fetch its custom metadata, where
// no metadata is no value (as ESO answers).
func (c *client) wholeSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	fields, err := c.fields(ctx, ref)
	if err != nil {
		return nil, err
	}
	if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch && len(fields) == 0 {
		return nil, nil
	}
	doc, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%s: encode secret as JSON: %w", ref.Key, err)
	}
	return doc, nil
}

// ExtractProperty returns ref.Property of whole, the secret GetSecret
// read for ref without its property: one KV read serves every property
// of a secret (see [providers.PropertyExtractor]).
func (c *client) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	if whole == nil {
		// No custom metadata: the properties of an empty object, none.
		whole = []byte("{}")
	}
	v, err := providers.Property(whole, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Key, err)
	}
	return v, nil
}

// GetSecretMap returns the fields of the secret at ref.Key, or of the
// object at its property ref.Property: strings as they are, other values
// as JSON (dataFrom.extract).
func (c *client) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	fields, err := c.fields(ctx, ref)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%s: encode secret as JSON: %w", ref.Key, err)
	}
	if ref.Property != "" {
		if doc, err = providers.Property(doc, ref.Property); err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Key, err)
		}
	}
	out, err := providers.SecretMapFromJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: property %q: %w", ref.Key, ref.Property, err)
	}
	return out, nil
}

// fields reads the data, or with metadataPolicy Fetch the custom
// metadata, of the secret at ref.Key.
func (c *client) fields(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string]any, error) {
	if ref.MetadataPolicy == esv1.ExternalSecretMetadataPolicyFetch {
		return c.readMetadata(ctx, ref.Key)
	}
	return c.readData(ctx, ref.Key, ref.Version)
}

// GetAllSecrets lists the secrets under find.Path (the mount's root when
// unset), recursively, and returns those whose key matches find.Name and
// whose KV v2 custom_metadata holds all of find.Tags, each as its JSON
// data. Result keys are what remoteRef.key would name: relative to the
// store's path and including find.Path, with their slashes (as ESO's
// provider returns them; the core's conversion strategy replaces the
// slashes after any rewrite).
func (c *client) GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	if len(find.Tags) > 0 && !c.kv.v2 {
		return nil, errors.New("find by tags needs KV v2: KV v1 keeps no custom_metadata")
	}
	var name *regexp.Regexp
	if find.Name != nil && find.Name.RegExp != "" {
		var err error
		if name, err = regexp.Compile(find.Name.RegExp); err != nil {
			return nil, fmt.Errorf("find.name.regexp: %w", err)
		}
	}
	dir := ""
	if find.Path != nil {
		dir = *find.Path
	}
	listPath, prefix, err := c.kv.listRoot(dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	if err := c.list(ctx, listPath, prefix, &keys, true); err != nil {
		return nil, err
	}
	sort.Strings(keys)
	out := map[string][]byte{}
	for _, key := range keys {
		// ESO ignores tags when a name is given; both narrowing the result
		// is what a reader of the manifest expects.
		if name != nil && !name.MatchString(key) {
			continue
		}
		if len(find.Tags) > 0 {
			md, err := c.readMetadata(ctx, key)
			if errors.Is(err, providers.ErrSecretNotFound) {
				continue // deleted since the list
			}
			if err != nil {
				return nil, err
			}
			if !hasTags(md, find.Tags) {
				continue
			}
		}
		fields, err := c.readData(ctx, key, "")
		if errors.Is(err, providers.ErrSecretNotFound) {
			continue // a deleted or destroyed current version
		}
		if err != nil {
			return nil, err
		}
		if out[key], err = json.Marshal(fields); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return out, nil
}

// list appends the keys under listPath to keys, descending into folders.
// A missing root wraps ErrSecretNotFound, as in ESO; a folder gone since
// its parent was listed is skipped.
func (c *client) list(ctx context.Context, listPath, prefix string, keys *[]string, root bool) error {
	var s *vaultapi.Secret
	err := c.session.do(ctx, c.api, func(api *vaultapi.Client) error {
		var err error
		s, err = api.Logical().ListWithContext(ctx, listPath)
		return err
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", listPath, describe(err))
	}
	if s == nil {
		if root {
			return providers.NotFound("%s", listPath)
		}
		return nil
	}
	entries, _ := s.Data["keys"].([]any)
	for _, e := range entries {
		entry, ok := e.(string)
		if !ok || entry == "" {
			continue
		}
		if strings.HasSuffix(entry, "/") {
			if err := c.list(ctx, listPath+entry, prefix+entry, keys, false); err != nil {
				return err
			}
			continue
		}
		if len(*keys) == maxFindKeys {
			return fmt.Errorf("find under %s matches more than %d secrets: narrow find.path", listPath, maxFindKeys)
		}
		*keys = append(*keys, prefix+entry)
	}
	return nil
}

// hasTags reports whether metadata holds every tag.
func hasTags(metadata map[string]any, tags map[string]string) bool {
	for k, want := range tags {
		if got, ok := metadata[k].(string); !ok || got != want {
			return false
		}
	}
	return true
}

// read GETs path with params through the session.
func (c *client) read(ctx context.Context, path string, params map[string][]string) (*vaultapi.Secret, error) {
	var s *vaultapi.Secret
	err := c.session.do(ctx, c.api, func(api *vaultapi.Client) error {
		var err error
		s, err = api.Logical().ReadWithDataWithContext(ctx, path, params)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, describe(err))
	}
	return s, nil
}

// readData returns the fields of the secret at key, of version when set
// (KV v2; KV v1 ignores it, as in ESO).
func (c *client) readData(ctx context.Context, key, version string) (map[string]any, error) {
	path, err := c.kv.dataPath(key)
	if err != nil {
		return nil, err
	}
	var params map[string][]string
	if version != "" && c.kv.v2 {
		v, err := parseVersion(version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		params = map[string][]string{"version": {v}}
	}
	s, err := c.read(ctx, path, params)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, providers.NotFound("%s", path)
	}
	if !c.kv.v2 {
		return s.Data, nil
	}
	d, ok := s.Data["data"]
	if !ok {
		return nil, fmt.Errorf("read %s: answer has no data field: is the mount KV v1?", path)
	}
	if d == nil {
		// KV v2 answers a deleted or destroyed version with its metadata
		// and null data.
		return nil, providers.NotFound("%s (version deleted or destroyed)", path)
	}
	fields, ok := d.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("read %s: data is not an object", path)
	}
	return fields, nil
}

// readMetadata returns the KV v2 custom_metadata of the secret at key.
func (c *client) readMetadata(ctx context.Context, key string) (map[string]any, error) {
	path, err := c.kv.metadataPath(key)
	if err != nil {
		return nil, err
	}
	s, err := c.read(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, providers.NotFound("%s", path)
	}
	md, _ := s.Data["custom_metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	return md, nil
}

// Validate checks that the client's token is alive (a lookup-self, after
// renewing or logging in again if needed) and, when the store sets a path,
// that the mount is a KV engine of the configured version.
func (c *client) Validate(ctx context.Context) error {
	err := c.session.do(ctx, c.session.api, func(api *vaultapi.Client) error {
		_, err := api.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("vault token: %w", describe(err))
	}
	if c.kv.mount == "" {
		return nil
	}
	s, err := c.read(ctx, "sys/internal/ui/mounts/"+c.kv.mount, nil)
	if err != nil {
		// A token may read secrets without the right to describe their
		// mount; ESO passes here too.
		return nil
	}
	if s == nil {
		return fmt.Errorf("vault mount %q not found", c.kv.mount)
	}
	if typ, _ := s.Data["type"].(string); typ != "kv" {
		return fmt.Errorf("vault mount %q is a %q engine, not kv", c.kv.mount, typ)
	}
	opts, _ := s.Data["options"].(map[string]any)
	isV2 := opts != nil && fmt.Sprint(opts["version"]) == "2"
	if isV2 != c.kv.v2 {
		want, got := "v1", "v1"
		if c.kv.v2 {
			want = "v2"
		}
		if isV2 {
			got = "v2"
		}
		return fmt.Errorf("vault mount %q is KV %s but the store says %s", c.kv.mount, got, want)
	}
	return nil
}

// Close revokes the token the client logged in for; a given token is
// left alone. The client is unusable afterwards.
func (c *client) Close(ctx context.Context) error {
	return c.session.close(ctx)
}

// WithKVVersion returns a client of the same store and login that reads
// the KV layout of version 1 or 2 instead of the store's, for
// argocd-vault-plugin's kv-version annotation. It shares the receiver's
// session: close the receiver, not the copy.
func (c *client) WithKVVersion(version int) (providers.Client, error) {
	var v esv1.VaultKVStoreVersion
	switch version {
	case 1:
		v = esv1.VaultKVStoreV1
	case 2:
		v = esv1.VaultKVStoreV2
	default:
		return nil, fmt.Errorf("KV version %d: Vault has versions 1 and 2", version)
	}
	cc := *c
	cc.kv = newKVLayout(c.kv.mount, v)
	// The identity names the layout; this copy's is not computed.
	cc.identity = ""
	return &cc, nil
}
