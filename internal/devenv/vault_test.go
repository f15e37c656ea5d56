package devenv_test

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/sealsync/sealsync/internal/devenv"
	"github.com/sealsync/sealsync/internal/testkit"
)

// vault is the package's shared dev server; nil under -short.
var vault *devenv.Vault

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	v, err := devenv.StartVault(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "devenv: %v\n", err)
		os.Exit(1)
	}
	vault = v
	code := m.Run()
	if err := v.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "devenv: stop vault: %v\n", err)
	}
	os.Exit(code)
}

func TestVaultKVv2(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	kv := v.Client.KVv2("secret")
	// A path per run: the server is shared across tests and -count runs.
	p := "kv2-" + randomSuffix() + "/app"
	if _, err := kv.Put(ctx, p, map[string]any{"password": "p-v2"}); err != nil {
		t.Fatalf("put: %v", err)
	}
	s, err := kv.Get(ctx, p)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if s.Data["password"] != "p-v2" || s.VersionMetadata.Version != 1 {
		t.Fatalf("read back a different secret (version %d)", s.VersionMetadata.Version)
	}
	// A fresh KV v2 mount takes requests as soon as MountKV returns.
	mount := "kv2-" + randomSuffix()
	if err := v.MountKV(ctx, mount, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Client.KVv2(mount).Put(ctx, "app", map[string]any{"password": "p"}); err != nil {
		t.Fatalf("put right after mounting: %v", err)
	}
}

func TestVaultKVv1(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	mount := "kv1-" + randomSuffix()
	if err := v.MountKV(ctx, mount, 1); err != nil {
		t.Fatal(err)
	}
	mounts, err := v.Client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := mounts[mount+"/"]; m == nil || m.Type != "kv" || m.Options["version"] != "1" {
		t.Fatalf("mount %s is not KV version 1: %+v", mount, m)
	}
	kv := v.Client.KVv1(mount)
	if err := kv.Put(ctx, "app", map[string]any{"password": "p-v1"}); err != nil {
		t.Fatalf("put: %v", err)
	}
	// KV v1 has no data/ prefix: a plain logical read sees the fields.
	s, err := v.Client.Logical().ReadWithContext(ctx, mount+"/app")
	if err != nil || s == nil {
		t.Fatalf("read: %v", err)
	}
	if s.Data["password"] != "p-v1" {
		t.Fatal("read back a different secret")
	}
}

func TestVaultAppRole(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	ctx := t.Context()
	role := "r-" + randomSuffix()
	writeReadPolicy(t, v, role, "secret/data/"+role+"/*")
	if _, err := v.Client.KVv2("secret").Put(ctx, role+"/app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	ar, err := v.CreateAppRole(ctx, role, role)
	if err != nil {
		t.Fatal(err)
	}
	c := login(t, v, ar)
	if _, err := c.KVv2("secret").Get(ctx, role+"/app"); err != nil {
		t.Fatalf("read with the role's token: %v", err)
	}
	if _, err := v.Client.KVv2("secret").Put(ctx, role+"-other/app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Get(ctx, role+"-other/app"); err == nil {
		t.Fatal("the role read outside its policy")
	}
	// A second role on the same server reuses the enabled auth method.
	if _, err := v.CreateAppRole(ctx, role+"-2", role); err != nil {
		t.Fatal(err)
	}
}

func TestVaultAuditCountsLoginsAndReads(t *testing.T) {
	// Its own server: the shared one's audit device would see other tests.
	v := testkit.NewVault(t)
	ctx := t.Context()
	auditLog := filepath.Join(v.Dir, "audit.log")
	if err := v.EnableFileAudit(ctx, auditLog); err != nil {
		t.Fatal(err)
	}
	writeReadPolicy(t, v, "reader", "secret/data/app")
	if _, err := v.Client.KVv2("secret").Put(ctx, "app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	ar, err := v.CreateAppRole(ctx, "reader", "reader")
	if err != nil {
		t.Fatal(err)
	}
	c := login(t, v, ar)
	const reads = 5
	for range reads {
		if _, err := c.KVv2("secret").Get(ctx, "app"); err != nil {
			t.Fatal(err)
		}
	}
	log, err := devenv.ReadAuditLog(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.Logins(); got != 1 {
		t.Errorf("logins = %d, want 1; audit log:\n%s", got, log)
	}
	if got := log.Count("read", "secret/data/app"); got != reads {
		t.Errorf("reads of secret/data/app = %d, want %d; audit log:\n%s", got, reads, log)
	}
	// The first write of a KV path is a create, not an update.
	if got := log.Count("create", "secret/data/app"); got != 1 {
		t.Errorf("creates of secret/data/app = %d, want 1; audit log:\n%s", got, log)
	}
}

func TestVaultRestartKeepsAddressAndToken(t *testing.T) {
	v := testkit.NewVault(t)
	ctx := t.Context()
	kv := v.Client.KVv2("secret")
	if _, err := kv.Put(ctx, "app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	addr := v.Addr
	if err := v.Kill(); err != nil {
		t.Fatal(err)
	}
	down := v.Client.CloneConfig()
	down.MaxRetries = 0
	dc, err := vaultapi.NewClient(down)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Sys().HealthWithContext(ctx); err == nil {
		t.Fatal("vault still answers after Kill")
	}
	if err := v.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	if err := v.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if v.Addr != addr {
		t.Fatalf("restarted on %s, want %s", v.Addr, addr)
	}
	// The same client and root token work; the data did not survive.
	if _, err := v.Client.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatalf("root token after restart: %v", err)
	}
	if _, err := kv.Get(ctx, "app"); err == nil {
		t.Fatal("a dev server kept data across a restart")
	}
	if _, err := kv.Put(ctx, "app", map[string]any{"k": "v"}); err != nil {
		t.Fatalf("re-seed after restart: %v", err)
	}
	if err := v.Restart(ctx); err != nil {
		t.Fatalf("restart of a running server: %v", err)
	}
}

func TestAuditLogCount(t *testing.T) {
	log := devenv.AuditLog{
		{Operation: "update", Path: "auth/approle/login"},
		{Operation: "update", Path: "auth/kubernetes/login"},
		{Operation: "read", Path: "secret/data/app"},
		{Operation: "read", Path: "secret/data/app"},
		{Operation: "read", Path: "secret/data/other"},
		{Operation: "update", Path: "secret/data/app"},
		{Operation: "read", Path: "auth/approle/role/x/role-id"},
	}
	for _, tc := range []struct {
		name, op, pattern string
		want              int
	}{
		{"logins of every mount", "update", "auth/*/login", 2},
		{"reads of one path", "read", "secret/data/app", 2},
		{"any operation", "", "secret/data/app", 3},
		{"glob stays in one segment", "read", "secret/*", 0},
		{"glob over names", "read", "secret/data/*", 3},
		{"no match", "delete", "secret/data/app", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := log.Count(tc.op, tc.pattern); got != tc.want {
				t.Errorf("Count(%q, %q) = %d, want %d", tc.op, tc.pattern, got, tc.want)
			}
		})
	}
	if got := log.Logins(); got != 2 {
		t.Errorf("Logins() = %d, want 2", got)
	}
}

func TestReadAuditLogSkipsResponses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	lines := `{"time":"2024-05-01T10:00:00.123456789Z","type":"request","request":{"operation":"update","path":"auth/approle/login"}}
{"time":"2024-05-01T10:00:00.2Z","type":"response","request":{"operation":"update","path":"auth/approle/login"},"response":{}}
{"time":"2024-05-01T10:00:01Z","type":"request","request":{"operation":"read","path":"secret/data/app"}}
`
	if err := os.WriteFile(p, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := devenv.ReadAuditLog(p)
	if err != nil {
		t.Fatal(err)
	}
	login := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	read := time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC)
	want := devenv.AuditLog{
		{Operation: "update", Path: "auth/approle/login", Time: login},
		{Operation: "read", Path: "secret/data/app", Time: read},
	}
	if !slices.EqualFunc(log, want, func(a, b devenv.AuditRequest) bool {
		return a.Operation == b.Operation && a.Path == b.Path && a.Time.Equal(b.Time)
	}) {
		t.Fatalf("ReadAuditLog =\n%s\nwant\n%s", log, want)
	}
	if got := log.Between(login, read); len(got) != 1 || got[0].Path != "auth/approle/login" {
		t.Fatalf("Between(login, read) = %v, want the login alone", got)
	}
	if err := os.WriteFile(p, []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.ReadAuditLog(p); err == nil {
		t.Fatal("ReadAuditLog accepted a line that is not JSON")
	}
}

// writeReadPolicy writes a policy named name allowing reads of pathGlob.
func writeReadPolicy(t *testing.T, v *devenv.Vault, name, pathGlob string) {
	t.Helper()
	hcl := fmt.Sprintf("path %q { capabilities = [\"read\"] }\n", pathGlob)
	if err := v.Client.Sys().PutPolicyWithContext(t.Context(), name, hcl); err != nil {
		t.Fatalf("write policy %s: %v", name, err)
	}
}

// login logs in with ar and returns a client holding the resulting token.
func login(t *testing.T, v *devenv.Vault, ar devenv.AppRole) *vaultapi.Client {
	t.Helper()
	c, err := v.Client.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	s, err := c.Logical().WriteWithContext(t.Context(), "auth/"+ar.Mount+"/login", map[string]any{
		"role_id": ar.RoleID, "secret_id": ar.SecretID,
	})
	if err != nil || s == nil || s.Auth == nil {
		t.Fatalf("approle login: %v", err)
	}
	c.SetToken(s.Auth.ClientToken)
	return c
}

// randomSuffix returns 8 random characters for names that must not repeat
// across tests and -count runs on a shared server.
func randomSuffix() string { return strings.ToLower(rand.Text()[:8]) }
