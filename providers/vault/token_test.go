package vault

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
)

// appRoleClient creates an AppRole role with the given token settings on
// a fresh approle mount and returns a client logged in with it, and the
// mount's login path for counting logins.
func appRoleClient(tb testing.TB, v *testkit.Vault, policy string, role map[string]any) (*client, string) {
	tb.Helper()
	ctx := tb.Context()
	mount := enableAuth(tb, v, "approle")
	role["token_policies"] = policy
	write(tb, v, "auth/"+mount+"/role/eso", role)
	rid, err := v.Client.Logical().ReadWithContext(ctx, "auth/"+mount+"/role/eso/role-id")
	if err != nil {
		tb.Fatal(err)
	}
	sid := write(tb, v, "auth/"+mount+"/role/eso/secret-id", nil)
	kube := newMapKube()
	kube.setSecret("approle", "secret-id", sid.Data["secret_id"].(string))
	c := newClient(tb, storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{Path: mount, RoleID: rid.Data["role_id"].(string), SecretRef: sel("approle", "secret-id")}}
	}), kube)
	return c, "auth/" + mount + "/login"
}

func TestTokenRenewal(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	key, policy := seedApp(t, v, "renew")
	// A 12 s lease is renewed once less than 4 s are left.
	c, login := appRoleClient(t, v, policy, map[string]any{"token_ttl": "12s", "token_max_ttl": "10m"})
	before := auditLog(t)
	mustRead(t, c, key, "renew")
	time.Sleep(8500 * time.Millisecond)
	mustRead(t, c, key, "renew") // renews first
	// Past the first lease: only the renewal keeps the token alive.
	time.Sleep(5 * time.Second)
	mustRead(t, c, key, "renew")
	log := auditSince(t, before)
	logins, renewals := log.Count("update", login), log.Count("update", "auth/token/renew-self")
	t.Logf("3 reads over 13.5 s with a 12 s lease: %d logins, %d renewals", logins, renewals)
	if logins != 0 || renewals != 1 {
		t.Errorf("%d logins and %d renewals after NewClient, want 0 and 1:\n%s", logins, renewals, log)
	}
}

func TestTokenNearMaxTTL(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	key, policy := seedApp(t, v, "max")
	// Renewal is tried after 4 s, but the max TTL caps it at what is left
	// (about 2 s), no more than a third of the lease: log in again.
	c, login := appRoleClient(t, v, policy, map[string]any{"token_ttl": "6s", "token_max_ttl": "6s"})
	first := currentToken(c)
	before := auditLog(t)
	time.Sleep(4200 * time.Millisecond)
	mustRead(t, c, key, "max")
	log := auditSince(t, before)
	if logins := log.Count("update", login); logins != 1 || currentToken(c) == first {
		t.Errorf("%d logins, want 1 and a new token:\n%s", logins, log)
	}
}

func TestReloginAfterRevoke(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	key, policy := seedApp(t, v, "revoked")
	c, login := appRoleClient(t, v, policy, map[string]any{"token_ttl": "1h"})
	mustRead(t, c, key, "revoked")

	before := auditLog(t)
	if err := v.Client.Auth().Token().RevokeOrphanWithContext(ctx, currentToken(c)); err != nil {
		t.Fatal(err)
	}
	mustRead(t, c, key, "revoked")
	log := auditSince(t, before)
	if n := log.Count("update", login); n != 1 {
		t.Errorf("%d logins after an out-of-band revocation, want 1:\n%s", n, log)
	}

	t.Run("concurrent callers share one login", func(t *testing.T) {
		if err := v.Client.Auth().Token().RevokeOrphanWithContext(ctx, currentToken(c)); err != nil {
			t.Fatal(err)
		}
		before := auditLog(t)
		const callers = 16
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				_, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: key, Property: "password"})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		log := auditSince(t, before)
		if n := log.Count("update", login); n != 1 {
			t.Errorf("%d logins for %d concurrent callers with a revoked token, want 1:\n%s", n, callers, log)
		}
	})

	t.Run("concurrent callers share one renewal", func(t *testing.T) {
		// Make the token look stale to every caller at once.
		c.session.now = func() time.Time { return time.Now().Add(50 * time.Minute) }
		defer func() { c.session.now = time.Now }()
		before := auditLog(t)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: key}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		log := auditSince(t, before)
		if logins, renewals := log.Count("update", login), log.Count("update", "auth/token/renew-self"); logins != 0 || renewals != 1 {
			t.Errorf("%d logins and %d renewals, want 0 and 1:\n%s", logins, renewals, log)
		}
	})
}

func TestPolicyDenialCostsNoLogin(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	key, policy := seedApp(t, v, "allowed")
	other, _ := seedApp(t, v, "denied")
	c, login := appRoleClient(t, v, policy, map[string]any{"token_ttl": "1h"})
	before := auditLog(t)
	_, err := c.GetSecret(t.Context(), esv1.ExternalSecretDataRemoteRef{Key: other})
	if err == nil || !strings.Contains(err.Error(), "vault answered 403: permission denied") || errors.Is(err, providers.ErrSecretNotFound) {
		t.Fatalf("read outside the policy: error %v", err)
	}
	if n := auditSince(t, before).Count("update", login); n != 0 {
		t.Errorf("a denied read cost %d logins", n)
	}
	mustRead(t, c, key, "allowed")
}

func TestGivenTokenRotated(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	key, policy := seedApp(t, v, "rotated")
	newToken := func() string {
		s, err := v.Client.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{policy}})
		if err != nil {
			t.Fatal(err)
		}
		return s.Auth.ClientToken
	}
	kube := newMapKube()
	old := newToken()
	kube.setSecret("vault-token", "token", old)
	c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{TokenSecretRef: ptr(sel("vault-token", "token"))}
	}), kube)
	mustRead(t, c, key, "rotated")
	// The operator rotates the token: the old one is revoked, the Secret
	// updated. The client picks the new one up on the 403.
	if err := v.Client.Auth().Token().RevokeOrphanWithContext(ctx, old); err != nil {
		t.Fatal(err)
	}
	kube.setSecret("vault-token", "token", newToken())
	mustRead(t, c, key, "rotated")
}

func TestVaultRestart(t *testing.T) {
	v := testkit.NewVault(t) // its own server: this test takes it down
	ctx := t.Context()
	seed := func() {
		t.Helper()
		if err := v.Client.Sys().EnableAuthWithOptionsWithContext(ctx, "userpass", &vaultapi.EnableAuthOptions{Type: "userpass"}); err != nil {
			t.Fatal(err)
		}
		if err := v.Client.Sys().PutPolicyWithContext(ctx, "reader", `path "secret/data/app" { capabilities = ["read"] }`); err != nil {
			t.Fatal(err)
		}
		write(t, v, "auth/userpass/users/eso", map[string]any{"password": "pw", "token_policies": "reader"})
		putV2(t, v, "secret", "app", map[string]any{"password": "before"})
	}
	seed()
	kube := newMapKube()
	kube.setSecret("eso", "password", "pw")
	store := storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{UserPass: &esv1.VaultUserPassAuth{Username: "eso", SecretRef: ptr(sel("eso", "password"))}}
	})
	store.Spec.RetrySettings = &esv1.SecretStoreRetrySettings{MaxRetries: ptr(int32(0))}
	c := newClient(t, store, kube)
	mustRead(t, c, "app", "before")

	if err := v.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "app", Property: "password"})
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, providers.ErrSecretNotFound) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("GetSecret with Vault down: error %v, want ErrUnreachable naming the refused connection", err)
	}
	t.Logf("with Vault down: %v", err)

	if err := v.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	seed() // a dev server forgets everything, the client's token too
	putV2(t, v, "secret", "app", map[string]any{"password": "after"})
	mustRead(t, c, "app", "after")
}
