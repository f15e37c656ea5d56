package keybackup

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure: the package links nothing of sealsync but crypto and the key
// Secret codec, and neither a Kubernetes client nor the scheme machinery
// of YAML manifests, so that kubeseal's offline paths and other programs
// can use it without them.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/sealsync/sealsync/crypto":                  true,
		"github.com/sealsync/sealsync/internal/keys/keysecret": true,
		"github.com/sealsync/sealsync/keybackup":               true,
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/sealsync/sealsync/") && !allowed[dep],
			strings.HasPrefix(dep, "k8s.io/client-go/"),
			strings.HasPrefix(dep, "sigs.k8s.io/controller-runtime/"):
			t.Errorf("keybackup depends on %s", dep)
		}
	}
}
