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
// test (make demo, the benchmarks) link neither package testing, whose
// flags and helpers have no place in a product, nor internal/testkit. A
// package that starts importing testing outside a _test.go file, or a
// program that takes a testkit helper instead of a devenv one, fails
// here. The programs come from the operator's checkout, nothing from a
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
	forbidden := []string{"testing", "github.com/sealsync/sealsync/internal/testkit"}
	for _, program := range []string{"./cmd/controller", "./cmd/kubeseal", "./hack/demo", "./test/bench"} {
		t.Run(program, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", program)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", program, err, stderrOf(err))
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, "github.com/sealsync/sealsync/internal/manifest") {
				t.Fatalf("go list -deps %s lists %d packages without sealsync's own: not the program meant", program, len(deps))
			}
			for _, pkg := range forbidden {
				if slices.Contains(deps, pkg) {
					t.Errorf("%s links %s; its importers: go list -deps -f '{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}' %s | grep -E ' %s( |$)'", program, pkg, program, pkg)
				}
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
