package keyfile_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
)

// keyDir holds the test keys: PEM files with the private key (PKCS#1 or
// PKCS#8) and its certificate.
var keyDir = filepath.Join("..", "..", "..", "crypto", "testdata", "keys")

func keyPEM(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(keyDir, name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func splitPEM(t testing.TB, b []byte) (key, cert []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("-----BEGIN CERTIFICATE-----"))
	if i < 0 {
		t.Fatal("no certificate in test key file")
	}
	return b[:i], b[i:]
}

// keySecret is the key Secret of test key name with status, as a backup
// made with kubectl get secret holds it: the PEM blocks as stored.
func keySecret(t testing.TB, name, status string) *corev1.Secret {
	t.Helper()
	keyOnly, certOnly := splitPEM(t, keyPEM(t, name))
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-key" + name, Namespace: "kube-system", Labels: map[string]string{keysecret.Label: status}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSPrivateKeyKey: keyOnly, corev1.TLSCertKey: certOnly},
	}
}

func encode(t testing.TB, format manifest.Format, s *corev1.Secret) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := manifest.Encode(&b, format, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestParseKeys reads every form of key file the operator may give
// --recovery-private-key.
func TestParseKeys(t *testing.T) {
	full := keyPEM(t, "a")
	keyOnly, _ := splitPEM(t, full)
	secretYAML := encode(t, manifest.YAML, keySecret(t, "a", "active"))
	list := []byte("apiVersion: v1\nkind: List\nitems:\n")
	for _, n := range []string{"a", "c"} {
		b := encode(t, manifest.JSON, keySecret(t, n, "active"))
		list = append(list, []byte("- "+strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n  ")+"\n")...)
	}
	twoDocs := append(bytes.Clone(secretYAML), encode(t, manifest.YAML, keySecret(t, "c", "compromised"))...)
	noKey := keySecret(t, "a", "active")
	delete(noKey.Data, corev1.TLSPrivateKeyKey)
	retired := keySecret(t, "a", "retired")

	tests := []struct {
		name       string
		in         []byte
		wantN      int
		wantCert   bool
		wantStatus crypto.Status
		wantErr    string
	}{
		{"PEM key and certificate", full, 1, true, crypto.StatusActive, ""},
		{"PEM key only", keyOnly, 1, false, crypto.StatusActive, ""},
		{"one Secret", secretYAML, 1, true, crypto.StatusActive, ""},
		{"kubectl List", list, 2, true, crypto.StatusActive, ""},
		{"two documents", twoDocs, 2, true, crypto.StatusActive, ""},
		// A recovery file is the operator's: a status neither controller
		// knows still unseals.
		{"unknown status", encode(t, manifest.YAML, retired), 1, true, crypto.StatusActive, ""},
		{"Secret without tls.key", encode(t, manifest.YAML, noKey), 0, false, 0, "has no tls.key"},
		{"garbage", []byte("hello"), 0, false, 0, "neither a PEM private key nor key Secrets"},
		{"empty", nil, 0, false, 0, "no private key found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := keyfile.ParseKeys(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tt.wantN {
				t.Fatalf("keys = %d, want %d", len(keys), tt.wantN)
			}
			if (keys[0].Certificate != nil) != tt.wantCert {
				t.Fatalf("certificate present = %v", keys[0].Certificate != nil)
			}
			if keys[0].Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s", keys[0].Status, tt.wantStatus)
			}
		})
	}
}

// TestParseSecrets: a backup file becomes key Secrets with their metadata,
// and a PEM file becomes one unnamed Secret holding its blocks as stored.
func TestParseSecrets(t *testing.T) {
	full := keyPEM(t, "a")
	keyOnly, certOnly := splitPEM(t, full)
	priv, err := crypto.ParsePrivateKeyPEM(keyOnly)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	secrets, err := keyfile.ParseSecrets(append(bytes.Clone(certOnly), pkcs8...))
	if err != nil || len(secrets) != 1 {
		t.Fatalf("%d secrets, %v", len(secrets), err)
	}
	s := secrets[0]
	if s.Name != "" || s.Type != corev1.SecretTypeTLS || !bytes.Equal(s.Data["tls.key"], pkcs8) || !bytes.Equal(s.Data["tls.crt"], certOnly) {
		t.Errorf("PEM Secret %+v", s)
	}
	if secrets, _ := keyfile.ParseSecrets(keyOnly); len(secrets[0].Data) != 1 {
		t.Error("a key without certificate got one")
	}

	b := keySecret(t, "a", "compromised")
	b.Labels["team"] = "x"
	secrets, err = keyfile.ParseSecrets(encode(t, manifest.YAML, b))
	if err != nil || len(secrets) != 1 || secrets[0].Name != b.Name || secrets[0].Labels["team"] != "x" || secrets[0].Labels[keysecret.Label] != "compromised" {
		t.Fatalf("Secret backup: %v %+v", err, secrets)
	}
}

// FuzzParseKeys feeds arbitrary bytes to ParseKeys, as a damaged or
// foreign file given to --recovery-private-key would (the operator's
// side): nothing may panic, and every key read is consistent.
func FuzzParseKeys(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(keyDir, "*.pem"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed keys in %s: %v", keyDir, err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(encode(f, manifest.YAML, keySecret(f, "a", "active")))
	f.Add(encode(f, manifest.JSON, keySecret(f, "c", "compromised")))
	f.Fuzz(func(t *testing.T, in []byte) {
		keys, err := keyfile.ParseKeys(in)
		if err != nil {
			return
		}
		for _, k := range keys {
			if k.ID != crypto.KeyIDOf(&k.PrivateKey.PublicKey) {
				t.Fatal("key ID does not match the private key")
			}
		}
	})
}
