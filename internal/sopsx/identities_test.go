package sopsx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sealsync/sealsync/internal/testkit"
)

// The keys folder is operator input; the project name is Argo CD's
// (ARGOCD_APP_PROJECT_NAME), checked here as if a tenant had forged it.
func TestLoadIdentities(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gen := func() string {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		return id.String()
	}
	write("two-files/a.txt", "# created by age-keygen\n"+gen()+"\n")
	write("two-files/b.txt", gen()+"\n"+gen()+"\n")
	write("two-files/README.md", "not a key file")
	write("two-files/..data/c.txt", gen()) // Kubernetes' mount internals: not read
	canary := testkit.Canary()
	write("broken/key.txt", "AGE-SECRET-KEY-1"+strings.ToUpper(canary)+"\n")
	write("recipient/key.txt", "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\n")
	write("empty/keep", "")
	write("secret-outside.txt", gen())

	for _, tc := range []struct {
		name    string
		project string
		want    int
		wantErr error
		errText string
	}{
		{name: "operator gave two files", project: "two-files", want: 3},
		{name: "project without a folder has no keys", project: "unknown", want: 0},
		{name: "project with an empty folder has no keys", project: "empty", want: 0},
		{name: "operator file with a broken key", project: "broken", errText: "line 1"},
		{name: "operator file with a recipient, not an identity", project: "recipient", errText: "recipient"},
		{name: "empty project", project: "", wantErr: ErrInvalidProject},
		{name: "parent folder", project: "..", wantErr: ErrInvalidProject},
		{name: "current folder", project: ".", wantErr: ErrInvalidProject},
		{name: "path with a slash", project: "two-files/../broken", wantErr: ErrInvalidProject},
		{name: "path escaping", project: "../etc", wantErr: ErrInvalidProject},
		{name: "absolute path", project: "/etc", wantErr: ErrInvalidProject},
		{name: "backslash", project: `a\b`, wantErr: ErrInvalidProject},
		{name: "upper case is no AppProject name", project: "Two-Files", wantErr: ErrInvalidProject},
		{name: "NUL byte", project: "a\x00b", wantErr: ErrInvalidProject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := LoadIdentities(dir, tc.project)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("LoadIdentities(%q) = %v, want %v", tc.project, err, tc.wantErr)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("LoadIdentities(%q) = %v, want an error about %q", tc.project, err, tc.errText)
				}
				if w := testkit.CanaryIn(err.Error(), strings.ToUpper(canary)); w != "" {
					t.Fatalf("error quotes the key file: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case len(ids) != tc.want:
				t.Fatalf("got %d identities, want %d", len(ids), tc.want)
			}
		})
	}
}
