package vault

import (
	"errors"
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

func TestDataPath(t *testing.T) {
	// The cases of ESO's buildPath, plus keys it gets wrong.
	tests := []struct {
		name    string
		mount   string
		version esv1.VaultKVStoreVersion
		key     string
		want    string
	}{
		{"v2 simple", "secret", "v2", "foo", "secret/data/foo"},
		{"v2 nested mount", "secret/path", "v2", "foo", "secret/path/data/foo"},
		{"v2 key repeats mount", "secret/path", "v2", "secret/path/foo", "secret/path/data/foo"},
		{"v2 key repeats mount and data", "secret/path", "v2", "secret/path/data/foo", "secret/path/data/foo"},
		{"v2 leading slash as in ESO's docs", "secret", "v2", "/dev/config", "secret/data/dev/config"},
		{"v1 simple", "secret/path", "v1", "foo", "secret/path/foo"},
		{"v1 key repeats mount", "secret/path", "v1", "secret/path/foo", "secret/path/foo"},
		{"v1 data is a folder", "kv", "v1", "kv/data/foo", "kv/data/foo"},
		{"v2 no mount", "", "v2", "secret/path/foo", "secret/data/path/foo"},
		{"v2 no mount with data", "", "v2", "secret/path/data/foo", "secret/path/data/foo"},
		{"v1 no mount", "", "v1", "secret/path/foo", "secret/path/foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newKVLayout(tt.mount, tt.version).dataPath(tt.key)
			if err != nil || got != tt.want {
				t.Fatalf("dataPath(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
			}
		})
	}
	for _, key := range []string{"", "/", "foo"} {
		if p, err := newKVLayout("", "v2").dataPath(key); err == nil {
			t.Errorf("dataPath(%q) without a mount = %q, want an error", key, p)
		}
	}
}

func TestMetadataPath(t *testing.T) {
	tests := []struct{ mount, key, want string }{
		{"secret", "foo", "secret/metadata/foo"},
		{"secret", "secret/data/foo", "secret/metadata/foo"},
		{"", "secret/foo/bar", "secret/metadata/foo/bar"},
		{"", "team/kv/data/foo", "team/kv/metadata/foo"},
	}
	for _, tt := range tests {
		got, err := newKVLayout(tt.mount, "v2").metadataPath(tt.key)
		if err != nil || got != tt.want {
			t.Errorf("metadataPath(%q) with mount %q = %q, %v; want %q", tt.key, tt.mount, got, err, tt.want)
		}
	}
	if _, err := newKVLayout("secret", "v1").metadataPath("foo"); err == nil {
		t.Error("KV v1 metadataPath succeeded, want an error")
	}
}

func TestListRoot(t *testing.T) {
	tests := []struct {
		mount, version, dir  string
		wantList, wantPrefix string
	}{
		{"secret", "v2", "", "secret/metadata/", ""},
		{"secret", "v2", "dev", "secret/metadata/dev/", "dev/"},
		{"secret", "v2", "/dev/app/", "secret/metadata/dev/app/", "dev/app/"},
		{"secret", "v1", "dev", "secret/dev/", "dev/"},
		{"", "v2", "secret", "secret/metadata/", "secret/"},
		{"", "v2", "secret/dev", "secret/metadata/dev/", "secret/dev/"},
		{"", "v1", "kv/dev", "kv/dev/", "kv/dev/"},
	}
	for _, tt := range tests {
		l := newKVLayout(tt.mount, esv1.VaultKVStoreVersion(tt.version))
		list, prefix, err := l.listRoot(tt.dir)
		if err != nil || list != tt.wantList || prefix != tt.wantPrefix {
			t.Errorf("listRoot(%q) with mount %q %s = %q, %q, %v; want %q, %q", tt.dir, tt.mount, tt.version, list, prefix, err, tt.wantList, tt.wantPrefix)
		}
	}
	if _, _, err := newKVLayout("", "v2").listRoot(""); err == nil {
		t.Error("listRoot without mount or dir succeeded, want an error")
	}
}

// TestPropertiesOfVaultData checks the shared property helper on data as
// Vault returns it (numbers kept as written).
func TestPropertiesOfVaultData(t *testing.T) {
	doc := []byte(`{"user":"admin","port":5432,"ratio":1.50,"big":12345678901234567890,"on":true,"none":null,
		"a.b":"dotted","a":{"b":"nested","list":[1,"x"]},"foo":{"nested":{"bar":"mysecret","baz":"bang"}}}`)
	tests := []struct{ property, want string }{
		{"user", "admin"},
		{"port", "5432"},
		{"ratio", "1.5"}, // floats formatted as ESO does
		{"big", "12345678901234567890"},
		{"on", "true"},
		{"none", ""},
		{"a.b", "dotted"}, // a field with a dot wins over the path, as in ESO
		{"a.list", `[1,"x"]`},
		{"a.list.1", "x"},
		{"foo.nested.bar", "mysecret"},
		{"foo", `{"nested":{"bar":"mysecret","baz":"bang"}}`},
	}
	for _, tt := range tests {
		got, err := providers.Property(doc, tt.property)
		if err != nil || string(got) != tt.want {
			t.Errorf("Property(%q) = %q, %v; want %q", tt.property, got, err, tt.want)
		}
	}
	for _, missing := range []string{"nope", "foo.nested.nope", "a.list.5"} {
		if _, err := providers.Property(doc, missing); !errors.Is(err, providers.ErrSecretNotFound) {
			t.Errorf("Property(%q) error %v, want ErrSecretNotFound", missing, err)
		}
	}
}

func TestExtractProperty(t *testing.T) {
	whole := []byte(`{"password":"s3cr3t","port":5432,"foo":{"bar":"baz"}}`)
	c := &client{}
	tests := []struct {
		name     string
		whole    []byte
		property string
		want     string
		wantErr  error
	}{
		{"string", whole, "password", "s3cr3t", nil},
		{"number", whole, "port", "5432", nil},
		{"nested", whole, "foo.bar", "baz", nil},
		{"object", whole, "foo", `{"bar":"baz"}`, nil},
		{"missing", whole, "nope", "", providers.ErrSecretNotFound},
		// GetSecret answers a secret without custom metadata with no
		// value: it has no properties.
		{"no metadata", nil, "dev", "", providers.ErrSecretNotFound},
		{"not JSON", []byte("plain"), "a", "", providers.ErrNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := esv1.ExternalSecretDataRemoteRef{Key: "team/app", Property: tt.property}
			got, err := c.ExtractProperty(ref, tt.whole)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "team/app") {
					t.Fatalf("ExtractProperty = %q, %v; want an error naming the key and wrapping %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("ExtractProperty = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestWithKVVersion: argocd-vault-plugin's kv-version annotation (tenant
// input) switches the layout of a copy of the store's client (operator
// input), not of the client itself.
func TestWithKVVersion(t *testing.T) {
	orig := &client{kv: newKVLayout("", esv1.VaultKVStoreV2), identity: "id"}
	for _, tc := range []struct {
		name    string
		version int
		want    string
	}{
		{name: "tenant asks for KV v1", version: 1, want: "kv/app"},
		{name: "tenant asks for KV v2", version: 2, want: "kv/data/app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := orig.WithKVVersion(tc.version)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.(*client).kv.dataPath("kv/app")
			if err != nil || got != tc.want {
				t.Errorf("dataPath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if p, _ := orig.kv.dataPath("kv/app"); p != "kv/data/app" {
		t.Errorf("the original client changed layout: %s", p)
	}
	if _, err := orig.WithKVVersion(3); err == nil {
		t.Error("KV version 3 accepted")
	}
}
