package externalsecrets

import (
	"slices"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// TestStoresOf: an ExternalSecret (tenant input) is indexed under every
// store it reads, so that a store-wide refresh and a store becoming Ready
// reach it however it names the store.
func TestStoresOf(t *testing.T) {
	ref := func(kind, name string) esv1.SecretStoreRef { return esv1.SecretStoreRef{Kind: kind, Name: name} }
	for _, tc := range []struct {
		name string
		spec esv1.ExternalSecretSpec
		want []string
	}{
		{"tenant names a SecretStore, kind left out", esv1.ExternalSecretSpec{SecretStoreRef: ref("", "vault")}, []string{"SecretStore/vault"}},
		{"tenant names a ClusterSecretStore", esv1.ExternalSecretSpec{SecretStoreRef: ref(esv1.ClusterSecretStoreKind, "vault")}, []string{"ClusterSecretStore/vault"}},
		{"tenant reads entries from other stores", esv1.ExternalSecretSpec{
			SecretStoreRef: ref("", "a"),
			Data: []esv1.ExternalSecretData{
				{SourceRef: &esv1.StoreSourceRef{SecretStoreRef: ref(esv1.ClusterSecretStoreKind, "b")}},
				{SourceRef: &esv1.StoreSourceRef{SecretStoreRef: ref("", "a")}},
				{},
			},
			DataFrom: []esv1.ExternalSecretDataFromRemoteRef{
				{SourceRef: &esv1.StoreGeneratorSourceRef{SecretStoreRef: &esv1.SecretStoreRef{Name: "c"}}},
				{SourceRef: &esv1.StoreGeneratorSourceRef{}},
			},
		}, []string{"SecretStore/a", "ClusterSecretStore/b", "SecretStore/c"}},
		{"tenant names stores only per entry", esv1.ExternalSecretSpec{
			Data: []esv1.ExternalSecretData{{SourceRef: &esv1.StoreSourceRef{SecretStoreRef: ref("", "a")}}},
		}, []string{"SecretStore/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := storesOf(&esv1.ExternalSecret{Spec: tc.spec})
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
