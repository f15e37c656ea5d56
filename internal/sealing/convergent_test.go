package sealing_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/sealing"
)

// In these tests the convergence key and the certificate are operator
// input (the plugin's sidecar holds them); the Secrets are tenant input
// (an application's source renders them).

var convergenceKey = bytes.Repeat([]byte{0x5a}, sealing.MinConvergenceKeySize)

func convergentSealer(t *testing.T, k *crypto.Key, key []byte) *sealing.Sealer {
	t.Helper()
	s, err := sealing.NewConvergentSealer(key, &k.PrivateKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tenantSecret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func sealYAML(t *testing.T, s *sealing.Sealer, secret *corev1.Secret) ([]byte, *ssv1alpha1.SealedSecret) {
	t.Helper()
	ss, err := s.SealSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(ss)
	if err != nil {
		t.Fatal(err)
	}
	return b, ss
}

// TestConvergentSealerIsStable: the same Secret sealed twice, by two
// sealers built from the same key and certificate (two plugin runs),
// gives byte-identical SealedSecrets, which any holder of the private key
// opens as usual.
func TestConvergentSealerIsStable(t *testing.T) {
	k := loadKey(t, "a")
	secret := tenantSecret("prod", "db", map[string]string{"password": "s3cr3t", "user": "app"})
	first, ss := sealYAML(t, convergentSealer(t, k, convergenceKey), secret)
	second, _ := sealYAML(t, convergentSealer(t, k, convergenceKey), secret)
	if !bytes.Equal(first, second) {
		t.Fatalf("two convergent seals differ:\n%s\n%s", first, second)
	}
	u, err := sealing.UnsealItems(crypto.NewKeyring(k), ss)
	if err != nil {
		t.Fatal(err)
	}
	if string(u.Items["password"]) != "s3cr3t" || string(u.Items["user"]) != "app" {
		t.Errorf("unsealed %q", u.Items)
	}
}

// TestConvergentSealerVaries: every input of the derivation changes the
// ciphertext of the values it concerns, and only those.
func TestConvergentSealerVaries(t *testing.T) {
	a, c := loadKey(t, "a"), loadKey(t, "c")
	base := tenantSecret("prod", "db", map[string]string{"password": "s3cr3t", "user": "app"})
	_, want := sealYAML(t, convergentSealer(t, a, convergenceKey), base)
	otherKey := bytes.Repeat([]byte{0xa5}, sealing.MinConvergenceKeySize)
	for _, tc := range []struct {
		name    string
		sealer  *sealing.Sealer
		secret  *corev1.Secret
		changed []string // items whose ciphertext must change; the others must not
	}{
		{name: "tenant changes one value", sealer: convergentSealer(t, a, convergenceKey),
			secret: tenantSecret("prod", "db", map[string]string{"password": "n3w", "user": "app"}), changed: []string{"password"}},
		{name: "tenant renames the Secret", sealer: convergentSealer(t, a, convergenceKey),
			secret: tenantSecret("prod", "db2", map[string]string{"password": "s3cr3t", "user": "app"}), changed: []string{"password", "user"}},
		{name: "operator's destination namespace differs", sealer: convergentSealer(t, a, convergenceKey),
			secret: tenantSecret("dev", "db", map[string]string{"password": "s3cr3t", "user": "app"}), changed: []string{"password", "user"}},
		{name: "operator's convergence key differs", sealer: convergentSealer(t, a, otherKey),
			secret: base, changed: []string{"password", "user"}},
		{name: "operator's certificate differs", sealer: convergentSealer(t, c, convergenceKey),
			secret: base, changed: []string{"password", "user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := sealYAML(t, tc.sealer, tc.secret)
			for item, v := range want.Spec.EncryptedData {
				changed := got.Spec.EncryptedData[item] != v
				if changed != slices.Contains(tc.changed, item) {
					t.Errorf("item %q changed = %v, want %v", item, changed, !changed)
				}
			}
		})
	}
}

// TestConvergentSealerSeparatesItems: one value under two keys of a
// Secret is sealed differently, so equal values cannot be spotted.
func TestConvergentSealerSeparatesItems(t *testing.T) {
	k := loadKey(t, "a")
	_, ss := sealYAML(t, convergentSealer(t, k, convergenceKey), tenantSecret("prod", "db", map[string]string{"a": "same", "b": "same"}))
	if ss.Spec.EncryptedData["a"] == ss.Spec.EncryptedData["b"] {
		t.Error("equal values under two item keys sealed to equal ciphertext")
	}
}

// TestConvergentSealerResistsGuessing: an attacker with the certificate
// but not the operator's key seals a correct guess of the value, with
// every other input right, convergently under a key of their own or
// randomly; neither matches the committed ciphertext.
func TestConvergentSealerResistsGuessing(t *testing.T) {
	k := loadKey(t, "a")
	secret := tenantSecret("prod", "db", map[string]string{"pin": "1234"})
	_, victim := sealYAML(t, convergentSealer(t, k, convergenceKey), secret)
	for _, guess := range []*sealing.Sealer{
		convergentSealer(t, k, make([]byte, sealing.MinConvergenceKeySize)),
		sealerFor(k),
	} {
		_, g := sealYAML(t, guess, secret)
		if g.Spec.EncryptedData["pin"] == victim.Spec.EncryptedData["pin"] {
			t.Fatal("a guess sealed without the operator's key matched")
		}
	}
}

// TestConvergentSealerKeySize: the operator's key file must hold 256 bits.
func TestConvergentSealerKeySize(t *testing.T) {
	k := loadKey(t, "a")
	if _, err := sealing.NewConvergentSealer(make([]byte, sealing.MinConvergenceKeySize-1), &k.PrivateKey.PublicKey); !errors.Is(err, sealing.ErrShortConvergenceKey) {
		t.Errorf("31-byte key: %v, want ErrShortConvergenceKey", err)
	}
}
