package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
)

// envKube is providers.Kube over the envtest API server, for a SecretStore
// in namespace ns: the core's implementation in miniature.
type envKube struct {
	c  ctrlclient.Client
	ns string
	// controller is the ServiceAccount of ns standing in for the
	// controller's own, lent as the core lends it to a ClusterSecretStore
	// the operator allowed; "" refuses as the core refuses a SecretStore.
	controller string
}

var _ providers.Kube = envKube{}

func (k envKube) SecretKey(ctx context.Context, ref esmeta.SecretKeySelector) ([]byte, error) {
	var s corev1.Secret
	if err := k.c.Get(ctx, ctrlclient.ObjectKey{Namespace: k.ns, Name: ref.Name}, &s); err != nil {
		return nil, err
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
	}
	return v, nil
}

func (k envKube) ConfigMapKey(ctx context.Context, _, name, key string) ([]byte, error) {
	var cm corev1.ConfigMap
	if err := k.c.Get(ctx, ctrlclient.ObjectKey{Namespace: k.ns, Name: name}, &cm); err != nil {
		return nil, err
	}
	return []byte(cm.Data[key]), nil
}

func (k envKube) ServiceAccountToken(ctx context.Context, ref esmeta.ServiceAccountSelector, audiences []string, seconds int64) (string, error) {
	if len(audiences) == 0 {
		return "", errors.New("no audience")
	}
	return saToken(ctx, k.c, k.ns, ref.Name, audiences, seconds)
}

func (k envKube) ControllerToken(ctx context.Context, audiences []string) (string, error) {
	if k.controller == "" {
		return "", fmt.Errorf("%w: a SecretStore must name its own credentials", providers.ErrControllerIdentity)
	}
	return saToken(ctx, k.c, k.ns, k.controller, audiences, providers.MinTokenExpiration)
}

// saToken requests a token for ServiceAccount ns/name; no audiences means
// the API server's own.
func saToken(ctx context.Context, c ctrlclient.Client, ns, name string, audiences []string, seconds int64) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &seconds}}
	if err := c.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

// serviceAccount creates a ServiceAccount in ns; with reviewer set it is
// bound to system:auth-delegator, which lets Vault call TokenReview with
// the account's own token.
func serviceAccount(tb testing.TB, e *testkit.Env, ns, name string, reviewer bool) {
	tb.Helper()
	ctx := tb.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
		tb.Fatal(err)
	}
	if !reviewer {
		return
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-review-" + ns + "-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}
	if err := e.Client.Create(ctx, crb); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Client.Delete(context.Background(), crb) })
	e.WaitForGrant(tb, ns, name, authzv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"})
}

// kubernetesAuth enables Vault's kubernetes method for the envtest API
// server. Vault runs outside the cluster, so it has no pod token of its own
// to review logins with (disable_local_ca_jwt); it gets the token of a
// ServiceAccount bound to system:auth-delegator instead, as Vault's docs
// advise for that case. Without one Vault would review each login with the
// login's own token, which works only for tokens the API server accepts,
// and the tokens sealsync sends are for Vault alone.
func kubernetesAuth(tb testing.TB, v *testkit.Vault, e *testkit.Env, ns string) string {
	tb.Helper()
	serviceAccount(tb, e, ns, "vault-reviewer", true)
	reviewer, err := saToken(tb.Context(), e.Client, ns, "vault-reviewer", nil, 3600)
	if err != nil {
		tb.Fatal(err)
	}
	mount := enableAuth(tb, v, "kubernetes")
	write(tb, v, "auth/"+mount+"/config", map[string]any{
		"kubernetes_host":      e.Config.Host,
		"kubernetes_ca_cert":   string(e.Config.CAData),
		"disable_local_ca_jwt": true,
		"token_reviewer_jwt":   reviewer,
	})
	return mount
}

// TestAuthKubernetes logs in with Vault's kubernetes method against the
// envtest API server. The store specs are tenant input; envKube plays the
// core, lending the controller's identity only where a case says the
// operator allowed it.
func TestAuthKubernetes(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	e := testkit.RequireEnv(t, env)
	ctx := t.Context()
	ns := e.Namespace(t)
	key, policy := seedApp(t, v, "k8s")
	serviceAccount(t, e, ns, "eso-reader", false)
	serviceAccount(t, e, ns, "stranger", false)

	mount := kubernetesAuth(t, v, e, ns)
	role := func(name, audience string) {
		write(t, v, "auth/"+mount+"/role/"+name, map[string]any{
			"bound_service_account_names":      []string{"eso-reader"},
			"bound_service_account_namespaces": []string{ns},
			"token_policies":                   policy,
			"token_ttl":                        "1h",
			"audience":                         audience,
		})
	}
	// The audience sealsync requests by default, which the role must name.
	role("reader", "vault")
	role("custom-audience", "https://vault.example.com")
	kube := envKube{c: e.Client, ns: ns}
	store := func(auth esv1.VaultKubernetesAuth) providers.Store {
		s := storeFor(v, func(p *esv1.VaultProvider) { p.Auth = &esv1.VaultAuth{Kubernetes: &auth} })
		s.Namespace = ns
		return s
	}

	t.Run("serviceAccountRef through TokenRequest", func(t *testing.T) {
		before := auditLog(t)
		c := newClient(t, store(esv1.VaultKubernetesAuth{Path: mount, Role: "reader", ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "eso-reader"}}), kube)
		for range 5 {
			mustRead(t, c, key, "k8s")
		}
		if n := auditSince(t, before).Count("update", "auth/"+mount+"/login"); n != 1 {
			t.Errorf("%d logins for 5 reads, want 1", n)
		}
	})

	t.Run("serviceAccountRef with the role's audience", func(t *testing.T) {
		sa := &esmeta.ServiceAccountSelector{Name: "eso-reader", Audiences: []string{"https://vault.example.com"}}
		mustRead(t, newClient(t, store(esv1.VaultKubernetesAuth{Path: mount, Role: "custom-audience", ServiceAccountRef: sa}), kube), key, "k8s")
	})

	t.Run("secretRef to a token Secret", func(t *testing.T) {
		tok, err := saToken(ctx, e.Client, ns, "eso-reader", []string{"vault"}, 600)
		if err != nil {
			t.Fatal(err)
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "eso-reader-token", Namespace: ns}, Data: map[string][]byte{"token": []byte(tok)}}
		if err := e.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, store(esv1.VaultKubernetesAuth{Path: mount, Role: "reader", SecretRef: &esmeta.SecretKeySelector{Name: "eso-reader-token"}}), kube)
		mustRead(t, c, key, "k8s")
	})

	t.Run("the controller's own identity, lent by the core", func(t *testing.T) {
		lent := kube
		lent.controller = "eso-reader"
		mustRead(t, newClient(t, store(esv1.VaultKubernetesAuth{Path: mount, Role: "reader"}), lent), key, "k8s")
	})

	t.Run("the controller's own identity, refused by the core", func(t *testing.T) {
		before := auditLog(t)
		_, err := New().NewClient(ctx, store(esv1.VaultKubernetesAuth{Path: mount, Role: "reader"}), kube)
		if !errors.Is(err, providers.ErrControllerIdentity) {
			t.Fatalf("error %v, want ErrControllerIdentity", err)
		}
		if log := auditSince(t, before); len(log) != 0 {
			t.Errorf("Vault was asked %d times:\n%s", len(log), log)
		}
	})

	t.Run("service account not bound to the role", func(t *testing.T) {
		_, err := New().NewClient(ctx, store(esv1.VaultKubernetesAuth{Path: mount, Role: "reader", ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "stranger"}}), kube)
		if err == nil || !strings.Contains(err.Error(), "log in with kubernetes at auth/"+mount) {
			t.Fatalf("error %v", err)
		}
		t.Logf("unbound service account: %v", err)
	})
}

// TestAuthKubernetesNeedsVaultAudience covers the Vault setups
// docs/compatibility.md names for migrating from ESO, whose tokens carry
// the API server's audience. The Vault configuration is the operator's;
// the store spec is tenant input.
func TestAuthKubernetesNeedsVaultAudience(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	key, policy := seedApp(t, v, "k8s-aud")
	serviceAccount(t, e, ns, "eso-reader", true) // ESO's docs: bound to system:auth-delegator
	kube := envKube{c: e.Client, ns: ns}
	probe, err := saToken(t.Context(), e.Client, ns, "eso-reader", nil, 600)
	if err != nil {
		t.Fatal(err)
	}
	apiAudience := tokenAudiences(t, probe)[0]

	withReviewer := kubernetesAuth(t, v, e, ns)
	noReviewer := enableAuth(t, v, "kubernetes")
	write(t, v, "auth/"+noReviewer+"/config", map[string]any{
		"kubernetes_host": e.Config.Host, "kubernetes_ca_cert": string(e.Config.CAData), "disable_local_ca_jwt": true,
	})
	tests := []struct {
		name, mount, audience string
		ok                    bool
	}{
		// What this package's tests and docs set up.
		{"role with audience vault", withReviewer, "vault", true},
		// Vault reviews the token for its own audiences then, and warns.
		{"role without audience", withReviewer, "", true},
		// A role written for ESO's tokens.
		{"role bound to the API server's audience", withReviewer, apiAudience, false},
		// Vault reviews each login with the login's own token, which the
		// API server accepts only for its own audience.
		{"no reviewer token", noReviewer, "vault", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := fmt.Sprintf("reader-%d", i)
			data := map[string]any{
				"bound_service_account_names":      []string{"eso-reader"},
				"bound_service_account_namespaces": []string{ns},
				"token_policies":                   policy,
			}
			if tt.audience != "" {
				data["audience"] = tt.audience
			}
			write(t, v, "auth/"+tt.mount+"/role/"+role, data)
			s := storeFor(v, func(p *esv1.VaultProvider) {
				p.Auth = &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{Path: tt.mount, Role: role, ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "eso-reader"}}}
			})
			s.Namespace = ns
			c, err := New().NewClient(t.Context(), s, kube)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(t.Context())
				mustRead(t, c.(*client), key, "k8s-aud")
				return
			}
			if err == nil || !strings.Contains(err.Error(), "vault answered 403") {
				t.Fatalf("error %v, want a refused login", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// tokenAudiences reads a JWT's aud claim without checking its signature.
func tokenAudiences(tb testing.TB, jwt string) []string {
	tb.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims struct{ Aud []string }
	if err := json.Unmarshal(b, &claims); err != nil {
		tb.Fatal(err)
	}
	if len(claims.Aud) == 0 {
		tb.Fatal("token has no audience")
	}
	return claims.Aud
}

func TestAuthJWTServiceAccountToken(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	e := testkit.RequireEnv(t, env)
	ns := e.Namespace(t)
	key, policy := seedApp(t, v, "k8s-jwt")
	serviceAccount(t, e, ns, "eso", false)
	// Vault checks the ServiceAccount token's signature offline with the
	// API server's public key: no TokenReview, no RBAC.
	mount := enableAuth(t, v, "jwt")
	issuer, err := e.ServiceAccountIssuerPEM(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	write(t, v, "auth/"+mount+"/config", map[string]any{"jwt_validation_pubkeys": []string{issuer}})
	write(t, v, "auth/"+mount+"/role/eso", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"vault"},
		"bound_subject": "system:serviceaccount:" + ns + ":eso", "token_policies": policy,
	})
	store := storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{JWT: &esv1.VaultJwtAuth{Path: mount, Role: "eso", KubernetesServiceAccountToken: &esv1.VaultKubernetesServiceAccountTokenAuth{
			ServiceAccountRef: esmeta.ServiceAccountSelector{Name: "eso"},
		}}}
	})
	store.Namespace = ns
	// The token is requested for audience "vault", ESO's default, which the
	// role binds.
	mustRead(t, newClient(t, store, envKube{c: e.Client, ns: ns}), key, "k8s-jwt")
}
