package testkit

import (
	"context"
	"testing"

	"github.com/sealsync/sealsync/internal/devenv"
)

// Vault is a running Vault dev server (see [devenv.Vault]).
type Vault = devenv.Vault

// AppRole is the credentials of one AppRole role (see [devenv.AppRole]).
type AppRole = devenv.AppRole

// AuditRequest is one request a Vault file audit device recorded.
type AuditRequest = devenv.AuditRequest

// AuditLog is the requests of a file audit log, oldest first.
type AuditLog = devenv.AuditLog

// StartVault starts a dev server on a free loopback port and waits until it
// is healthy. Call it from TestMain (checking testing.Short first) and stop
// the server with [Vault.Stop]; tests reach it through [RequireVault]. A Vault
// that cannot be built or started is an error, never a reason to skip.
func StartVault(ctx context.Context) (*Vault, error) { return devenv.StartVault(ctx) }

// ReadAuditLog parses the JSON lines a file audit device wrote to path and
// returns its requests (see [devenv.ReadAuditLog]).
func ReadAuditLog(path string) (AuditLog, error) { return devenv.ReadAuditLog(path) }

// NewVault starts a dev server for one test and stops it when the test
// ends. Under -short it skips the test; otherwise a missing Vault fails it.
// Prefer one server per package from TestMain ([StartVault]) and use this
// for tests that take the server down.
func NewVault(tb testing.TB) *Vault {
	tb.Helper()
	Tool(tb, "vault", "vault")
	v, err := devenv.StartVault(tb.Context())
	if err != nil {
		tb.Fatalf("start vault: %v", err)
	}
	tb.Cleanup(func() {
		if err := v.Stop(); err != nil {
			tb.Errorf("stop vault: %v", err)
		}
	})
	return v
}

// RequireVault skips the test under -short and fails it if TestMain did not
// start v.
func RequireVault(tb testing.TB, v *Vault) *Vault {
	tb.Helper()
	SkipIfShort(tb, "a Vault dev server")
	if v == nil {
		tb.Fatal("vault is not running: start it in TestMain with testkit.StartVault")
	}
	return v
}
