package controller_test

// Tests of the controller as a whole around its keys (the key lifecycle
// itself is tested in package keys): values sealed by Bitnami's kubeseal
// unseal, a restart resumes, a bad key backup flag fails at start.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// keySecrets lists the key Secrets in ns.
func keySecrets(t *testing.T, e *testkit.Env, ns string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := e.Client.List(ctx, &list, client.InNamespace(ns), client.HasLabels{keysecret.Label}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitKeyring waits until check passes on the keyring r serves.
func waitKeyring(t *testing.T, r *running, check func(*crypto.Keyring) error) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() (bool, error) {
		err := check(r.Keys.Keyring())
		return err == nil, err
	})
}

// TestSealedByBitnamiKubeseal: a SealedSecret made by the real Bitnami
// kubeseal with the controller's certificate unseals.
func TestSealedByBitnamiKubeseal(t *testing.T) {
	bin := testkit.Tool(t, "kubeseal", "kubeseal")
	e, r := setup(t)
	k := r.latestKey(t)
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, crypto.EncodeCertificatePEM(k.Certificate), 0o600); err != nil {
		t.Fatal(err)
	}
	in := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-bitnami\n  namespace: %s\n  labels: {app: x}\nstringData:\n  password: by-bitnami\n", r.ns)
	cmd := exec.Command(bin, "--cert", cert, "-o", "yaml")
	cmd.Env = []string{"HOME=" + dir, "KUBECONFIG=" + filepath.Join(dir, "none")}
	cmd.Stdin = bytes.NewReader([]byte(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bitnami kubeseal: %v", err)
	}
	sealed, err := manifest.DecodeSealedSecrets(bytes.NewReader(out))
	if err != nil || len(sealed) != 1 {
		t.Fatalf("decode: %v", err)
	}
	create(t, e, sealed[0])
	s := waitSecret(t, e, r.ns, "from-bitnami", hasData(map[string]string{"password": "by-bitnami"}))
	if s.Labels["app"] != "x" {
		t.Errorf("labels = %v", s.Labels)
	}
}

// TestRestartResumes stops the controller, changes things while it is
// down, and starts a new one: it converges, and Secrets that still match
// are not rewritten.
func TestRestartResumes(t *testing.T) {
	e, r := setup(t)
	k := r.latestKey(t)
	for _, n := range []string{"kept", "changed", "deleted"} {
		create(t, e, seal(t, k, r.ns, n, crypto.ScopeStrict, map[string]string{"v": "1"}))
	}
	kept := waitSecret(t, e, r.ns, "kept", hasData(map[string]string{"v": "1"}))
	waitSecret(t, e, r.ns, "changed", hasData(map[string]string{"v": "1"}))
	del := waitSecret(t, e, r.ns, "deleted", hasData(map[string]string{"v": "1"}))
	waitSynced(t, e, r.ns, "kept", corev1.ConditionTrue, "")
	r.stop()

	next := seal(t, k, r.ns, "changed", crypto.ScopeStrict, map[string]string{"v": "2"})
	updateSS(t, e, r.ns, "changed", func(ss *ssv1alpha1.SealedSecret) { ss.Spec.EncryptedData = next.Spec.EncryptedData })
	if err := e.Client.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	create(t, e, seal(t, k, r.ns, "new", crypto.ScopeStrict, map[string]string{"v": "3"}))

	r2 := start(t, r.keyNS, r.ns)
	waitSecret(t, e, r.ns, "changed", hasData(map[string]string{"v": "2"}))
	waitSecret(t, e, r.ns, "deleted", hasData(map[string]string{"v": "1"}))
	waitSecret(t, e, r.ns, "new", hasData(map[string]string{"v": "3"}))
	if n := len(keySecrets(t, e, r.keyNS)); n != 1 {
		t.Fatalf("restart generated a key: %d key secrets", n)
	}
	_ = r2
	var after corev1.Secret
	_ = e.Client.Get(ctx, client.ObjectKeyFromObject(kept), &after)
	if after.ResourceVersion != kept.ResourceVersion {
		t.Fatal("an unchanged Secret was rewritten after restart")
	}
}

// TestKeyBackupBadRecipients fails at start, not at the first key change.
func TestKeyBackupBadRecipients(t *testing.T) {
	e := testkit.RequireEnv(t, env)
	for spec, want := range map[string]string{
		"age1notakey":                 "--backup-recipients: backup recipients: line 1: malformed recipient",
		"/no/such/file":               "--backup-recipients: backup recipients file: open /no/such/file",
		"ssh-ed25519 AAAA,age1xxxxxx": "--backup-recipients: backup recipients: line 1: SSH recipient",
	} {
		_, err := controller.New(e.Config, controller.Options{
			Keys:   keys.Options{Namespace: "default", Bits: testBits},
			Backup: keys.BackupOptions{Recipients: spec}, MetricsAddr: "0", Server: controllertest.TestServer,
		}, controller.SharedProcess())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", spec, err, want)
		}
	}
}
