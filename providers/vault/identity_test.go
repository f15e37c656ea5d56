package vault

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

// loginRecorder is a plain-HTTP "Vault" that records every request and
// answers logins with a token.
type loginRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	bodies []string
}

func newLoginRecorder(tb testing.TB) *loginRecorder {
	tb.Helper()
	l := &loginRecorder{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.paths = append(l.paths, r.URL.Path)
		l.bodies = append(l.bodies, string(body))
		l.mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, "/login") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{"client_token": "s.t", "lease_duration": 3600}})
	}))
	tb.Cleanup(l.Close)
	return l
}

func (l *loginRecorder) requests() ([]string, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.paths), slices.Clone(l.bodies)
}

// TestKubernetesAuthWithoutCredentials: a store with kubernetes auth and
// neither serviceAccountRef nor secretRef (tenant input, as is the server
// URL) asks the core for the controller's identity with audience "vault".
// When the core refuses (as it does for every SecretStore), nothing
// reaches the server; when it lends a token, that token is the login's.
func TestKubernetesAuthWithoutCredentials(t *testing.T) {
	srv := newLoginRecorder(t)
	store := vaultStore(func(p *esv1.VaultProvider) {
		p.Server = srv.URL
		p.Auth = &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: "r"}}
	})

	kube := newMapKube()
	_, err := New().NewClient(t.Context(), store, kube)
	if !errors.Is(err, providers.ErrControllerIdentity) || !strings.Contains(err.Error(), "names neither serviceAccountRef nor secretRef") {
		t.Fatalf("refused: error %v", err)
	}
	if paths, _ := srv.requests(); len(paths) != 0 {
		t.Fatalf("the server received %d requests: %q", len(paths), paths)
	}

	var asked []string
	kube.controllerToken = func(aud []string) (string, error) {
		asked = aud
		return "controller-jwt", nil
	}
	c, err := New().NewClient(t.Context(), store, kube)
	if err != nil {
		t.Fatalf("lent: %v", err)
	}
	defer c.Close(t.Context())
	if !slices.Equal(asked, []string{"vault"}) {
		t.Errorf("asked for audiences %q, want [vault]", asked)
	}
	paths, bodies := srv.requests()
	if len(paths) == 0 || paths[0] != "/v1/auth/kubernetes/login" || !strings.Contains(bodies[0], `"jwt":"controller-jwt"`) {
		t.Errorf("first request %q %q, want the login with the lent token", paths, bodies)
	}
}

// TestServiceAccountTokenRequests: what the provider asks the core for a
// serviceAccountRef (kubernetes auth) or kubernetesServiceAccountToken
// (jwt auth); the store spec is tenant input. The audiences are never
// empty, and the lifetime is the shortest the TokenRequest API grants
// unless the store asks for longer.
func TestServiceAccountTokenRequests(t *testing.T) {
	sa := func(aud ...string) esmeta.ServiceAccountSelector {
		return esmeta.ServiceAccountSelector{Name: "reader", Audiences: aud}
	}
	jwt := func(ref esmeta.ServiceAccountSelector, aud []string, exp *int64) *esv1.VaultAuth {
		t := &esv1.VaultKubernetesServiceAccountTokenAuth{ServiceAccountRef: ref}
		//lint:ignore SA1019 ESO still honours both deprecated fields.
		t.Audiences, t.ExpirationSeconds = aud, exp
		return &esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{Role: "r", KubernetesServiceAccountToken: t}}
	}
	tests := []struct {
		name    string
		auth    *esv1.VaultAuth
		wantAud []string
		wantExp int64
	}{
		{"kubernetes, no audiences", &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: "r", ServiceAccountRef: ptr(sa())}}, []string{"vault"}, 600},
		{"kubernetes, serviceAccountRef audiences", &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: "r", ServiceAccountRef: ptr(sa("a", "b"))}}, []string{"a", "b"}, 600},
		{"jwt, no audiences", jwt(sa(), nil, nil), []string{"vault"}, 600},
		{"jwt, explicitly empty audiences", jwt(sa(), []string{}, nil), []string{"vault"}, 600},
		{"jwt, serviceAccountRef audiences", jwt(sa("a"), nil, nil), []string{"a", "vault"}, 600},
		{"jwt, audiences", jwt(sa(), []string{"x"}, nil), []string{"x"}, 600},
		{"jwt, both and longer", jwt(sa("a"), []string{"x"}, ptr[int64](3600)), []string{"a", "x"}, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newLoginRecorder(t)
			store := vaultStore(func(p *esv1.VaultProvider) { p.Server, p.Auth = srv.URL, tt.auth })
			kube := newMapKube()
			var gotAud []string
			var gotExp int64
			kube.saToken = func(_ esmeta.ServiceAccountSelector, aud []string, exp int64) (string, error) {
				gotAud, gotExp = aud, exp
				return "sa-jwt", nil
			}
			c, err := New().NewClient(t.Context(), store, kube)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(t.Context())
			if !slices.Equal(gotAud, tt.wantAud) || gotExp != tt.wantExp {
				t.Errorf("asked for %q for %d s, want %q for %d s", gotAud, gotExp, tt.wantAud, tt.wantExp)
			}
			if _, bodies := srv.requests(); len(bodies) == 0 || !strings.Contains(bodies[0], `"jwt":"sa-jwt"`) {
				t.Errorf("requests %q, want a login with the requested token first", bodies)
			}
		})
	}
}
