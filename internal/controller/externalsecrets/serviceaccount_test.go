package externalsecrets_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/testkit"
)

// TestServiceAccountRefTokenAudiences: ServiceAccount tokens the Vault
// provider requests through the core for serviceAccountRef (kubernetes
// auth) and kubernetesServiceAccountToken (jwt auth) carry "vault" or the
// audiences the store names, never the API server's, and live 10 minutes
// unless the store asks longer. The store specs are tenant input.
func TestServiceAccountRefTokenAudiences(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	rv := newRecordingVault(t)
	r, class := startVaultES(t, e, e.Config, false)
	create(t, e, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: r.NS}})
	apiAud := apiServerAudiences(t, e, r.NS)
	sa := func(aud ...string) *esv1.VaultKubernetesServiceAccountTokenAuth {
		s := &esv1.VaultKubernetesServiceAccountTokenAuth{}
		s.ServiceAccountRef.Name = "reader"
		s.ServiceAccountRef.Audiences = aud
		return s
	}
	tests := []struct {
		name    string
		auth    esv1.VaultAuth
		wantAud []string
		wantTTL int64
	}{
		{"kubernetes serviceAccountRef", esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{
			Role: "kubernetes serviceAccountRef", ServiceAccountRef: &sa().ServiceAccountRef,
		}}, []string{"vault"}, 600},
		{"kubernetes serviceAccountRef audiences", esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{
			Role: "kubernetes serviceAccountRef audiences", ServiceAccountRef: &sa("https://vault.example.com").ServiceAccountRef,
		}}, []string{"https://vault.example.com"}, 600},
		{"jwt kubernetesServiceAccountToken", esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{
			Role: "jwt kubernetesServiceAccountToken", KubernetesServiceAccountToken: sa(),
		}}, []string{"vault"}, 600},
		{"jwt empty audiences and longer expiry", esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{
			Role: "jwt empty audiences and longer expiry", KubernetesServiceAccountToken: func() *esv1.VaultKubernetesServiceAccountTokenAuth {
				s := sa()
				//lint:ignore SA1019 ESO still honours both deprecated fields.
				s.Audiences, s.ExpirationSeconds = []string{}, ptr.To[int64](1200)
				return s
			}(),
		}}, []string{"vault"}, 1200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &esv1.SecretStore{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sa-%d", i), Namespace: r.NS},
				Spec: esv1.SecretStoreSpec{Controller: class, Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
					Server: rv.URL, Auth: &tt.auth,
				}}},
			}
			create(t, e, store)
			waitStoreReady(t, e, store, corev1.ConditionTrue, "")
			jwts := rv.logins(t, tt.name)
			if len(jwts) == 0 {
				t.Fatal("no login")
			}
			got := tokenClaims(t, jwts[0])
			if !slices.Equal(got.Aud, tt.wantAud) {
				t.Errorf("audiences %q, want %q", got.Aud, tt.wantAud)
			}
			for _, a := range apiAud {
				if slices.Contains(got.Aud, a) {
					t.Errorf("token carries the API server's audience %q", a)
				}
			}
			if d := got.Exp - got.Iat; d != tt.wantTTL {
				t.Errorf("token valid for %d s, want %d", d, tt.wantTTL)
			}
		})
	}
}

// TestServiceAccountRefAPIServerAudienceRefused: a tenant's SecretStore
// names a ServiceAccount of its namespace (a deployer that may be more
// privileged than the tenant) and lists the API server's own audience in
// serviceAccountRef.audiences, or in kubernetesServiceAccountToken's
// audiences: tenant input. The API server's audiences are its answer to a
// TokenRequest with none (trusted), read here as the controller reads
// them. Each such store is refused, Ready False with InvalidProviderConfig
// naming the audience, and the server it names receives no request at all;
// a store asking for another audience still logs in. The controller runs
// as the test's administrator (it then learns the audiences with the
// store's ServiceAccount) and as a ServiceAccount (with its own).
func TestServiceAccountRefAPIServerAudienceRefused(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	for _, as := range []string{"administrator", "ServiceAccount"} {
		t.Run("controller as "+as, func(t *testing.T) {
			cfg := e.Config
			if as == "ServiceAccount" {
				cfg = asServiceAccount(t, e, e.Namespace(t))
			}
			refusedVault, okVault := newRecordingVault(t), newRecordingVault(t)
			r, class := startVaultES(t, e, cfg, false)
			create(t, e, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: r.NS}})
			apiAud := apiServerAudiences(t, e, r.NS)
			first, last := apiAud[0], apiAud[len(apiAud)-1]
			kubernetes := func(aud ...string) esv1.VaultAuth {
				ref := &esmeta.ServiceAccountSelector{Name: "deployer", Audiences: aud}
				return esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Role: "r", ServiceAccountRef: ref}}
			}
			jwt := func(refAud, aud []string) esv1.VaultAuth {
				tok := &esv1.VaultKubernetesServiceAccountTokenAuth{ServiceAccountRef: esmeta.ServiceAccountSelector{Name: "deployer", Audiences: refAud}}
				//lint:ignore SA1019 ESO still honours the deprecated field.
				tok.Audiences = aud
				return esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{Role: "r", KubernetesServiceAccountToken: tok}}
			}
			tests := []struct {
				name    string
				auth    esv1.VaultAuth
				refused string // the audience named in the refusal, "" when the store works
			}{
				{"kubernetes serviceAccountRef audiences", kubernetes(first), first},
				{"kubernetes serviceAccountRef audiences among others", kubernetes("https://vault.example.com", last), last},
				{"jwt serviceAccountRef audiences", jwt([]string{last}, nil), last},
				{"jwt audiences", jwt(nil, []string{first}), first},
				{"kubernetes, another audience", kubernetes("https://vault.example.com"), ""},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					server := okVault.URL
					if tt.refused != "" {
						server = refusedVault.URL
					}
					store := &esv1.SecretStore{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("aud-%d", i), Namespace: r.NS},
						Spec: esv1.SecretStoreSpec{Controller: class, Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
							Server: server, Auth: &tt.auth,
						}}},
					}
					create(t, e, store)
					if tt.refused == "" {
						waitStoreReady(t, e, store, corev1.ConditionTrue, "")
						if len(okVault.logins(t, "r")) == 0 {
							t.Error("no login")
						}
						return
					}
					c := waitStoreReady(t, e, store, corev1.ConditionFalse, fmt.Sprintf("audience %q is refused", tt.refused))
					if c.Reason != esv1.ReasonInvalidProviderConfig || !strings.Contains(c.Message, "the Kubernetes API server accepts it") {
						t.Errorf("Ready: %s: %s", c.Reason, c.Message)
					}
				})
			}
			// Every refused store has its condition by now, written after
			// anything it could have sent.
			for _, req := range refusedVault.all() {
				t.Errorf("Vault received %s %s (body %d bytes)", req.method, req.path, len(req.body))
			}
		})
	}
}
