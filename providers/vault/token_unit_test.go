package vault

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// TestRefreshBackoff checks that a client whose renewal and login both
// fail keeps using its unexpired token and does not retry the refresh on
// every request.
func TestRefreshBackoff(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/v1/auth/userpass/login/u" && n == 1:
			_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{"client_token": "t1", "lease_duration": 60, "renewable": true}})
		case r.URL.Path == "/v1/secret/data/app" && r.Header.Get("X-Vault-Token") == "t1":
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"data": map[string]any{"k": "v"}}})
		default: // renewals and later logins: Vault is struggling
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	kube := newMapKube()
	kube.setSecret("pw", "password", "p")
	s := vaultStore(func(p *esv1.VaultProvider) {
		p.Server = srv.URL
		p.Auth = &esv1.VaultAuth{UserPass: &esv1.VaultUserPassAuth{Username: "u", SecretRef: ptr(sel("pw", "password"))}}
	})
	s.Spec.RetrySettings = &esv1.SecretStoreRetrySettings{MaxRetries: ptr(int32(0))}
	c := newClient(t, s, kube)

	// 45 s into a 60 s lease: stale, not expired.
	skew := 45 * time.Second
	c.session.now = func() time.Time { return time.Now().Add(skew) }
	for range 5 {
		if _, err := c.GetSecret(t.Context(), esv1.ExternalSecretDataRemoteRef{Key: "app"}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	renewals, logins := calls["/v1/auth/token/renew-self"], calls["/v1/auth/userpass/login/u"]
	mu.Unlock()
	if renewals != 1 || logins != 2 {
		t.Errorf("5 reads with a stale token: %d renewals, %d logins; want 1 and 2 (the first and one retry)", renewals, logins)
	}
	// Past the backoff the client tries again.
	skew += refreshBackoff + time.Second
	if _, err := c.GetSecret(t.Context(), esv1.ExternalSecretDataRemoteRef{Key: "app"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["/v1/auth/token/renew-self"] != 2 {
		t.Errorf("after the backoff: %d renewals, want 2", calls["/v1/auth/token/renew-self"])
	}
}
