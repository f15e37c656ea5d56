package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/server"
)

// stubRefresher plays package externalsecrets' Refresher: tokens of the
// form "user:<name>" belong to <name>, "down" means the API server does
// not answer, anything else is not valid. It records what it was asked.
type stubRefresher struct {
	refreshErr error

	mu    sync.Mutex
	auths []string
	asked []server.RefreshRequest
}

var _ server.Refresher = (*stubRefresher)(nil)

func (s *stubRefresher) Authenticate(_ context.Context, token string) (server.Caller, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths = append(s.auths, token)
	switch {
	case token == "down":
		return server.Caller{}, errors.New("connection refused")
	case strings.HasPrefix(token, "user:"):
		return server.Caller{Username: strings.TrimPrefix(token, "user:")}, nil
	}
	return server.Caller{}, fmt.Errorf("token review: %w", server.ErrUnauthenticated)
}

func (s *stubRefresher) Refresh(_ context.Context, _ server.Caller, req server.RefreshRequest) (server.RefreshResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, req)
	if s.refreshErr != nil {
		return server.RefreshResult{}, s.refreshErr
	}
	return server.RefreshResult{Refreshed: []server.ObjectRef{{Namespace: req.Namespace, Name: req.Name}}}, nil
}

func (s *stubRefresher) calls() (auths, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.auths), len(s.asked)
}

func newRefreshServer(tb testing.TB, opts server.Options, r server.Refresher) http.Handler {
	tb.Helper()
	opts.Refresher = r
	return newServer(tb, opts, crypto.NewKeyring())
}

// oneES is a caller's request for one ExternalSecret.
var oneES = []byte(`{"kind": "ExternalSecret", "namespace": "apps", "name": "db"}`)

// TestRefreshOff: without a Refresher (the operator turned ExternalSecrets
// off) the route does not exist.
func TestRefreshOff(t *testing.T) {
	h := newServer(t, server.Options{RateLimit: unlimited}, crypto.NewKeyring())
	if w := do(h, http.MethodPost, "/v1/refresh", oneES, "192.0.2.10", "Authorization", "Bearer user:ci"); w.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", w.Code)
	}
}

// TestRefreshAuthentication: what the caller sends as credentials. Only a
// bearer token is asked about, and a refusal never reaches Refresh.
func TestRefreshAuthentication(t *testing.T) {
	for _, tc := range []struct {
		name        string
		header      []string
		want        int
		wantAsked   bool // Authenticate was called
		wantRefresh bool
	}{
		{"caller sends no credentials", nil, http.StatusUnauthorized, false, false},
		{"caller sends basic auth", []string{"Authorization", "Basic dXNlcjpwYXNz"}, http.StatusUnauthorized, false, false},
		{"caller sends an empty bearer token", []string{"Authorization", "Bearer "}, http.StatusUnauthorized, false, false},
		{"caller sends two words as a token", []string{"Authorization", "Bearer a b"}, http.StatusUnauthorized, false, false},
		{"caller sends a token the API server refuses", []string{"Authorization", "Bearer forged"}, http.StatusUnauthorized, true, false},
		{"API server does not answer", []string{"Authorization", "Bearer down"}, http.StatusServiceUnavailable, true, false},
		{"caller sends a valid token", []string{"Authorization", "Bearer user:ci"}, http.StatusOK, true, true},
		{"caller writes the scheme in lower case", []string{"Authorization", "bearer user:ci"}, http.StatusOK, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := &stubRefresher{}
			h := newRefreshServer(t, server.Options{RateLimit: unlimited}, stub)
			w := do(h, http.MethodPost, "/v1/refresh", oneES, "192.0.2.10", tc.header...)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
			auths, refreshes := stub.calls()
			if (auths > 0) != tc.wantAsked || (refreshes > 0) != tc.wantRefresh {
				t.Errorf("Authenticate called %d times, Refresh %d times", auths, refreshes)
			}
		})
	}
}

// TestRefreshBody: what the caller sends as a body. Malformed requests get
// 400 naming the problem without quoting the body, oversized ones 413
// before the token is even checked; none reaches Refresh.
func TestRefreshBody(t *testing.T) {
	const canary = "c4n4ry-from-the-body"
	for _, tc := range []struct {
		name, body string
		want       int
		wantAsked  bool
	}{
		{"not JSON", "kind: ExternalSecret", http.StatusBadRequest, true},
		{"unknown field", `{"kind": "ExternalSecret", "namespace": "apps", "name": "db", "` + canary + `": 1}`, http.StatusBadRequest, true},
		{"two objects", string(oneES) + string(oneES), http.StatusBadRequest, true},
		{"unknown kind", `{"kind": "Secret", "namespace": "apps", "name": "db"}`, http.StatusBadRequest, true},
		{"ExternalSecret without namespace", `{"kind": "ExternalSecret", "name": "db"}`, http.StatusBadRequest, true},
		{"SecretStore without namespace", `{"kind": "SecretStore", "name": "vault"}`, http.StatusBadRequest, true},
		{"invalid name", `{"kind": "ExternalSecret", "namespace": "apps", "name": "` + canary + `/../x"}`, http.StatusBadRequest, true},
		{"invalid namespace", `{"kind": "ExternalSecret", "namespace": "` + canary + `.x", "name": "db"}`, http.StatusBadRequest, true},
		{"name too long", `{"kind": "ExternalSecret", "namespace": "apps", "name": "` + strings.Repeat("a", 254) + `"}`, http.StatusBadRequest, true},
		{"oversized body", `{"kind": "ExternalSecret", "namespace": "apps", "name": "db", "pad": "` + strings.Repeat(canary, 400) + `"}`, http.StatusRequestEntityTooLarge, false},
		{"ExternalSecret", string(oneES), http.StatusOK, true},
		{"SecretStore", `{"kind": "SecretStore", "namespace": "apps", "name": "vault"}`, http.StatusOK, true},
		{"ClusterSecretStore", `{"kind": "ClusterSecretStore", "name": "vault"}`, http.StatusOK, true},
		{"ClusterSecretStore in one namespace", `{"kind": "ClusterSecretStore", "namespace": "apps", "name": "vault"}`, http.StatusOK, true},
	} {
		t.Run("caller sends "+tc.name, func(t *testing.T) {
			stub := &stubRefresher{}
			var logs logBuffer
			h := newRefreshServer(t, server.Options{RateLimit: unlimited, Logger: logs.logger()}, stub)
			w := do(h, http.MethodPost, "/v1/refresh", []byte(tc.body), "192.0.2.10", "Authorization", "Bearer user:ci")
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			for what, s := range map[string]string{"answer": w.Body.String(), "log": logs.String()} {
				if strings.Contains(s, canary) {
					t.Errorf("the %s quotes the body: %s", what, s)
				}
			}
			auths, refreshes := stub.calls()
			if (auths > 0) != tc.wantAsked || (refreshes > 0) != (tc.want == http.StatusOK) {
				t.Errorf("Authenticate called %d times, Refresh %d times", auths, refreshes)
			}
			if tc.want != http.StatusOK {
				return
			}
			var res server.RefreshResult
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || len(res.Refreshed) != 1 {
				t.Errorf("answer %s: %v", w.Body, err)
			}
		})
	}
}

// TestRefreshErrors: what the Refresher answers becomes the caller's
// status, and an unexpected error's text (which may say anything about
// the cluster) stays in the controller's log.
func TestRefreshErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		want     int
		wantBody string
	}{
		{"forbidden", fmt.Errorf("%w: ci may not patch ExternalSecret apps/db", server.ErrForbidden), http.StatusForbidden, "may not patch"},
		{"not found", fmt.Errorf("%w: ExternalSecret apps/db", server.ErrNotFound), http.StatusNotFound, "apps/db"},
		{"too many", fmt.Errorf("%w: SecretStore apps/vault is used by more than 100", server.ErrTooManyObjects), http.StatusRequestEntityTooLarge, "more than 100"},
		{"unexpected", errors.New("etcd cluster is unavailable: internal detail"), http.StatusInternalServerError, "controller's log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRefreshServer(t, server.Options{RateLimit: unlimited}, &stubRefresher{refreshErr: tc.err})
			w := do(h, http.MethodPost, "/v1/refresh", oneES, "192.0.2.10", "Authorization", "Bearer user:ci")
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Fatalf("status %d %q, want %d saying %q", w.Code, w.Body, tc.want, tc.wantBody)
			}
			if strings.Contains(w.Body.String(), "internal detail") {
				t.Errorf("an unexpected error reached the caller: %s", w.Body)
			}
		})
	}
}

// TestRefreshRateLimitPerUser: the operator's rate limit applies to each
// authenticated user as well as to each address, so that a caller who
// claims a new address per request (X-Forwarded-For, which a direct
// caller sets at will) still gets only its rate; another user keeps
// theirs.
func TestRefreshRateLimitPerUser(t *testing.T) {
	stub := &stubRefresher{}
	h := newRefreshServer(t, server.Options{RateLimit: 0.001, RateBurst: 1}, stub)
	send := func(xff, token string) int {
		return do(h, http.MethodPost, "/v1/refresh", oneES, "10.0.0.1", "X-Forwarded-For", xff, "Authorization", "Bearer "+token).Code
	}
	if c := send("192.0.2.1", "user:ci"); c != http.StatusOK {
		t.Fatalf("first request: %d", c)
	}
	if c := send("192.0.2.2", "user:ci"); c != http.StatusTooManyRequests {
		t.Fatalf("the same user from a new address: %d, want 429", c)
	}
	if c := send("192.0.2.3", "user:other"); c != http.StatusOK {
		t.Fatalf("another user: %d, want 200", c)
	}
	if c := send("192.0.2.3", "user:third"); c != http.StatusTooManyRequests {
		t.Fatalf("a third user from the second user's address: %d, want 429 (per address)", c)
	}
	if _, refreshes := stub.calls(); refreshes != 2 {
		t.Fatalf("%d refreshes, want 2", refreshes)
	}
}

// FuzzRefreshRequest posts arbitrary bodies from an authenticated caller:
// nothing may panic, and only the documented statuses come back.
func FuzzRefreshRequest(f *testing.F) {
	for _, seed := range []string{
		string(oneES),
		`{"kind": "SecretStore", "namespace": "apps", "name": "vault"}`,
		`{"kind": "ClusterSecretStore", "name": "vault"}`,
		`{"kind": "ClusterSecretStore", "namespace": "apps", "name": "vault"}`,
		`{"kind": "ExternalSecret", "name": "db"}`,
		`{}`, `[]`, `null`, `{"kind": 1}`,
	} {
		f.Add([]byte(seed))
	}
	h := newRefreshServer(f, server.Options{RateLimit: unlimited}, &stubRefresher{})
	f.Fuzz(func(t *testing.T, body []byte) {
		w := do(h, http.MethodPost, "/v1/refresh", body, "192.0.2.10", "Authorization", "Bearer user:ci")
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("unexpected status %d: %s", w.Code, w.Body)
		}
	})
}
