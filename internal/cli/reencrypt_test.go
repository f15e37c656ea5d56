package cli_test

import (
	"crypto/rand"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/server"
)

// reencryptTree writes a tree to re-seal: db.yaml sealed with old behind
// a comment, current/db.yaml already sealed with latest, and notes.yaml,
// which mentions SealedSecret but does not parse.
func reencryptTree(t *testing.T, old, latest *crypto.Key) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"db.yaml":         "# the prod database\n" + sealOffline(t, old, "db"),
		"current/db.yaml": sealOffline(t, latest, "db"),
		"notes.yaml":      "kind: SealedSecret\n  bad: [indent\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// changedLines returns the lines of after that are not in before.
func changedLines(before, after string) []string {
	was := map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		was[l] = true
	}
	var changed []string
	for _, l := range strings.Split(after, "\n") {
		if !was[l] {
			changed = append(changed, l)
		}
	}
	return changed
}

// checkResealed fails unless the file at path changed only in its
// password ciphertext and key-id annotation, now names latest, and
// opens with key.pem (latest) alone.
func checkResealed(t *testing.T, before, path string, latest *crypto.Key) {
	t.Helper()
	after := string(readFile(t, path))
	changed := changedLines(before, after)
	if len(changed) != 2 || !strings.HasPrefix(changed[0], "    sealsync.dev/key-id: ") || !strings.HasPrefix(changed[1], "    password: ") {
		t.Errorf("%s: changed lines %q, want the key-id annotation and the ciphertext only", path, changed)
	}
	if got := decodeSealed(t, after).Annotations[ssv1alpha1.KeyIDAnnotation]; got != latest.ID.String() {
		t.Errorf("%s: key-id %s, want the latest %s", path, got, latest.ID)
	}
	recovered, stderr, code := kubeseal([]byte(after), "--recovery-unseal", "--recovery-private-key", filepath.Join("testdata", "keys", "key.pem"), "-o", "yaml")
	if code != 0 || !strings.Contains(recovered, "password: czNjcjN0LW9ubGluZQ==") {
		t.Errorf("%s does not open with the latest key alone: exit %d: %s", path, code, stderr)
	}
}

// renewedKey returns other-key with a certificate a year older than
// key.pem's, the key a renewal left, and a PEM file holding both.
func renewedKey(t *testing.T) (*crypto.Key, string) {
	t.Helper()
	priv, err := crypto.ParsePrivateKeyPEM(readFile(t, filepath.Join("testdata", "keys", "other-key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := crypto.NewCertificate(rand.Reader, priv, t0.AddDate(-1, 0, 0), 10*365*24*time.Hour, "old")
	if err != nil {
		t.Fatal(err)
	}
	old, err := crypto.NewKey(priv, cert, crypto.StatusActive, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	oldPEM := filepath.Join(t.TempDir(), "old.pem")
	if err := os.WriteFile(oldPEM, append(crypto.EncodePrivateKeyPEM(priv), crypto.EncodeCertificatePEM(cert)...), 0o600); err != nil {
		t.Fatal(err)
	}
	return old, oldPEM
}

func TestReencryptOffline(t *testing.T) {
	defer cli.SetProgressInterval(0)()
	latest := cliKey(t, "key", t0)
	old, oldPEM := renewedKey(t)
	dir := reencryptTree(t, old, latest)
	before := string(readFile(t, filepath.Join(dir, "db.yaml")))
	current := string(readFile(t, filepath.Join(dir, "current", "db.yaml")))
	offline := []string{"reencrypt", "--private-key", oldPEM, "--private-key", filepath.Join("testdata", "keys", "key.pem")}

	stdout, stderr, code := kubeseal(nil, append(offline, "--dry-run", dir)...)
	wantLine := "would re-seal " + filepath.Join(dir, "db.yaml") + ": document 1 prod/db: 1 of 1 items (password), key " + old.ID.Short() + " -> " + latest.ID.Short() + "\n"
	if code != 1 || stdout != wantLine {
		t.Errorf("dry run: exit %d, stdout %q; want exit 1 (notes.yaml) and %q", code, stdout, wantLine)
	}
	for _, want := range []string{
		"error: " + filepath.Join(dir, "notes.yaml") + ": invalid YAML: ",
		"dry run, nothing written: 3 files scanned, 2 SealedSecrets found: 1 re-sealed, 1 unchanged, 0 failed (1 files rewritten, 1 failed)\n",
		"1/3 files done\n",
		"error: 1 of 3 files could not be fully re-sealed\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("dry run: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := string(readFile(t, filepath.Join(dir, "db.yaml"))); got != before {
		t.Fatal("a dry run changed a file")
	}

	stdout, stderr, code = kubeseal(nil, append(offline, dir)...)
	if code != 1 || !strings.HasPrefix(stdout, "re-sealed "+filepath.Join(dir, "db.yaml")) || strings.Contains(stderr, "s3cr3t") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	checkResealed(t, before, filepath.Join(dir, "db.yaml"), latest)
	if got := string(readFile(t, filepath.Join(dir, "current", "db.yaml"))); got != current {
		t.Error("a file already sealed with the latest key changed")
	}

	// Everything is on the latest key now: nothing to do, nothing to say.
	if err := os.Remove(filepath.Join(dir, "notes.yaml")); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = kubeseal(nil, append(offline, dir)...)
	if code != 0 || stdout != "" || !strings.HasSuffix(stderr, "2 SealedSecrets found: 0 re-sealed, 2 unchanged, 0 failed (0 files rewritten, 0 failed)\n") {
		t.Errorf("second run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestReencryptFromBackupBundle re-seals offline with the age bundle of
// `kubeseal keys backup`, whose newest active key seals.
func TestReencryptFromBackupBundle(t *testing.T) {
	defer cli.SetProgressInterval(0)()
	latest := cliKey(t, "key", t0)
	old, oldPEM := renewedKey(t)
	idFile, recipient := ageIdentity(t)
	bundle := filepath.Join(t.TempDir(), "keys.age")
	if _, stderr, code := kubeseal(nil, "keys", "backup", "--from-file", oldPEM, "--from-file", filepath.Join("testdata", "keys", "key.pem"), "-r", recipient, "-o", bundle); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	dir := reencryptTree(t, old, latest)
	if err := os.Remove(filepath.Join(dir, "notes.yaml")); err != nil {
		t.Fatal(err)
	}
	before := string(readFile(t, filepath.Join(dir, "db.yaml")))

	wrongID, _ := ageIdentity(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no identity", []string{"reencrypt", "--backup", bundle, dir}, "is an encrypted key backup: open it with --identity FILE or a passphrase"},
		{"wrong identity", []string{"reencrypt", "--backup", bundle, "--identity", wrongID, dir}, "none of the identities opens this bundle"},
		{"not a bundle", []string{"reencrypt", "--backup", oldPEM, "--identity", idFile, dir}, "is not an age backup bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SEALSYNC_PASSPHRASE", "")
			_, stderr, code := kubeseal(nil, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, tc.want)
			}
		})
	}
	if got := string(readFile(t, filepath.Join(dir, "db.yaml"))); got != before {
		t.Fatal("a failed run changed a file")
	}

	stdout, stderr, code := kubeseal(nil, "reencrypt", "--backup", bundle, "--identity", idFile, dir)
	if code != 0 || !strings.HasPrefix(stdout, "re-sealed "+filepath.Join(dir, "db.yaml")) ||
		!strings.HasSuffix(stderr, "2 SealedSecrets found: 1 re-sealed, 1 unchanged, 0 failed (1 files rewritten, 0 failed)\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	checkResealed(t, before, filepath.Join(dir, "db.yaml"), latest)
}

func TestReencryptErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no path", []string{"reencrypt"}, `^error: requires at least 1 arg\(s\), only received 0\n$`},
		{"missing path", []string{"reencrypt", "--private-key", filepath.Join("testdata", "keys", "key.pem"), "no-such-dir"}, `^error: lstat no-such-dir: no such file or directory\n$`},
		{"bad key file", []string{"reencrypt", "--private-key", "reencrypt_test.go", "."}, `^error: reencrypt_test.go: neither a PEM private key nor key Secrets`},
		{"no kubeconfig", []string{"reencrypt", "--kubeconfig", "no-such-kubeconfig", "."}, `^error: .*no-such-kubeconfig`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := kubeseal(nil, tc.args...)
			if code != 1 || !regexp.MustCompile(tc.want).MatchString(stderr) {
				t.Errorf("exit %d, stderr %q; want exit 1 and stderr matching %s", code, stderr, tc.want)
			}
		})
	}
}

// TestReencryptOnline re-seals a tree through the controller's /v1/rotate
// behind the API server's service proxy.
func TestReencryptOnline(t *testing.T) {
	latest, older := cliKey(t, "key", t0.Add(time.Hour)), cliKey(t, "other-key", t0)
	ns, kc := onlineController(t, newKeys(older, latest), server.Options{RateLimit: math.Inf(1)})
	dir := reencryptTree(t, older, latest)
	if err := os.Remove(filepath.Join(dir, "notes.yaml")); err != nil {
		t.Fatal(err)
	}
	// Retargeted to another namespace: the controller cannot open it.
	retargeted := strings.Replace(sealOffline(t, older, "db"), "namespace: prod\n", "namespace: dev\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "retargeted.yaml"), []byte(retargeted), 0o644); err != nil {
		t.Fatal(err)
	}
	before := string(readFile(t, filepath.Join(dir, "db.yaml")))

	stdout, stderr, code := kubeseal(nil, "reencrypt", "--kubeconfig", kc, "--controller-namespace", ns, dir)
	if code != 1 || !strings.HasPrefix(stdout, "re-sealed "+filepath.Join(dir, "db.yaml")+": document 1 prod/db: 1 of 1 items (password), key ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	want := "error: " + filepath.Join(dir, "retargeted.yaml") + ": document 1 dev/db: the controller cannot unseal it with any of its keys\n"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	checkResealed(t, before, filepath.Join(dir, "db.yaml"), latest)
	if got := string(readFile(t, filepath.Join(dir, "retargeted.yaml"))); got != retargeted {
		t.Error("a SealedSecret the controller could not open was changed")
	}

	// No controller there: one clear error before any file is read.
	_, stderr, code = kubeseal(nil, "reencrypt", "--kubeconfig", kc, "--controller-namespace", "default", dir)
	if code != 1 || !strings.HasPrefix(stderr, "error: cannot get sealed secret service: ") {
		t.Errorf("no controller: exit %d, stderr %q", code, stderr)
	}
}
