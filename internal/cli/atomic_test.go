//go:build unix

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// withUmask runs the rest of the test under umask mask. The umask is the
// process's: tests that call this must not run in parallel.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// TestPrivateAtomicMode: a file that may hold plaintext is 0600 from the
// moment its temporary file exists, under a umask that masks nothing and
// over an existing file that others could read. The user chooses the
// umask and the existing file (operator side).
func TestPrivateAtomicMode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		umask    int
		existing os.FileMode // 0: no file yet
	}{
		{"new file, umask 0", 0, 0},
		{"existing 0644, umask 0", 0, 0o644},
		{"existing 0666, umask 0", 0, 0o666},
		{"existing 0400, umask 0", 0, 0o400},
		{"new file, umask 022", 0o022, 0},
		// Exactly 0600 even when the umask would make it unwritable.
		{"new file, umask 0277", 0o277, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withUmask(t, tc.umask)
			path := filepath.Join(t.TempDir(), "out.yaml")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old"), tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			f, err := createPrivateAtomic(path)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Fatalf("temporary file has mode %#o before anything is written, want 0600", got)
			}
			if _, err := f.Write([]byte("plaintext")); err != nil {
				t.Fatal(err)
			}
			if err := f.commit(); err != nil {
				t.Fatal(err)
			}
			assertMode(t, path, 0o600)
		})
	}
}

// TestRecoveryUnsealWritesPrivateFile: --recovery-unseal -w writes
// plaintext Secrets, so the file ends 0600 under umask 0 and over an
// existing 0644 file, while sealed output keeps the mode meant for Git.
func TestRecoveryUnsealWritesPrivateFile(t *testing.T) {
	withUmask(t, 0)
	dir := t.TempDir()
	key := filepath.Join("testdata", "keys", "key.pem")
	secret := filepath.Join(dir, "secret.yaml")
	sealed := filepath.Join(dir, "sealed.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  password: s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, Streams{In: bytes.NewReader(nil), Out: &out, Err: &errb}); code != 0 {
			t.Fatalf("kubeseal %v: exit %d: %s", args, code, errb.String())
		}
	}
	run("--cert", key, "-f", secret, "-w", sealed)
	assertMode(t, sealed, 0o644)

	for _, tc := range []struct {
		name     string
		existing bool
	}{{"new file", false}, {"existing 0644 file", true}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "unsealed.yaml")
			if tc.existing {
				if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				assertMode(t, out, 0o644)
			}
			run("--recovery-unseal", "--recovery-private-key", key, "-f", sealed, "-w", out)
			assertMode(t, out, 0o600)
			if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte("password: czNjcjN0")) {
				t.Fatalf("unsealed file: %q (%v)", b, err)
			}
		})
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %#o, want %#o", filepath.Base(path), got, want)
	}
}
