package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/keybackup"
)

// ageIdentity writes a fresh age identity file and returns its path and
// public key.
func ageIdentity(t *testing.T) (path, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "backup.key")
	if err := os.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, id.Recipient().String()
}

// keySecretsIn lists the key Secrets in ns by name.
func keySecretsIn(t *testing.T, ns string) map[string]corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns), client.HasLabels{keysecret.Label}); err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Secret{}
	for _, s := range list.Items {
		out[s.Name] = s
	}
	return out
}

func createSecret(t *testing.T, s *corev1.Secret) {
	t.Helper()
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// TestKeysBackupAndRestore backs up a namespace's key Secrets and restores
// them into others: empty, already restored, with the name taken, dry run,
// wrong identity.
func TestKeysBackupAndRestore(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	kc := writeKubeconfig(t)
	src := e.Namespace(t)
	active := createKeySecret(t, src, cliKey(t, "key", t0))
	comp := keysecret.New(cliKey(t, "other-key", t0), src, keysecret.DefaultPrefix, map[string]string{"team": "platform"}, map[string]string{"note": "leaked in #4711"})
	comp.Labels[keysecret.Label] = "compromised"
	createSecret(t, comp)
	createSecret(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: src}, StringData: map[string]string{"k": "v"}})
	retired := keysecret.New(cliKey(t, "other-key", t0), src, "retired-", nil, nil)
	retired.Labels[keysecret.Label] = "retired"
	createSecret(t, retired)

	idFile, rec := ageIdentity(t)
	bundleFile := filepath.Join(t.TempDir(), "keys.age")
	stdout, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", src, "keys", "backup", "-r", rec, "-o", bundleFile)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("backup to a file printed %q", stdout)
	}
	for _, want := range []string{
		"warning: skipping Secret " + src + "/" + retired.Name + `: label sealedsecrets.bitnami.com/sealed-secrets-key="retired" is neither active nor compromised`,
		"Backed up 2 keys from namespace " + src + " to " + bundleFile + ", for 1 recipients:",
		cliKey(t, "key", t0).ID.String() + "  active       2027-02-01T00:00:00Z  " + active.Name,
		cliKey(t, "other-key", t0).ID.String() + "  compromised  2027-02-01T00:00:00Z  " + comp.Name,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("backup stderr lacks %q:\n%s", want, stderr)
		}
	}
	if fi, err := os.Stat(bundleFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle file: %v, mode %v", err, fi.Mode())
	}
	sealed := readFile(t, bundleFile)
	if bytes.Contains(sealed, []byte("PRIVATE KEY")) || !bytes.HasPrefix(sealed, []byte("-----BEGIN AGE ENCRYPTED FILE-----\n")) {
		t.Fatal("the backup is not armored ciphertext")
	}
	ids, err := keybackup.ParseIdentities(bytes.NewReader(readFile(t, idFile)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := keybackup.Open(bytes.NewReader(sealed), ids...); err != nil || len(b.Keys()) != 2 {
		t.Fatalf("the backup does not open to 2 keys: %v", err)
	}

	restore := func(ns string, args ...string) (string, string, int) {
		return kubeseal(nil, append([]string{"--kubeconfig", kc, "--controller-namespace", ns, "keys", "restore", "-i", bundleFile}, args...)...)
	}
	t.Run("into an empty namespace", func(t *testing.T) {
		dst := e.Namespace(t)
		stdout, stderr, code := restore(dst, "--identity", idFile)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "Restored 2 keys into namespace "+dst+"; 0 were already there. A running controller loads them without a restart.") ||
			!strings.Contains(stdout, "1 of them are compromised") {
			t.Errorf("stdout:\n%s", stdout)
		}
		got := keySecretsIn(t, dst)
		if len(got) != 2 {
			t.Fatalf("%d key Secrets restored", len(got))
		}
		for _, orig := range []*corev1.Secret{active, comp} {
			s, ok := got[orig.Name]
			if !ok {
				t.Fatalf("%s was not restored under its name: %v", orig.Name, stdout)
			}
			if !bytes.Equal(s.Data["tls.key"], orig.Data["tls.key"]) || !bytes.Equal(s.Data["tls.crt"], orig.Data["tls.crt"]) || s.Type != corev1.SecretTypeTLS {
				t.Errorf("%s: content differs", s.Name)
			}
			for k, v := range orig.Labels {
				if s.Labels[k] != v {
					t.Errorf("%s: label %s=%q, want %q", s.Name, k, s.Labels[k], v)
				}
			}
			for k, v := range orig.Annotations {
				if s.Annotations[k] != v {
					t.Errorf("%s: annotation %s=%q, want %q", s.Name, k, s.Annotations[k], v)
				}
			}
		}

		// Again: nothing to do.
		stdout, stderr, code = restore(dst, "--identity", idFile)
		if code != 0 || !strings.Contains(stdout, "Restored 0 keys into namespace "+dst+"; 2 were already there.") ||
			strings.Count(stdout, "skipped ") != 2 || strings.Contains(stdout, "A running controller") {
			t.Errorf("second restore: exit %d\n%s%s", code, stdout, stderr)
		}
		if n := len(keySecretsIn(t, dst)); n != 2 {
			t.Errorf("%d key Secrets after restoring twice", n)
		}
	})

	t.Run("the name taken by another Secret", func(t *testing.T) {
		dst := e.Namespace(t)
		// Another Secret has the active key's name; the compromised key is
		// there already under another name, and active in this cluster.
		createSecret(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: active.Name, Namespace: dst}, StringData: map[string]string{"app": "mine"}})
		there := createKeySecret(t, dst, cliKey(t, "other-key", t0))
		stdout, stderr, code := restore(dst, "--identity", idFile)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !regexp.MustCompile(`restored +[0-9a-f]{64}  active       as Secret ` + dst + `/sealed-secrets-key\w{5} \(the name ` + active.Name + ` is taken by another Secret\)`).MatchString(stdout) {
			t.Errorf("stdout:\n%s", stdout)
		}
		if !strings.Contains(stdout, "already in Secret "+dst+"/"+there.Name) {
			t.Errorf("the key already there was not skipped:\n%s", stdout)
		}
		if !strings.Contains(stderr, "is compromised in the backup but not in Secret "+dst+"/"+there.Name+": run kubeseal keys compromise") {
			t.Errorf("no warning about the status:\n%s", stderr)
		}
		var mine corev1.Secret
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: dst, Name: active.Name}, &mine); err != nil || string(mine.Data["app"]) != "mine" || len(mine.Labels) != 0 {
			t.Errorf("the other Secret was touched: %v %+v", err, mine)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		dst := e.Namespace(t)
		stdout, stderr, code := restore(dst, "--identity", idFile, "--dry-run")
		if code != 0 || strings.Count(stdout, "would restore ") != 2 || !strings.Contains(stdout, "Dry run: 2 keys would be restored into namespace "+dst+", 0 are already there. Nothing was changed.") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		if n := len(keySecretsIn(t, dst)); n != 0 {
			t.Errorf("dry run created %d Secrets", n)
		}
	})

	t.Run("wrong identity", func(t *testing.T) {
		dst := e.Namespace(t)
		wrong, _ := ageIdentity(t)
		stdout, stderr, code := restore(dst, "--identity", wrong)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "none of the identities opens this bundle") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		if n := len(keySecretsIn(t, dst)); n != 0 {
			t.Errorf("%d Secrets created with a wrong identity", n)
		}
	})

	t.Run("a namespace that does not exist", func(t *testing.T) {
		_, stderr, code := restore("no-such-namespace", "--identity", idFile)
		if code != 1 || !strings.Contains(stderr, `in namespace "no-such-namespace" (0 keys restored before it)`) || !strings.Contains(stderr, "not found") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})

	t.Run("a Bitnami backup", func(t *testing.T) {
		dst := e.Namespace(t)
		var list corev1.SecretList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(src), client.MatchingLabels{keysecret.Label: "active"}); err != nil {
			t.Fatal(err)
		}
		b := bitnamiList(t, list.Items)
		stdout, stderr, code := kubeseal(b, "--kubeconfig", kc, "--controller-namespace", dst, "keys", "restore", "-i", "-")
		if code != 0 || !strings.Contains(stdout, "restored       "+cliKey(t, "key", t0).ID.String()+"  active       as Secret "+dst+"/"+active.Name) {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		if !strings.Contains(stderr, "note: - is not encrypted") {
			t.Errorf("no note about the plaintext input: %s", stderr)
		}
	})
}

// bitnamiList writes secrets as `kubectl get secret -o yaml` does.
func bitnamiList(t *testing.T, secrets []corev1.Secret) []byte {
	t.Helper()
	list := &corev1.SecretList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}, Items: secrets}
	for i := range list.Items {
		list.Items[i].TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	}
	b, err := yaml.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeysRestoreIntoRunningController: a controller with a key of its own
// picks restored keys up live and unseals what they sealed; `keys
// compromise` then retires keys one by one, and when none is active the
// controller makes a new one.
func TestKeysRestoreIntoRunningController(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	kc := writeKubeconfig(t)
	keyNS, ns := e.Namespace(t), e.Namespace(t)
	c, err := controller.New(e.Config, controller.Options{
		Keys:        keys.Options{Namespace: keyNS, Prefix: keysecret.DefaultPrefix, Bits: 2048, ValidFor: crypto.DefaultCertValidity},
		MetricsAddr: "0", AdditionalNamespaces: []string{ns}, UpdateStatus: true, MaxUnsealRetries: 5, Workers: 2,
		Server: server.Options{Addr: "127.0.0.1:0"},
	}, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Manager.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	var own *crypto.Key
	testkit.Eventually(t, 60*time.Second, func() (bool, error) {
		own, err = c.Keys.Keyring().Latest()
		return err == nil, err
	})

	// A SealedSecret from the old cluster: nothing here opens it yet.
	restoredKey := cliKey(t, "key", t0)
	sealFor(t, restoredKey, ns, "db")
	time.Sleep(time.Second)
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "db"}, &corev1.Secret{}); err == nil {
		t.Fatal("unsealed before the key was restored")
	}

	idFile, rec := ageIdentity(t)
	bundleFile := filepath.Join(t.TempDir(), "keys.age")
	if _, stderr, code := kubeseal(nil, "keys", "backup", "--from-file", filepath.Join("testdata", "keys", "key.pem"), "-r", rec, "-o", bundleFile); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	if _, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", keyNS, "keys", "restore", "-i", bundleFile, "--identity", idFile); code != 0 {
		t.Fatalf("restore: %s", stderr)
	}
	waitSecretData(t, ns, "db", "password", "s3cr3t-online")
	ring := c.Keys.Keyring()
	if _, ok := ring.Lookup(own.ID); !ok || ring.Len() != 2 {
		t.Fatalf("keyring after restore: %d keys, own key kept: %v", ring.Len(), ok)
	}

	compromise := func(id crypto.KeyID, digits int) string {
		t.Helper()
		stdout, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", keyNS, "keys", "compromise", id.String()[:digits])
		if code != 0 {
			t.Fatalf("compromise: exit %d: %s", code, stderr)
		}
		return stdout
	}
	// The restored key is dated in the future, so it is the latest; retire
	// it, then the controller's own.
	out := compromise(restoredKey.ID, 6)
	if !strings.Contains(out, "Marked key "+restoredKey.ID.String()+" compromised") || !strings.Contains(out, "kubeseal reencrypt DIR...") {
		t.Errorf("stdout:\n%s", out)
	}
	waitLatest(t, c, func(k *crypto.Key) error {
		if k.ID != own.ID {
			return errors.New("the compromised key still seals")
		}
		return nil
	})
	if out := compromise(restoredKey.ID, 64); !strings.Contains(out, "already compromised") {
		t.Errorf("again:\n%s", out)
	}
	compromise(own.ID, 12)
	waitLatest(t, c, func(k *crypto.Key) error {
		if k.ID == own.ID || k.ID == restoredKey.ID {
			return errors.New("no new key yet")
		}
		return nil
	})
	// Compromised keys still unseal.
	sealFor(t, restoredKey, ns, "db2")
	waitSecretData(t, ns, "db2", "password", "s3cr3t-online")

	for _, tc := range []struct{ arg, want string }{
		{"12345", `"12345" is not a key ID: want 6 to 64 hex digits`},
		{"zzzzzzzz", `"zzzzzzzz" is not a key ID`},
		{"000000000000", "no key Secret in namespace \"" + keyNS + "\" has a key ID starting 000000000000"},
	} {
		if _, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", keyNS, "keys", "compromise", tc.arg); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("compromise %s: exit %d: %s", tc.arg, code, stderr)
		}
	}
}

func waitSecretData(t *testing.T, ns, name, key, want string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var s corev1.Secret
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			return false, err
		}
		if string(s.Data[key]) != want {
			return false, fmt.Errorf("%s is %q", key, s.Data[key])
		}
		return true, nil
	})
}

func waitLatest(t *testing.T, c *controller.Controller, check func(*crypto.Key) error) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, func() (bool, error) {
		k, err := c.Keys.Keyring().Latest()
		if err != nil {
			return false, err
		}
		err = check(k)
		return err == nil, err
	})
}

// sealFor seals dbSecret for ns/name with key k, offline.
func sealFor(t *testing.T, k *crypto.Key, ns, name string) {
	t.Helper()
	cert := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(cert, crypto.EncodeCertificatePEM(k.Certificate), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := strings.Replace(dbSecret, "namespace: prod", "namespace: "+ns, 1)
	out, stderr, code := kubeseal([]byte(secret), "--cert", cert, "--name", name, "-o", "yaml")
	if code != 0 {
		t.Fatalf("seal: %s", stderr)
	}
	if err := env.Client.Create(context.Background(), decodeSealed(t, out)); err != nil {
		t.Fatal(err)
	}
}

// TestKeysLegacyAndDuplicateKeys: Bitnami's unlabelled legacy key Secret
// is backed up and can be marked compromised, and a key held by two
// Secrets is retired in both.
func TestKeysLegacyAndDuplicateKeys(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	kc := writeKubeconfig(t)
	ns := e.Namespace(t)
	k := cliKey(t, "key", t0)
	legacy := keysecret.New(k, ns, "", nil, nil)
	legacy.GenerateName, legacy.Name = "", keysecret.LegacyName
	delete(legacy.Labels, keysecret.Label)
	createSecret(t, legacy)
	copied := createKeySecret(t, ns, k)

	_, rec := ageIdentity(t)
	_, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", ns, "keys", "backup", "-r", rec, "-o", filepath.Join(t.TempDir(), "k.age"))
	if code != 0 || !strings.Contains(stderr, "Backed up 1 keys from namespace "+ns) {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}

	stdout, stderr, code := kubeseal(nil, "--kubeconfig", kc, "--controller-namespace", ns, "keys", "compromise", k.ID.Short())
	if code != 0 || strings.Count(stdout, "Marked key "+k.ID.String()+" compromised") != 2 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, name := range []string{keysecret.LegacyName, copied.Name} {
		var s corev1.Secret
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		if s.Labels[keysecret.Label] != "compromised" || !bytes.Equal(s.Data["tls.key"], legacy.Data["tls.key"]) {
			t.Errorf("%s: labels %v", name, s.Labels)
		}
	}
}
