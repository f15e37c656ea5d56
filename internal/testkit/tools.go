// Package testkit gives tests the real parts they run against: the tools
// built by hack/tools.sh (Bitnami kubeseal, sops, age, the envtest control
// plane, Vault), one envtest API server per test package and Vault dev
// servers ([StartVault], [NewVault]).
//
// # Missing tools fail, never skip
//
// Integration tests fail when a tool cannot be built or found. Only
// `go test -short` skips them, without building anything.
package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	toolMu   sync.Mutex
	toolDirs = map[string]string{}
)

// RepoRoot returns the folder holding the module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testkit: no go.mod above the working directory")
		}
		dir = parent
	}
}

// LookupToolDir returns the folder holding the named tool's binaries,
// building the tool with hack/tools.sh when the cache lacks it.
func LookupToolDir(name string) (string, error) {
	toolMu.Lock()
	defer toolMu.Unlock()
	if d, ok := toolDirs[name]; ok {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, "hack", "tools.sh"), "--print-dir", name)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("testkit: hack/tools.sh --print-dir %s: %w\n%s", name, err, stderr.String())
	}
	d := strings.TrimSpace(string(out))
	toolDirs[name] = d
	return d, nil
}

// Tool returns the path of binary bin of the named tool (see
// hack/tools.sh). Under -short it skips the test; otherwise a tool that
// cannot be built fails it.
func Tool(tb testing.TB, tool, bin string) string {
	tb.Helper()
	SkipIfShort(tb, tool)
	d, err := LookupToolDir(tool)
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
