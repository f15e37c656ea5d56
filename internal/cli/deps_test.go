package cli_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestKubesealLinksNoController: kubeseal talks to the API server through
// client-go and to the controller over HTTP; it must not link
// controller-runtime or the controller's packages, which would add their
// size, init work and flags to every kubeseal run.
func TestKubesealLinksNoController(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sealsync/sealsync/cmd/kubeseal").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "sigs.k8s.io/controller-runtime"),
			dep == "github.com/sealsync/sealsync/internal/controller",
			dep == "github.com/sealsync/sealsync/internal/keys":
			t.Errorf("kubeseal links %s", dep)
		}
	}
}
