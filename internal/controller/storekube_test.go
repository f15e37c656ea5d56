package controller

import (
	"context"
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

// TestTokenNeedsAudience: a token request with no audience (the store's
// audiences are tenant input) is refused before the API server is asked,
// which would fill in its own audience.
func TestTokenNeedsAudience(t *testing.T) {
	k := newStoreKube(nil, nil, providers.Store{Kind: esv1.SecretStoreKind, Name: "s", Namespace: "tenant"})
	for _, aud := range [][]string{nil, {}, {""}} {
		_, err := k.ServiceAccountToken(context.Background(), esmeta.ServiceAccountSelector{Name: "reader"}, aud, 0)
		if err == nil || !strings.Contains(err.Error(), "no audience") {
			t.Errorf("audiences %q: error %v, want a refusal", aud, err)
		}
	}
}
