package vault

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/testkit"
)

// seedApp writes secret/<dir>/app = {password: pw} on the dev server's KV
// v2 mount and returns a policy reading it.
func seedApp(tb testing.TB, v *testkit.Vault, pw string) (key, policy string) {
	tb.Helper()
	key = "auth-" + suffix(tb) + "/app"
	putV2(tb, v, "secret", key, map[string]any{"password": pw})
	return key, writePolicy(tb, v, "secret/data/"+key)
}

// enableAuth enables an auth method of type typ at a fresh mount and
// returns the mount.
func enableAuth(tb testing.TB, v *testkit.Vault, typ string) string {
	tb.Helper()
	mount := typ + "-" + suffix(tb)
	if err := v.Client.Sys().EnableAuthWithOptionsWithContext(tb.Context(), mount, &vaultapi.EnableAuthOptions{Type: typ}); err != nil {
		tb.Fatal(err)
	}
	return mount
}

func write(tb testing.TB, v *testkit.Vault, path string, data map[string]any) *vaultapi.Secret {
	tb.Helper()
	s, err := v.Client.Logical().WriteWithContext(tb.Context(), path, data)
	if err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
	return s
}

// mustRead reads key's password through c.
func mustRead(tb testing.TB, c *client, key, want string) {
	tb.Helper()
	b, err := c.GetSecret(tb.Context(), esv1.ExternalSecretDataRemoteRef{Key: key, Property: "password"})
	if err != nil || string(b) != want {
		tb.Fatalf("GetSecret(%s) = %q, %v; want %q", key, b, err, want)
	}
}

// tokenAlive reports whether the root token can still look up id.
func tokenAlive(tb testing.TB, v *testkit.Vault, id string) bool {
	tb.Helper()
	_, err := v.Client.Auth().Token().LookupWithContext(tb.Context(), id)
	return err == nil
}

func currentToken(c *client) string {
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	return c.session.tok.id
}

func TestAuthToken(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	key, policy := seedApp(t, v, "tok")
	tok, err := v.Client.Auth().Token().CreateWithContext(t.Context(), &vaultapi.TokenCreateRequest{Policies: []string{policy}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	kube := newMapKube()
	// ESO's example Secret holds the token with no trailing newline; one
	// made with echo has it.
	kube.setSecret("vault-token", "token", tok.Auth.ClientToken+"\n")
	store := storeFor(v, func(p *esv1.VaultProvider) {
		p.Version = "v2"
		p.Auth = &esv1.VaultAuth{TokenSecretRef: ptr(sel("vault-token", "token"))}
	})
	before := auditLog(t)
	pc, err := New().NewClient(t.Context(), store, kube)
	if err != nil {
		t.Fatal(err)
	}
	c := pc.(*client)
	mustRead(t, c, key, "tok")
	if err := c.Validate(t.Context()); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !tokenAlive(t, v, tok.Auth.ClientToken) {
		t.Error("Close revoked a token the client was given")
	}
	log := auditSince(t, before)
	if n := log.Count("", "auth/token/revoke*"); n != 0 {
		t.Errorf("%d revocations of a given token:\n%s", n, log)
	}
	if _, err := c.GetSecret(t.Context(), esv1.ExternalSecretDataRemoteRef{Key: key}); err == nil {
		t.Error("GetSecret after Close succeeded")
	}
}

func TestAuthAppRole(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	key, policy := seedApp(t, v, "ar")
	role := "eso-" + suffix(t)
	ar, err := v.CreateAppRole(ctx, role, policy)
	if err != nil {
		t.Fatal(err)
	}
	kube := newMapKube()
	kube.setSecret("approle", "secret-id", ar.SecretID)
	kube.setSecret("approle", "role-id", ar.RoleID)

	t.Run("roleId, many reads, one login", func(t *testing.T) {
		before := auditLog(t)
		c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) {
			p.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{RoleID: ar.RoleID, SecretRef: sel("approle", "secret-id")}}
		}), kube)
		const n = 25
		for range n {
			mustRead(t, c, key, "ar")
		}
		if err := c.Validate(ctx); err != nil {
			t.Errorf("Validate: %v", err)
		}
		log := auditSince(t, before)
		if got := log.Count("update", "auth/approle/login"); got != 1 {
			t.Errorf("%d logins for %d reads, want 1:\n%s", got, n, log)
		}
		if got := log.Count("read", "secret/data/"+key); got != n {
			t.Errorf("%d reads, want %d:\n%s", got, n, log)
		}
		t.Logf("%d GetSecret calls: %d login, %d reads", n, log.Count("update", "auth/approle/login"), log.Count("read", "secret/data/"+key))

		tok := currentToken(c)
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if tokenAlive(t, v, tok) {
			t.Error("Close left the client's own token alive")
		}
	})

	t.Run("roleRef and custom path", func(t *testing.T) {
		c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) {
			p.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{Path: "/approle/", RoleRef: ptr(sel("approle", "role-id")), SecretRef: sel("approle", "secret-id")}}
		}), kube)
		mustRead(t, c, key, "ar")
	})

	t.Run("wrong secret id", func(t *testing.T) {
		kube.setSecret("approle-bad", "secret-id", "00000000-0000-0000-0000-000000000000")
		_, err := New().NewClient(ctx, storeFor(v, func(p *esv1.VaultProvider) {
			p.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{RoleID: ar.RoleID, SecretRef: sel("approle-bad", "secret-id")}}
		}), kube)
		if err == nil || !strings.Contains(err.Error(), "log in with approle at auth/approle") || strings.Contains(err.Error(), "00000000-0000") {
			t.Errorf("error %v, want a login error without the secret id", err)
		}
	})
}

func TestAuthUserPass(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	key, policy := seedApp(t, v, "up")
	mount := enableAuth(t, v, "userpass")
	write(t, v, "auth/"+mount+"/users/alice", map[string]any{"password": " pass word ", "token_policies": policy})
	kube := newMapKube()
	kube.setSecret("alice", "password", " pass word ") // kept verbatim
	before := auditLog(t)
	c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{UserPass: &esv1.VaultUserPassAuth{Path: mount, Username: "alice", SecretRef: ptr(sel("alice", "password"))}}
	}), kube)
	for range 5 {
		mustRead(t, c, key, "up")
	}
	if got := auditSince(t, before).Count("update", "auth/"+mount+"/login/alice"); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}

	kube.setSecret("mallory", "password", "wrong")
	_, err := New().NewClient(t.Context(), storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{UserPass: &esv1.VaultUserPassAuth{Path: mount, Username: "alice", SecretRef: ptr(sel("mallory", "password"))}}
	}), kube)
	if err == nil || !strings.Contains(err.Error(), "vault answered 400") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad password: error %v", err)
	}
}

// rsaJWT signs claims with RS256.
func rsaJWT(tb testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	tb.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func publicPEM(tb testing.TB, pub any) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestAuthJWT(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	key, policy := seedApp(t, v, "jwt")
	signer, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mount := enableAuth(t, v, "jwt")
	write(t, v, "auth/"+mount+"/config", map[string]any{"jwt_validation_pubkeys": []string{publicPEM(t, &signer.PublicKey)}})
	write(t, v, "auth/"+mount+"/role/reader", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"vault"},
		"bound_subject": "ci", "token_policies": policy,
	})
	write(t, v, "auth/"+mount+"/role/default", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"vault"}, "token_policies": policy,
	})
	now := time.Now()
	jwt := func(sub string) string {
		return rsaJWT(t, signer, map[string]any{
			"sub": sub, "aud": "vault", "iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		})
	}
	kube := newMapKube()
	kube.setSecret("ci-jwt", "jwt", jwt("ci"))
	kube.setSecret("other-jwt", "jwt", jwt("someone-else"))
	store := func(role, secret string) *esv1.VaultJwtAuth {
		return &esv1.VaultJwtAuth{Path: mount, Role: role, SecretRef: ptr(sel(secret, "jwt"))}
	}

	before := auditLog(t)
	c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) { p.Auth = &esv1.VaultAuth{JWT: store("reader", "ci-jwt")} }), kube)
	for range 5 {
		mustRead(t, c, key, "jwt")
	}
	if got := auditSince(t, before).Count("update", "auth/"+mount+"/login"); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}

	// No role: Vault uses the mount's default_role, as ESO's docs allow.
	write(t, v, "auth/"+mount+"/config", map[string]any{
		"jwt_validation_pubkeys": []string{publicPEM(t, &signer.PublicKey)}, "default_role": "default",
	})
	mustRead(t, newClient(t, storeFor(v, func(p *esv1.VaultProvider) { p.Auth = &esv1.VaultAuth{JWT: store("", "ci-jwt")} }), kube), key, "jwt")

	_, err = New().NewClient(t.Context(), storeFor(v, func(p *esv1.VaultProvider) { p.Auth = &esv1.VaultAuth{JWT: store("reader", "other-jwt")} }), kube)
	if err == nil || !strings.Contains(err.Error(), "log in with jwt") || strings.Contains(err.Error(), jwt("someone-else")[:40]) {
		t.Errorf("JWT with the wrong subject: error %v", err)
	}
}

func TestUnsupportedAuth(t *testing.T) {
	_, err := New().NewClient(context.Background(), vaultStore(func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{GCP: &esv1.VaultGCPAuth{Role: "r"}}
	}), newMapKube())
	if err == nil || !strings.Contains(err.Error(), "auth.gcp is not supported") {
		t.Fatalf("error %v", err)
	}
}

func TestAuthLDAPReachesVault(t *testing.T) {
	// No LDAP server here: the login fails inside Vault's ldap method,
	// which proves the request's path and shape, not the bind.
	v := testkit.RequireVault(t, vault)
	mount := enableAuth(t, v, "ldap")
	kube := newMapKube()
	kube.setSecret("ldap", "password", "hunter2")
	before := auditLog(t)
	_, err := New().NewClient(t.Context(), storeFor(v, func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{LDAP: &esv1.VaultLdapAuth{Path: mount, Username: "bob", SecretRef: ptr(sel("ldap", "password"))}}
	}), kube)
	if err == nil || !strings.Contains(err.Error(), "log in with ldap at auth/"+mount) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
	if n := auditSince(t, before).Count("update", "auth/"+mount+"/login/bob"); n != 1 {
		t.Errorf("%d ldap logins reached Vault, want 1", n)
	}
}

// TestIdentity: clients logging in with the same role, even with different
// secret IDs, have the same rights and so the same identity; another role,
// or another KV layout, does not.
func TestIdentity(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	_, policy := seedApp(t, v, "id")
	_, otherPolicy := seedApp(t, v, "id-other")
	role, other := "id-"+suffix(t), "id-other-"+suffix(t)
	a, err := v.CreateAppRole(ctx, role, policy)
	if err != nil {
		t.Fatal(err)
	}
	b := write(t, v, "auth/approle/role/"+role+"/secret-id", nil).Data["secret_id"].(string)
	o, err := v.CreateAppRole(ctx, other, otherPolicy)
	if err != nil {
		t.Fatal(err)
	}
	kube := newMapKube()
	kube.setSecret("ns-a", "secret-id", a.SecretID)
	kube.setSecret("ns-b", "secret-id", b)
	kube.setSecret("ns-o", "secret-id", o.SecretID)
	login := func(roleID, secret string, edit func(*esv1.VaultProvider)) string {
		c := newClient(t, storeFor(v, func(p *esv1.VaultProvider) {
			p.Auth = &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{RoleID: roleID, SecretRef: sel(secret, "secret-id")}}
			if edit != nil {
				edit(p)
			}
		}), kube)
		id := c.Identity()
		if id == "" {
			t.Fatal("no identity")
		}
		return id
	}
	idA := login(a.RoleID, "ns-a", nil)
	if idB := login(a.RoleID, "ns-b", nil); idB != idA {
		t.Error("two secret IDs of one role have different identities")
	}
	if idO := login(o.RoleID, "ns-o", nil); idO == idA {
		t.Error("another role with other policies has the same identity")
	}
	if idV1 := login(a.RoleID, "ns-a", func(p *esv1.VaultProvider) { p.Version = "v1" }); idV1 == idA {
		t.Error("another KV layout has the same identity")
	}
}
