package keysecret_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
)

func keyPEM(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "crypto", "testdata", "keys", name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func splitPEM(t *testing.T, b []byte) (key, cert []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("-----BEGIN CERTIFICATE-----"))
	if i < 0 {
		t.Fatal("no certificate in test key file")
	}
	return b[:i], b[i:]
}

// bitnamiSecret is a key Secret as Bitnami's controller writes it.
func bitnamiSecret(t *testing.T, name, status string) *corev1.Secret {
	key, cert := splitPEM(t, keyPEM(t, name))
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "sealed-secrets-keyab12c", Namespace: "kube-system",
			Labels:            map[string]string{keysecret.Label: status},
			CreationTimestamp: metav1.NewTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)),
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: key, corev1.TLSCertKey: cert},
	}
}

func TestToKey(t *testing.T) {
	tests := []struct {
		name       string
		secret     func() *corev1.Secret
		order      keysecret.Order
		wantStatus crypto.Status
		wantErr    string
	}{
		{"bitnami active PKCS#1", func() *corev1.Secret { return bitnamiSecret(t, "a", "active") }, keysecret.OrderCertNotBefore, crypto.StatusActive, ""},
		{"PKCS#8 accepted", func() *corev1.Secret { return bitnamiSecret(t, "b", "active") }, keysecret.OrderCertNotBefore, crypto.StatusActive, ""},
		{"compromised", func() *corev1.Secret { return bitnamiSecret(t, "a", "compromised") }, keysecret.OrderCertNotBefore, crypto.StatusCompromised, ""},
		{"legacy name without label", func() *corev1.Secret {
			s := bitnamiSecret(t, "a", "active")
			s.Labels, s.Name = nil, keysecret.LegacyName
			return s
		}, keysecret.OrderCertNotBefore, crypto.StatusActive, ""},
		{"unknown status", func() *corev1.Secret { return bitnamiSecret(t, "a", "retired") }, 0, 0, "not a sealing key Secret"},
		{"unlabelled", func() *corev1.Secret {
			s := bitnamiSecret(t, "a", "active")
			s.Labels = nil
			return s
		}, 0, 0, "not a sealing key Secret"},
		{"no private key", func() *corev1.Secret {
			s := bitnamiSecret(t, "a", "active")
			delete(s.Data, corev1.TLSPrivateKeyKey)
			return s
		}, 0, 0, "tls.key"},
		{"mismatched certificate", func() *corev1.Secret {
			s := bitnamiSecret(t, "a", "active")
			_, s.Data[corev1.TLSCertKey] = splitPEM(t, keyPEM(t, "c"))
			return s
		}, 0, 0, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.secret()
			k, err := keysecret.ToKey(s, tt.order)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") {
					t.Fatal("error carries key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Status != tt.wantStatus || k.Certificate == nil {
				t.Fatalf("key = %+v", k)
			}
		})
	}
}

func TestToKeyOrder(t *testing.T) {
	s := bitnamiSecret(t, "a", "active")
	byCert, _ := keysecret.ToKey(s, keysecret.OrderCertNotBefore)
	bySecret, _ := keysecret.ToKey(s, keysecret.OrderSecretCreation)
	if !byCert.Created.Equal(byCert.Certificate.NotBefore) || !bySecret.Created.Equal(s.CreationTimestamp.Time) {
		t.Fatalf("created = %v / %v", byCert.Created, bySecret.Created)
	}
	if _, err := keysecret.ParseOrder("Bogus"); err == nil {
		t.Fatal("bogus order accepted")
	}
}

func TestNewRoundTrip(t *testing.T) {
	orig, err := keysecret.ToKey(bitnamiSecret(t, "c", "compromised"), keysecret.OrderCertNotBefore)
	if err != nil {
		t.Fatal(err)
	}
	s := keysecret.New(orig, "kube-system", keysecret.DefaultPrefix, map[string]string{"team": "platform"}, map[string]string{"note": "x"})
	if s.Type != corev1.SecretTypeTLS || s.GenerateName != "sealed-secrets-key" || s.Labels[keysecret.Label] != "compromised" || s.Labels["team"] != "platform" {
		t.Fatalf("secret = %+v", s.ObjectMeta)
	}
	if !bytes.HasPrefix(s.Data[corev1.TLSPrivateKeyKey], []byte("-----BEGIN RSA PRIVATE KEY-----")) {
		t.Fatal("tls.key is not PKCS#1 as Bitnami writes it")
	}
	back, err := keysecret.ToKey(s, keysecret.OrderCertNotBefore)
	if err != nil || back.ID != orig.ID || back.Status != orig.Status {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseKeyFile(t *testing.T) {
	full := keyPEM(t, "a")
	keyOnly, _ := splitPEM(t, full)
	var secretYAML, listYAML, twoDocs bytes.Buffer
	if err := manifest.Encode(&secretYAML, manifest.YAML, withKind(bitnamiSecret(t, "a", "active"))); err != nil {
		t.Fatal(err)
	}
	list := []byte("apiVersion: v1\nkind: List\nitems:\n")
	for _, n := range []string{"a", "c"} {
		var b bytes.Buffer
		if err := manifest.Encode(&b, manifest.JSON, withKind(bitnamiSecret(t, n, "active"))); err != nil {
			t.Fatal(err)
		}
		list = append(list, []byte("- "+strings.ReplaceAll(strings.TrimSpace(b.String()), "\n", "\n  ")+"\n")...)
	}
	listYAML.Write(list)
	twoDocs.Write(secretYAML.Bytes())
	if err := manifest.Encode(&twoDocs, manifest.YAML, withKind(bitnamiSecret(t, "c", "compromised"))); err != nil {
		t.Fatal(err)
	}
	noKey := withKind(bitnamiSecret(t, "a", "active"))
	delete(noKey.Data, corev1.TLSPrivateKeyKey)
	var noKeyYAML bytes.Buffer
	_ = manifest.Encode(&noKeyYAML, manifest.YAML, noKey)

	tests := []struct {
		name     string
		in       []byte
		wantN    int
		wantCert bool
		wantErr  string
	}{
		{"PEM key and certificate", full, 1, true, ""},
		{"PEM key only", keyOnly, 1, false, ""},
		{"one Secret", secretYAML.Bytes(), 1, true, ""},
		{"kubectl List", listYAML.Bytes(), 2, true, ""},
		{"two documents", twoDocs.Bytes(), 2, true, ""},
		{"Secret without tls.key", noKeyYAML.Bytes(), 0, false, "has no tls.key"},
		{"garbage", []byte("hello"), 0, false, "neither a PEM private key nor key Secrets"},
		{"empty", nil, 0, false, "no private key found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := keysecret.ParseKeyFile(tt.in)
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
		})
	}
}

// TestParseBackup: a backup file becomes key Secrets with their metadata,
// and a PEM file becomes one unnamed Secret holding its blocks as stored.
func TestParseBackup(t *testing.T) {
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
	secrets, err := keysecret.ParseBackup(append(bytes.Clone(certOnly), pkcs8...))
	if err != nil || len(secrets) != 1 {
		t.Fatalf("%d secrets, %v", len(secrets), err)
	}
	s := secrets[0]
	if s.Name != "" || s.Type != corev1.SecretTypeTLS || !bytes.Equal(s.Data["tls.key"], pkcs8) || !bytes.Equal(s.Data["tls.crt"], certOnly) {
		t.Errorf("PEM Secret %+v", s)
	}
	if secrets, _ := keysecret.ParseBackup(keyOnly); len(secrets[0].Data) != 1 {
		t.Error("a key without certificate got one")
	}

	var list bytes.Buffer
	b := withKind(bitnamiSecret(t, "a", "compromised"))
	b.Labels["team"] = "x"
	if err := manifest.Encode(&list, manifest.YAML, b); err != nil {
		t.Fatal(err)
	}
	secrets, err = keysecret.ParseBackup(list.Bytes())
	if err != nil || len(secrets) != 1 || secrets[0].Name != b.Name || secrets[0].Labels["team"] != "x" || secrets[0].Labels[keysecret.Label] != "compromised" {
		t.Fatalf("Secret backup: %v %+v", err, secrets)
	}
}

func withKind(s *corev1.Secret) *corev1.Secret {
	s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	return s
}

// TestWireNames pins the label and annotation names of the key Secret
// format: Bitnami's controller and kubeseal, and released versions of
// kubeseal keys rotate (the operator's side), use them as they are, so a
// rename of the Go identifiers must never change them.
func TestWireNames(t *testing.T) {
	for name, tt := range map[string]struct{ got, want string }{
		"key label":              {keysecret.Label, "sealedsecrets.bitnami.com/sealed-secrets-key"},
		"generateName prefix":    {keysecret.DefaultPrefix, "sealed-secrets-key"},
		"legacy Secret name":     {keysecret.LegacyName, "sealed-secrets-key"},
		"renewal request":        {keysecret.RenewRequestAnnotation, "sealsync.dev/rotate-requested-at"},
		"renewal request answer": {keysecret.RenewAnsweredAnnotation, "sealsync.dev/rotate-answers"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", name, tt.got, tt.want)
		}
	}
}
