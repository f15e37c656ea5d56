// Package testkit gives tests the real parts they run against: the tools
// built by hack/tools.sh (Bitnami kubeseal, sops, age, the envtest control
// plane, Vault), one envtest API server per test package and Vault dev
// servers ([StartVault], [NewVault]), with helpers that fail or skip the
// test, and the canaries that leak checks look for.
//
// The parts themselves live in internal/devenv, which returns errors and
// never imports testing; programs that are not tests (hack/demo,
// test/bench) use that package, never this one.
//
// # Missing tools fail, never skip
//
// Integration tests fail when a tool cannot be built or found. Only
// `go test -short` skips them, without building anything.
package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealsync/sealsync/internal/devenv"
)

// RepoRoot returns the folder holding the module's go.mod.
func RepoRoot() (string, error) { return devenv.RepoRoot() }

// LookupToolDir returns the folder holding the named tool's binaries,
// building the tool with hack/tools.sh when the cache lacks it.
func LookupToolDir(name string) (string, error) { return devenv.LookupToolDir(name) }

// Tool returns the path of binary bin of the named tool (see
// hack/tools.sh). Under -short it skips the test; otherwise a tool that
// cannot be built fails it.
func Tool(tb testing.TB, tool, bin string) string {
	tb.Helper()
	SkipIfShort(tb, tool)
	d, err := devenv.LookupToolDir(tool)
	if err != nil {
		tb.Fatalf("required tool %s is missing: %v", tool, err)
	}
	p := filepath.Join(d, bin)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("required tool %s has no %s: %v", tool, bin, err)
	}
	return p
}

// SkipIfShort skips an integration test under -short.
func SkipIfShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("integration test needing %s: skipped with -short", what)
	}
}
