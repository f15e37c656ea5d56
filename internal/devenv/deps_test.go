package devenv_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/sealsync/sealsync/internal/devenv"
)

// TestProgramsDoNotLinkTesting checks what this package exists for: the
// binaries we ship and the programs that start the real parts outside a
// test (make demo, the benchmarks) have no package of ours that imports
// package testing, whose flags and helpers have no place in a product, or
// internal/testkit. A package of ours that starts importing testing
// outside a _test.go file, or a program that takes a testkit helper
// instead of a devenv one, fails here. (Libraries we link may import
// testing themselves; that is theirs.) The programs come from the operator's checkout, nothing from a
// tenant. go list only reads the sources; it needs no tool from
// hack/tools.sh, so this runs under -short too.
func TestProgramsDoNotLinkTesting(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is required: %v", err)
	}
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/sealsync/sealsync"
	for _, program := range []string{"./cmd/controller", "./cmd/kubeseal", "./hack/demo", "./test/bench"} {
		t.Run(program, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, program)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", program, err, stderrOf(err))
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			own := 0
			for _, line := range lines {
				pkg, imports, _ := strings.Cut(line, ":")
				if !strings.HasPrefix(pkg, module+"/") {
					// Libraries may import testing for helpers of their own
					// (sops' age package, Helm's version package): not ours
					// to change, and no flag of theirs is registered by it.
					continue
				}
				own++
				for _, imp := range strings.Fields(imports) {
					if imp == "testing" || imp == module+"/internal/testkit" {
						t.Errorf("%s links %s through %s", program, imp, pkg)
					}
				}
			}
			if own == 0 || !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, module+"/internal/manifest:") }) {
				t.Fatalf("go list -deps %s lists %d packages without sealsync's own: not the program meant", program, len(lines))
			}
		})
	}
}

// stderrOf returns what a failed command wrote to stderr.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
