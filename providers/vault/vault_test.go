package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
)

var (
	// vault is the package's dev server, with a file audit device
	// writing to auditPath; nil under -short.
	vault     *testkit.Vault
	auditPath string
	// env is the package's envtest API server, for the Kubernetes auth
	// method; nil under -short.
	env *testkit.Env
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		ctx := context.Background()
		v, err := testkit.StartVault(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vault: %v\n", err)
			os.Exit(1)
		}
		vault = v
		auditPath = filepath.Join(v.Dir, "audit.log")
		if err := v.EnableFileAudit(ctx, auditPath); err != nil {
			fmt.Fprintf(os.Stderr, "vault: %v\n", err)
			_ = v.Stop()
			os.Exit(1)
		}
	}
	code := testkit.Main(m, &env)
	if vault != nil {
		if err := vault.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop vault: %v\n", err)
		}
	}
	os.Exit(code)
}

// Tests in this package do not run in parallel: they count requests in the
// one audit log.

func suffix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// auditLog returns the requests the shared server has seen so far.
func auditLog(tb testing.TB) testkit.AuditLog {
	tb.Helper()
	l, err := testkit.ReadAuditLog(auditPath)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// auditSince returns the requests logged after before was read.
func auditSince(tb testing.TB, before testkit.AuditLog) testkit.AuditLog {
	tb.Helper()
	return auditLog(tb)[len(before):]
}

// mapKube is a providers.Kube holding Secrets and ConfigMaps in memory, as
// "namespace/name" → key → value; a selector without a namespace reads the
// store's namespace "apps".
type mapKube struct {
	mu         sync.Mutex
	secrets    map[string]map[string][]byte
	configMaps map[string]map[string]string
	// saToken answers ServiceAccountToken; nil refuses.
	saToken func(ref esmeta.ServiceAccountSelector, audiences []string, seconds int64) (string, error)
	// controllerToken answers ControllerToken; nil refuses as the core
	// refuses a SecretStore.
	controllerToken func(audiences []string) (string, error)
	// reads counts SecretKey calls.
	reads int
}

var _ providers.Kube = (*mapKube)(nil)

func newMapKube() *mapKube {
	return &mapKube{secrets: map[string]map[string][]byte{}, configMaps: map[string]map[string]string{}}
}

func (k *mapKube) setSecret(name, key, value string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := "apps/" + name
	if k.secrets[id] == nil {
		k.secrets[id] = map[string][]byte{}
	}
	k.secrets[id][key] = []byte(value)
}

func (k *mapKube) SecretKey(_ context.Context, ref esmeta.SecretKeySelector) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads++
	ns := "apps"
	if ref.Namespace != nil {
		ns = *ref.Namespace
	}
	v, ok := k.secrets[ns+"/"+ref.Name][ref.Key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", ns, ref.Name, ref.Key)
	}
	return v, nil
}

func (k *mapKube) ConfigMapKey(_ context.Context, namespace, name, key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if namespace == "" {
		namespace = "apps"
	}
	v, ok := k.configMaps[namespace+"/"+name][key]
	if !ok {
		return nil, fmt.Errorf("configmap %s/%s has no key %q", namespace, name, key)
	}
	return []byte(v), nil
}

func (k *mapKube) ServiceAccountToken(_ context.Context, ref esmeta.ServiceAccountSelector, audiences []string, seconds int64) (string, error) {
	if k.saToken == nil {
		return "", errors.New("no service account tokens here")
	}
	return k.saToken(ref, audiences, seconds)
}

func (k *mapKube) ControllerToken(_ context.Context, audiences []string) (string, error) {
	if k.controllerToken == nil {
		return "", fmt.Errorf("%w: a SecretStore must name its own credentials", providers.ErrControllerIdentity)
	}
	return k.controllerToken(audiences)
}

// storeFor returns a SecretStore in namespace "apps" reading v's server,
// changed by edit.
func storeFor(v *testkit.Vault, edit func(p *esv1.VaultProvider)) providers.Store {
	p := &esv1.VaultProvider{Server: v.Addr, Path: ptr("secret")}
	if edit != nil {
		edit(p)
	}
	return providers.Store{
		Kind: esv1.SecretStoreKind, Name: "vault", Namespace: "apps",
		Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Vault: p}},
	}
}

// rootStore is a store on mount with v's root token, from Secret
// "vault-token" of kube.
func rootStore(v *testkit.Vault, kube *mapKube, mount string, version esv1.VaultKVStoreVersion) providers.Store {
	kube.setSecret("vault-token", "token", v.RootToken)
	return storeFor(v, func(p *esv1.VaultProvider) {
		p.Version = version
		if mount == "" {
			p.Path = nil
		} else {
			p.Path = ptr(mount)
		}
		p.Auth = &esv1.VaultAuth{TokenSecretRef: ptr(sel("vault-token", "token"))}
	})
}

// newClient builds a client for store and closes it when the test ends.
func newClient(tb testing.TB, store providers.Store, kube providers.Kube) *client {
	tb.Helper()
	pc, err := New().NewClient(tb.Context(), store, kube)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	tb.Cleanup(func() { _ = pc.Close(context.Background()) })
	return pc.(*client)
}

// mountKV mounts a fresh KV engine of version (1 or 2) and returns its path.
func mountKV(tb testing.TB, v *testkit.Vault, version int) string {
	tb.Helper()
	mount := fmt.Sprintf("kv%d-%s", version, suffix(tb))
	if err := v.MountKV(tb.Context(), mount, version); err != nil {
		tb.Fatal(err)
	}
	return mount
}

func putV2(tb testing.TB, v *testkit.Vault, mount, path string, data map[string]any) {
	tb.Helper()
	if _, err := v.Client.KVv2(mount).Put(tb.Context(), path, data); err != nil {
		tb.Fatalf("put %s/%s: %v", mount, path, err)
	}
}

// tagV2 sets the KV v2 custom metadata of the secret at path.
func tagV2(tb testing.TB, v *testkit.Vault, mount, path string, md map[string]any) {
	tb.Helper()
	if err := v.Client.KVv2(mount).PatchMetadata(tb.Context(), path, vaultapi.KVMetadataPatchInput{CustomMetadata: md}); err != nil {
		tb.Fatalf("tag %s/%s: %v", mount, path, err)
	}
}

// writePolicy writes a policy granting read and list on the paths.
func writePolicy(tb testing.TB, v *testkit.Vault, paths ...string) string {
	tb.Helper()
	name := "read-" + suffix(tb)
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "path %q { capabilities = [\"read\", \"list\"] }\n", p)
	}
	if err := v.Client.Sys().PutPolicyWithContext(tb.Context(), name, b.String()); err != nil {
		tb.Fatal(err)
	}
	return name
}

func wantNotFound(tb testing.TB, err error, what string) {
	tb.Helper()
	if !errors.Is(err, providers.ErrSecretNotFound) {
		tb.Errorf("%s: error %v, want one wrapping ErrSecretNotFound", what, err)
	}
}

func TestKVv2(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 2)
	putV2(t, v, mount, "app", map[string]any{"user": "admin", "password": "old"})
	putV2(t, v, mount, "app", map[string]any{
		"user": "admin", "password": "s3cr3t", "port": 5432,
		"foo": map[string]any{"nested": map[string]any{"bar": "mysecret", "baz": "bang"}},
	})
	putV2(t, v, mount, "dev/config", map[string]any{"k": "v"})
	putV2(t, v, mount, "gone", map[string]any{"k": "v"})
	if err := v.Client.KVv2(mount).Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	putV2(t, v, mount, "shredded", map[string]any{"k": "v"})
	if err := v.Client.KVv2(mount).Destroy(ctx, "shredded", []int{1}); err != nil {
		t.Fatal(err)
	}

	kube := newMapKube()
	c := newClient(t, rootStore(v, kube, mount, ""), kube)
	get := func(ref esv1.ExternalSecretDataRemoteRef) (string, error) {
		b, err := c.GetSecret(ctx, ref)
		return string(b), err
	}
	tests := []struct {
		name string
		ref  esv1.ExternalSecretDataRemoteRef
		want string
	}{
		{"whole secret as JSON", esv1.ExternalSecretDataRemoteRef{Key: "app"},
			`{"foo":{"nested":{"bar":"mysecret","baz":"bang"}},"password":"s3cr3t","port":5432,"user":"admin"}`},
		{"property", esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "password"}, "s3cr3t"},
		{"number property", esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "port"}, "5432"},
		{"nested property", esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "foo.nested.bar"}, "mysecret"},
		{"object property", esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "foo"}, `{"nested":{"bar":"mysecret","baz":"bang"}}`},
		{"old version", esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "password", Version: "1"}, "old"},
		{"current version by number", esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "password", Version: "2"}, "s3cr3t"},
		{"key with the mount", esv1.ExternalSecretDataRemoteRef{Key: mount + "/app", Property: "user"}, "admin"},
		{"key with mount and data", esv1.ExternalSecretDataRemoteRef{Key: mount + "/data/app", Property: "user"}, "admin"},
		{"nested key with leading slash", esv1.ExternalSecretDataRemoteRef{Key: "/dev/config", Property: "k"}, "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := get(tt.ref)
			if err != nil || got != tt.want {
				t.Fatalf("GetSecret(%+v) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		for name, ref := range map[string]esv1.ExternalSecretDataRemoteRef{
			"missing key":       {Key: "nope"},
			"missing version":   {Key: "app", Version: "9"},
			"deleted version":   {Key: "gone"},
			"destroyed version": {Key: "shredded"},
			"missing property":  {Key: "app", Property: "nope"},
			"missing nested":    {Key: "app", Property: "foo.nested.nope"},
		} {
			_, err := get(ref)
			wantNotFound(t, err, name)
		}
	})
	t.Run("bad version", func(t *testing.T) {
		if _, err := get(esv1.ExternalSecretDataRemoteRef{Key: "app", Version: "latest"}); err == nil || errors.Is(err, providers.ErrSecretNotFound) {
			t.Fatalf("error %v, want a version error", err)
		}
	})

	t.Run("store without path", func(t *testing.T) {
		kube := newMapKube()
		c := newClient(t, rootStore(v, kube, "", ""), kube)
		b, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: mount + "/app", Property: "password"})
		if err != nil || string(b) != "s3cr3t" {
			t.Fatalf("GetSecret = %q, %v; want s3cr3t", b, err)
		}
		b, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: mount + "/dev/config", Property: "k"})
		if err != nil || string(b) != "v" {
			t.Fatalf("GetSecret nested = %q, %v; want v", b, err)
		}
	})
}

func TestKVv1(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 1)
	if err := v.Client.KVv1(mount).Put(ctx, "team/app", map[string]any{"password": "p1", "cfg": map[string]any{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{mount, ""} {
		kube := newMapKube()
		c := newClient(t, rootStore(v, kube, path, esv1.VaultKVStoreV1), kube)
		key := "team/app"
		if path == "" {
			key = mount + "/team/app"
		}
		b, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: key})
		if err != nil || string(b) != `{"cfg":{"a":"b"},"password":"p1"}` {
			t.Errorf("store path %q: GetSecret(%s) = %s, %v", path, key, b, err)
		}
		b, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: key, Property: "cfg.a"})
		if err != nil || string(b) != "b" {
			t.Errorf("store path %q: GetSecret(%s, cfg.a) = %s, %v", path, key, b, err)
		}
		_, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: key + "-nope"})
		wantNotFound(t, err, "missing KV v1 key")
		_, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: key, MetadataPolicy: esv1.ExternalSecretMetadataPolicyFetch})
		if err == nil || !strings.Contains(err.Error(), "KV v1 keeps no metadata") {
			t.Errorf("metadataPolicy Fetch on KV v1: error %v", err)
		}
	}
}

func TestMetadataFetch(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 2)
	putV2(t, v, mount, "foo", map[string]any{"my-value": "s3cr3t"})
	tagV2(t, v, mount, "foo", map[string]any{"dev": "alice", "team": "payments"})
	putV2(t, v, mount, "bare", map[string]any{"k": "v"})
	kube := newMapKube()
	c := newClient(t, rootStore(v, kube, mount, ""), kube)
	fetch := esv1.ExternalSecretMetadataPolicyFetch

	// The three refs of ESO's Vault example.
	b, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "foo", Property: "my-value"})
	if err != nil || string(b) != "s3cr3t" {
		t.Errorf("value = %q, %v", b, err)
	}
	b, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "foo", MetadataPolicy: fetch})
	if err != nil || string(b) != `{"dev":"alice","team":"payments"}` {
		t.Errorf("tags = %q, %v", b, err)
	}
	b, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "foo", MetadataPolicy: fetch, Property: "dev"})
	if err != nil || string(b) != "alice" {
		t.Errorf("tag dev = %q, %v", b, err)
	}

	b, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "bare", MetadataPolicy: fetch})
	if err != nil || len(b) != 0 {
		t.Errorf("no metadata = %q, %v; want empty, as ESO", b, err)
	}
	m, err := c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "foo", MetadataPolicy: fetch})
	if err != nil || string(m["team"]) != "payments" || len(m) != 2 {
		t.Errorf("extract metadata = %q, %v", m, err)
	}
	_, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "nope", MetadataPolicy: fetch})
	wantNotFound(t, err, "metadata of a missing secret")
	_, err = c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "foo", MetadataPolicy: fetch, Property: "nope"})
	wantNotFound(t, err, "missing tag")
}

// TestExtractPropertyMatchesGetSecret checks the promise the read
// dedupe layer relies on: for every ref with a property, GetSecret
// answers what ExtractProperty makes of the whole secret, versions,
// metadata and missing secrets included.
func TestExtractPropertyMatchesGetSecret(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 2)
	putV2(t, v, mount, "app", map[string]any{"user": "admin", "password": "old"})
	putV2(t, v, mount, "app", map[string]any{"user": "admin", "password": "s3cr3t", "db": map[string]any{"port": 5432}})
	tagV2(t, v, mount, "app", map[string]any{"team": "payments"})
	putV2(t, v, mount, "bare", map[string]any{"k": "v"})
	kube := newMapKube()
	c := newClient(t, rootStore(v, kube, mount, ""), kube)
	fetch := esv1.ExternalSecretMetadataPolicyFetch
	for name, ref := range map[string]esv1.ExternalSecretDataRemoteRef{
		"property":                  {Key: "app", Property: "password"},
		"nested property":           {Key: "app", Property: "db.port"},
		"object property":           {Key: "app", Property: "db"},
		"property of old version":   {Key: "app", Property: "password", Version: "1"},
		"missing property":          {Key: "app", Property: "nope"},
		"missing secret":            {Key: "nope", Property: "user"},
		"tag":                       {Key: "app", Property: "team", MetadataPolicy: fetch},
		"tag of secret without any": {Key: "bare", Property: "team", MetadataPolicy: fetch},
		"decoding left to the core": {Key: "app", Property: "user", DecodingStrategy: esv1.ExternalSecretDecodeBase64},
	} {
		t.Run(name, func(t *testing.T) {
			want, wantErr := c.GetSecret(ctx, ref)
			whole := ref
			whole.Property = ""
			got, err := c.GetSecret(ctx, whole)
			if err == nil {
				got, err = c.ExtractProperty(ref, got)
			}
			if string(got) != string(want) || fmt.Sprint(err) != fmt.Sprint(wantErr) ||
				errors.Is(err, providers.ErrSecretNotFound) != errors.Is(wantErr, providers.ErrSecretNotFound) {
				t.Fatalf("extracted %q, %v; GetSecret answers %q, %v", got, err, want, wantErr)
			}
		})
	}
}

func TestGetSecretMap(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 2)
	putV2(t, v, mount, "dev/config", map[string]any{
		"foo":   map[string]any{"nested": map[string]any{"bar": "mysecret", "baz": "bang"}},
		"plain": "text", "n": 42, "on": true, "list": []any{"a", 1},
	})
	kube := newMapKube()
	c := newClient(t, rootStore(v, kube, mount, ""), kube)

	got, err := c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "/dev/config"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"foo": `{"nested":{"bar":"mysecret","baz":"bang"}}`, "plain": "text",
		"n": "42", "on": "true", "list": `["a",1]`,
	}
	if diff := diffMaps(got, want); diff != "" {
		t.Errorf("extract: %s", diff)
	}
	// ESO's "Multiple nested Values" example.
	got, err = c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "/dev/config", Property: "foo.nested"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffMaps(got, map[string]string{"bar": "mysecret", "baz": "bang"}); diff != "" {
		t.Errorf("extract foo.nested: %s", diff)
	}
	if _, err := c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "dev/config", Property: "plain"}); err == nil || strings.Contains(err.Error(), "text") {
		t.Errorf("extract of a string property: error %v, want one without the value", err)
	}
	_, err = c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "dev/nope"})
	wantNotFound(t, err, "extract of a missing secret")
}

func diffMaps(got map[string][]byte, want map[string]string) string {
	var d []string
	for k, w := range want {
		if g, ok := got[k]; !ok || string(g) != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("unexpected key %s", k))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

func TestFind(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 2)
	putV2(t, v, mount, "dev/config", map[string]any{"foo": map[string]any{"nested": map[string]any{"bar": "mysecret", "baz": "bang"}}})
	tagV2(t, v, mount, "dev/config", map[string]any{"environment": "dev", "component": "app-1"})
	putV2(t, v, mount, "dev/db", map[string]any{"password": "d"})
	tagV2(t, v, mount, "dev/db", map[string]any{"environment": "prod"})
	putV2(t, v, mount, "dev/deep/er/key", map[string]any{"k": "deep"})
	putV2(t, v, mount, "prod/app", map[string]any{"k": "p"})
	tagV2(t, v, mount, "prod/app", map[string]any{"environment": "dev"})
	putV2(t, v, mount, "top", map[string]any{"k": "t"})
	putV2(t, v, mount, "dev/deleted", map[string]any{"k": "x"})
	if err := v.Client.KVv2(mount).Delete(ctx, "dev/deleted"); err != nil {
		t.Fatal(err)
	}
	const config = `{"foo":{"nested":{"bar":"mysecret","baz":"bang"}}}`

	kube := newMapKube()
	c := newClient(t, rootStore(v, kube, mount, ""), kube)
	tests := []struct {
		name string
		find esv1.ExternalSecretFind
		want map[string]string
	}{
		{"name regexp over full paths", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "dev"}}, map[string]string{
			"dev/config": config, "dev/db": `{"password":"d"}`, "dev/deep/er/key": `{"k":"deep"}`,
		}},
		{"name anchored", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^(top|prod/.*)$"}}, map[string]string{
			"top": `{"k":"t"}`, "prod/app": `{"k":"p"}`,
		}},
		{"path keeps its prefix, as ESO", esv1.ExternalSecretFind{Path: ptr("dev"), Name: &esv1.FindName{RegExp: ".*"}}, map[string]string{
			"dev/config": config, "dev/db": `{"password":"d"}`, "dev/deep/er/key": `{"k":"deep"}`,
		}},
		{"tags", esv1.ExternalSecretFind{Tags: map[string]string{"environment": "dev"}}, map[string]string{
			"dev/config": config, "prod/app": `{"k":"p"}`,
		}},
		{"tags under a path", esv1.ExternalSecretFind{Path: ptr("dev"), Tags: map[string]string{"environment": "dev"}}, map[string]string{
			"dev/config": config,
		}},
		{"several tags", esv1.ExternalSecretFind{Tags: map[string]string{"environment": "dev", "component": "app-1"}}, map[string]string{
			"dev/config": config,
		}},
		{"name and tags together", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^prod/"}, Tags: map[string]string{"environment": "dev"}}, map[string]string{
			"prod/app": `{"k":"p"}`,
		}},
		{"no match", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "nothing-like-this"}}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetAllSecrets(ctx, tt.find)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffMaps(got, tt.want); diff != "" {
				t.Error(diff)
			}
		})
	}
	t.Run("missing path", func(t *testing.T) {
		_, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Path: ptr("nope")})
		wantNotFound(t, err, "find under a missing path")
	})
	t.Run("bad regexp", func(t *testing.T) {
		if _, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "("}}); err == nil {
			t.Fatal("find with a bad regexp succeeded")
		}
	})
	t.Run("store without path", func(t *testing.T) {
		kube := newMapKube()
		c := newClient(t, rootStore(v, kube, "", ""), kube)
		got, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Path: ptr(mount + "/prod")})
		if err != nil {
			t.Fatal(err)
		}
		if diff := diffMaps(got, map[string]string{mount + "/prod/app": `{"k":"p"}`}); diff != "" {
			t.Error(diff)
		}
		// Each key reads its secret back.
		b, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: mount + "/prod/app", Property: "k"})
		if err != nil || string(b) != "p" {
			t.Errorf("GetSecret of a found key = %q, %v", b, err)
		}
	})
}

func TestFindKVv1(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := mountKV(t, v, 1)
	for path, val := range map[string]string{"path/1": "a", "path/2": "b", "other": "c"} {
		if err := v.Client.KVv1(mount).Put(ctx, path, map[string]any{"k": val}); err != nil {
			t.Fatal(err)
		}
	}
	kube := newMapKube()
	c := newClient(t, rootStore(v, kube, mount, esv1.VaultKVStoreV1), kube)
	got, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Path: ptr("path")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffMaps(got, map[string]string{"path/1": `{"k":"a"}`, "path/2": `{"k":"b"}`}); diff != "" {
		t.Error(diff)
	}
	_, err = c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Tags: map[string]string{"a": "b"}})
	if err == nil || !strings.Contains(err.Error(), "find by tags needs KV v2") {
		t.Errorf("find by tags on KV v1: error %v", err)
	}
}

func TestValidate(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	v1 := mountKV(t, v, 1)
	kube := newMapKube()
	if err := newClient(t, rootStore(v, kube, "secret", ""), kube).Validate(ctx); err != nil {
		t.Errorf("Validate of a good store: %v", err)
	}
	err := newClient(t, rootStore(v, kube, v1, esv1.VaultKVStoreV2), kube).Validate(ctx)
	if err == nil || !strings.Contains(err.Error(), "is KV v1 but the store says v2") {
		t.Errorf("Validate of a version mismatch: %v", err)
	}
	kube.setSecret("bad-token", "token", "hvs.not-a-token")
	c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{TokenSecretRef: ptr(sel("bad-token", "token"))}
	}), kube)
	if err := c.Validate(ctx); err == nil || strings.Contains(err.Error(), "hvs.not-a-token") {
		t.Errorf("Validate of a bad token: error %v, want one not naming the token", err)
	}
}
