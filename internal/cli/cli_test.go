package cli_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/keybackup"
)

func TestMain(m *testing.M) {
	testscript.Main(withEnv{m}, map[string]func(){
		"kubeseal": func() { os.Exit(cli.Main()) },
	})
}

// withEnv runs the tests with the envtest control plane that the online
// tests need; it starts only in the test process, never in the kubeseal
// processes testscript runs.
type withEnv struct{ m *testing.M }

func (w withEnv) Run() int { return testkit.Main(w.m, &env) }

// TestScripts runs the txtar scripts in testdata/script. Each starts with
// key.pem (a 4096-bit key and its certificate), cert.pem (the certificate
// alone), other-key.pem (an unrelated key), key-only.pem (other-key.pem's
// key without its certificate), expired-cert.pem (a certificate for key.pem
// that expired yesterday), weak-cert.pem (a certificate for a 1024-bit key)
// and bitnami-backup.yaml (key.pem as Bitnami's `kubectl get secret -o
// yaml` backup lists it) in $WORK, and with no kubeconfig, so everything
// runs offline. The operator's key files as an earlier kubeseal left them
// are there too: old-key-only.pem (key.pem's key alone) and
// old-1970.pem and new-1970.pem (key.pem's and other-key.pem's keys,
// each with a certificate dated 1970-01-01, as an earlier `kubeseal keys
// backup` made for bare keys); $KEY_ID and $OTHER_ID are the IDs of
// key.pem's and other-key.pem's keys, $KEY_SHORT and $OTHER_SHORT their
// first 12 digits. SSH identities id_ed25519 and id_rsa (with
// their .pub) come from keybackup's testdata, and keys-binary.age is a
// binary (unarmored) bundle of key.pem sealed to id_rsa.pub.
func TestScripts(t *testing.T) {
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "keys", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, err := os.ReadFile(filepath.Join("testdata", "keys", "other-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	otherPriv, err := crypto.ParsePrivateKeyPEM(otherPEM)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := crypto.NewCertificate(rand.Reader, priv, time.Now().Add(-72*time.Hour), 48*time.Hour, "expired")
	if err != nil {
		t.Fatal(err)
	}
	// Only crypto/rsa still makes a key this small; kubeseal must refuse it.
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakCert, err := crypto.NewCertificate(rand.Reader, weak, time.Now().Add(-time.Hour), 48*time.Hour, "weak")
	if err != nil {
		t.Fatal(err)
	}
	undated := func(k *rsa.PrivateKey) []byte {
		c, err := crypto.NewCertificate(rand.Reader, k, keyfile.UndatedNotBefore, 24*time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		return append(crypto.EncodePrivateKeyPEM(k), crypto.EncodeCertificatePEM(c)...)
	}
	keyID, otherID := crypto.KeyIDOf(&priv.PublicKey), crypto.KeyIDOf(&otherPriv.PublicKey)
	files := map[string][]byte{
		"old-key-only.pem":    crypto.EncodePrivateKeyPEM(priv),
		"old-1970.pem":        undated(priv),
		"new-1970.pem":        undated(otherPriv),
		"weak-cert.pem":       crypto.EncodeCertificatePEM(weakCert),
		"key.pem":             keyPEM,
		"key-only.pem":        crypto.EncodePrivateKeyPEM(otherPriv),
		"cert.pem":            crypto.EncodeCertificatePEM(certs[0]),
		"other-key.pem":       otherPEM,
		"expired-cert.pem":    crypto.EncodeCertificatePEM(expired),
		"bitnami-backup.yaml": bitnamiBackup(t, keyPEM, crypto.EncodeCertificatePEM(certs[0])),
	}
	ids := filepath.Join("..", "..", "keybackup", "testdata", "identities")
	for _, name := range []string{"id_ed25519", "id_ed25519.pub", "id_rsa", "id_rsa.pub"} {
		files[name] = readFile(t, filepath.Join(ids, name))
	}
	files["keys-binary.age"] = binaryBundle(t, keyPEM, files["id_rsa.pub"])
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(env.WorkDir, name), b, 0o600); err != nil {
					return err
				}
			}
			env.Setenv("KEY_ID", keyID.String())
			env.Setenv("KEY_SHORT", keyID.Short())
			env.Setenv("OTHER_ID", otherID.String())
			env.Setenv("OTHER_SHORT", otherID.Short())
			env.Setenv("KUBECONFIG", filepath.Join(env.WorkDir, "no-kubeconfig"))
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"tamper": tamper,
			"mode":   mode,
		},
	})
}

// tamper IN KEY OUT flips one bit in the GCM tag of the sealed value KEY of
// the SealedSecret in file IN and writes the result to OUT as YAML.
func tamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: tamper IN KEY OUT")
	}
	sealed, err := manifest.DecodeSealedSecrets(strings.NewReader(ts.ReadFile(args[0])))
	ts.Check(err)
	if len(sealed) != 1 {
		ts.Fatalf("want one SealedSecret, got %d", len(sealed))
	}
	ss := sealed[0]
	blob, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[args[1]])
	ts.Check(err)
	blob[len(blob)-1] ^= 1
	ss.Spec.EncryptedData[args[1]] = base64.StdEncoding.EncodeToString(blob)
	var out bytes.Buffer
	ts.Check(manifest.Encode(&out, manifest.YAML, ss))
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), out.Bytes(), 0o600))
}

// bitnamiBackup is a v1 List of one key Secret, as `kubectl get secret -l
// sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` writes it.
func bitnamiBackup(t *testing.T, keyPEM, certPEM []byte) []byte {
	t.Helper()
	var item bytes.Buffer
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "sealed-secrets-keyq7x2k", Namespace: "kube-system", ResourceVersion: "1234", UID: "5d0c9a44",
			Labels: map[string]string{keysecret.Label: "active"},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM, corev1.TLSCertKey: certPEM},
	}
	if err := manifest.Encode(&item, manifest.YAML, s); err != nil {
		t.Fatal(err)
	}
	indented := strings.ReplaceAll(strings.TrimPrefix(strings.TrimSpace(item.String()), "---\n"), "\n", "\n  ")
	return []byte("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n- " + indented + "\n")
}

// mode FILE PERM checks that FILE has permission bits PERM (octal).
func mode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := fi.Mode().Perm(); (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o", args[0], got)
	}
}

// binaryBundle seals the key in keyPEM into a binary bundle for the SSH
// public key pub.
func binaryBundle(t *testing.T, keyPEM, pub []byte) []byte {
	t.Helper()
	secrets, err := keyfile.ParseSecrets(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	b, err := keybackup.FromSecrets([]corev1.Secret{*secrets[0]})
	if err != nil {
		t.Fatal(err)
	}
	r, err := keybackup.ParseRecipient(string(pub))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := keybackup.SealBinary(&out, b, r); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
