package devenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
			return "", fmt.Errorf("devenv: no go.mod above the working directory")
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
		return "", fmt.Errorf("devenv: hack/tools.sh --print-dir %s: %w\n%s", name, err, stderr.String())
	}
	d := strings.TrimSpace(string(out))
	toolDirs[name] = d
	return d, nil
}
