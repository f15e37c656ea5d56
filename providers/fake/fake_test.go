package fake_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/fake"
)

func store(data ...esv1.FakeProviderData) providers.Store {
	return providers.Store{
		Kind: esv1.SecretStoreKind, Name: "fake", Namespace: "default",
		Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{Data: data}}},
	}
}

func newClient(t *testing.T) providers.Client {
	t.Helper()
	c, err := fake.New().NewClient(context.Background(), store(
		esv1.FakeProviderData{Key: "/foo/bar", Value: "HELLO1"},
		esv1.FakeProviderData{Key: "/foo/bar", Value: "HELLO2", Version: "v2"},
		esv1.FakeProviderData{Key: "/foo/baz", Value: `{"john": "doe", "age": 42, "nested": {"a": "b"}}`},
		esv1.FakeProviderData{Key: "/other/thing", Value: "x"},
		//lint:ignore SA1019 the deprecated field must keep working.
		esv1.FakeProviderData{Key: "legacy", Value: "ignored", ValueMap: map[string]string{"k": "v"}},
		esv1.FakeProviderData{Key: "versioned", Value: "one", Version: "v1"},
		esv1.FakeProviderData{Key: "versioned", Value: "two", Version: "v2"},
	), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGetSecret(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		name     string
		ref      esv1.ExternalSecretDataRemoteRef
		want     string
		notFound bool
		wantErr  bool
	}{
		{"unversioned", esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar"}, "HELLO1", false, false},
		{"versioned", esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar", Version: "v2"}, "HELLO2", false, false},
		{"unknown version", esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar", Version: "v3"}, "", true, false},
		{"versioned-only entry needs its version", esv1.ExternalSecretDataRemoteRef{Key: "versioned"}, "", true, false},
		{"property", esv1.ExternalSecretDataRemoteRef{Key: "/foo/baz", Property: "john"}, "doe", false, false},
		{"number property", esv1.ExternalSecretDataRemoteRef{Key: "/foo/baz", Property: "age"}, "42", false, false},
		{"nested property", esv1.ExternalSecretDataRemoteRef{Key: "/foo/baz", Property: "nested.a"}, "b", false, false},
		{"missing property", esv1.ExternalSecretDataRemoteRef{Key: "/foo/baz", Property: "jane"}, "", true, false},
		{"property of non-JSON", esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar", Property: "x"}, "", false, true},
		{"missing key", esv1.ExternalSecretDataRemoteRef{Key: "/nope"}, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetSecret(context.Background(), tt.ref)
			switch {
			case tt.notFound:
				if !errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("err = %v, want not found", err)
				}
			case tt.wantErr:
				if err == nil || errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("err = %v, want a non-not-found error", err)
				}
				if strings.Contains(err.Error(), "HELLO") {
					t.Fatalf("error leaks the value: %v", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestGetSecretMap(t *testing.T) {
	c := newClient(t)
	tests := []struct {
		name     string
		ref      esv1.ExternalSecretDataRemoteRef
		want     map[string]string
		notFound bool
		wantErr  bool
	}{
		{"json object", esv1.ExternalSecretDataRemoteRef{Key: "/foo/baz"}, map[string]string{"john": "doe", "age": "42", "nested": `{"a": "b"}`}, false, false},
		{"property object", esv1.ExternalSecretDataRemoteRef{Key: "/foo/baz", Property: "nested"}, map[string]string{"a": "b"}, false, false},
		{"valueMap", esv1.ExternalSecretDataRemoteRef{Key: "legacy"}, map[string]string{"k": "v"}, false, false},
		{"not an object", esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar"}, nil, false, true},
		{"missing", esv1.ExternalSecretDataRemoteRef{Key: "/nope"}, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetSecretMap(context.Background(), tt.ref)
			switch {
			case tt.notFound:
				if !errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("err = %v", err)
				}
			case tt.wantErr:
				if err == nil || errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("err = %v", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(strs(got), tt.want) {
					t.Errorf("got %q, want %q", strs(got), tt.want)
				}
			}
		})
	}
}

func TestGetAllSecrets(t *testing.T) {
	c := newClient(t)
	path := "/foo/"
	tests := []struct {
		name    string
		find    esv1.ExternalSecretFind
		want    map[string]string
		wantErr string
	}{
		{"name regexp, newest version", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^/foo/"}}, map[string]string{"/foo/bar": "HELLO2", "/foo/baz": `{"john": "doe", "age": 42, "nested": {"a": "b"}}`}, ""},
		{"versions compare as strings", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^versioned$"}}, map[string]string{"versioned": "two"}, ""},
		{"path prefix", esv1.ExternalSecretFind{Path: &path}, map[string]string{"/foo/bar": "HELLO2", "/foo/baz": `{"john": "doe", "age": 42, "nested": {"a": "b"}}`}, ""},
		{"path and name", esv1.ExternalSecretFind{Path: &path, Name: &esv1.FindName{RegExp: "baz"}}, map[string]string{"/foo/baz": `{"john": "doe", "age": 42, "nested": {"a": "b"}}`}, ""},
		{"no match", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^nothing$"}}, map[string]string{}, ""},
		{"bad regexp", esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "("}}, nil, "find.name.regexp"},
		{"tags only", esv1.ExternalSecretFind{Tags: map[string]string{"a": "b"}}, nil, "no tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetAllSecrets(context.Background(), tt.find)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(got), tt.want) {
				t.Errorf("got %q, want %q", strs(got), tt.want)
			}
		})
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name  string
		store providers.Store
	}{
		{"no spec", providers.Store{}},
		{"other provider", providers.Store{Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{}}}},
		{"empty key", store(esv1.FakeProviderData{Value: "x"})},
		{"empty value", store(esv1.FakeProviderData{Key: "x"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := fake.New().NewClient(context.Background(), tt.store, nil); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	c := newClient(t)
	if err := c.(providers.Validator).Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestResultsDoNotAlias(t *testing.T) {
	c := newClient(t)
	a, _ := c.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar"})
	a[0] = 'X'
	b, _ := c.GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "/foo/bar"})
	if string(b) != "HELLO1" {
		t.Fatalf("store mutated through a result: %q", b)
	}
}

func TestRegister(t *testing.T) {
	r := providers.NewRegistry()
	r.Register(providers.Fake, fake.New())
	name, p, err := r.For(store(esv1.FakeProviderData{Key: "k", Value: "v"}).Spec)
	if err != nil || name != providers.Fake || p == nil {
		t.Fatalf("%s %v %v", name, p, err)
	}
}

func strs(m map[string][]byte) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}
