package keysecret_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
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

// TestStatusOf: the label gives the status; a Secret without it (the
// legacy key, a backup that lost it) is active; an unknown value is an
// error that names the label.
func TestStatusOf(t *testing.T) {
	for _, tt := range []struct {
		name    string
		labels  map[string]string
		want    crypto.Status
		wantErr string
	}{
		{"active", map[string]string{keysecret.Label: "active"}, crypto.StatusActive, ""},
		{"compromised", map[string]string{keysecret.Label: "compromised"}, crypto.StatusCompromised, ""},
		{"no label", nil, crypto.StatusActive, ""},
		{"unknown value", map[string]string{keysecret.Label: "retired"}, 0, `label sealedsecrets.bitnami.com/sealed-secrets-key="retired" is neither active nor compromised`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keysecret.StatusOf(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: tt.labels}})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("StatusOf = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestParseKey: a key Secret's data becomes a key with the status the
// caller gives; each missing or broken item is named, and a key without
// its certificate, which could never seal, is refused.
func TestParseKey(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mutate  func(*corev1.Secret)
		wantErr string
		is      error
	}{
		{"complete", func(*corev1.Secret) {}, "", nil},
		{"no tls.key", func(s *corev1.Secret) { delete(s.Data, corev1.TLSPrivateKeyKey) }, "no tls.key", nil},
		{"broken tls.key", func(s *corev1.Secret) { s.Data[corev1.TLSPrivateKeyKey] = []byte("x") }, "tls.key: crypto: no RSA private key PEM block found", nil},
		{"no tls.crt", func(s *corev1.Secret) { delete(s.Data, corev1.TLSCertKey) }, "no tls.crt: a key needs its certificate to seal", keysecret.ErrNoCertificate},
		{"broken tls.crt", func(s *corev1.Secret) { s.Data[corev1.TLSCertKey] = []byte("x") }, "tls.crt: crypto: no certificate PEM block found", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := bitnamiSecret(t, "a", "active")
			tt.mutate(s)
			k, err := keysecret.ParseKey(s, crypto.StatusCompromised, time.Time{})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || (tt.is != nil && !errors.Is(err, tt.is)) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || k.Status != crypto.StatusCompromised || !k.Created.Equal(k.Certificate.NotBefore) {
				t.Fatalf("ParseKey = %+v, %v", k, err)
			}
		})
	}
}
