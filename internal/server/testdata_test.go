package server_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
)

var update = flag.Bool("update", false, "rewrite testdata/requests from the test keys")

// requestsDir holds request bodies named <verify status>-<rotate status>-<case>.
// They are the table of TestRequests and the seeds of FuzzRequest.
var requestsDir = filepath.Join("testdata", "requests")

// The plaintext sealed in every fixture; it must never appear in a
// response or a log line.
const (
	plainPassword = "s3cr3t-p4ssw0rd"
	plainUser     = "admin-user-name"
)

// loadKey reads crypto/testdata/keys/<name>.pem (c is RSA-2048, a and b are
// RSA-4096; their certificates share one NotBefore, so created orders them).
func loadKey(tb testing.TB, name string, status crypto.Status, created time.Time) *crypto.Key {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "crypto", "testdata", "keys", name+".pem"))
	if err != nil {
		tb.Fatal(err)
	}
	priv, err := crypto.ParsePrivateKeyPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := crypto.NewKey(priv, certs[0], status, created)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

var t0 = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)

// testKeys returns the keyring the fixtures are sealed for: c is the
// newest active key (it seals), a an older active one, b compromised.
func testKeys(tb testing.TB) (c, a, b *crypto.Key) {
	c = loadKey(tb, "c", crypto.StatusActive, t0.Add(48*time.Hour))
	a = loadKey(tb, "a", crypto.StatusActive, t0)
	b = loadKey(tb, "b", crypto.StatusCompromised, t0.Add(24*time.Hour))
	return c, a, b
}

func testRing(tb testing.TB) *crypto.Keyring {
	c, a, b := testKeys(tb)
	return crypto.NewKeyring(c, a, b)
}

func dbSecret(annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "db", Namespace: "prod",
			Labels:      map[string]string{"app": "db"},
			Annotations: annotations,
		},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"password": plainPassword, "user": plainUser},
	}
}

func seal(tb testing.TB, k *crypto.Key, s *corev1.Secret) *ssv1alpha1.SealedSecret {
	tb.Helper()
	ss, err := sealing.NewSealer(rand.Reader, &k.PrivateKey.PublicKey).SealSecret(s)
	if err != nil {
		tb.Fatal(err)
	}
	return ss
}

func encode(tb testing.TB, f manifest.Format, objs ...*ssv1alpha1.SealedSecret) []byte {
	tb.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		if err := manifest.Encode(&buf, f, o); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestUpdateRequests rewrites testdata/requests under -update. The files
// are committed so that the fuzzer's seeds are stable.
func TestUpdateRequests(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata/requests")
	}
	c, a, b := testKeys(t)
	unknownPriv, err := crypto.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	unknownCert, err := crypto.NewCertificate(rand.Reader, unknownPriv, t0, time.Hour, "unknown")
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := crypto.NewKey(unknownPriv, unknownCert, crypto.StatusActive, t0)
	if err != nil {
		t.Fatal(err)
	}

	strict := func(k *crypto.Key) *ssv1alpha1.SealedSecret { return seal(t, k, dbSecret(nil)) }
	withTemplate := func(k *crypto.Key, data map[string]string) *ssv1alpha1.SealedSecret {
		ss := strict(k)
		ss.Spec.Template.Data = data
		return ss
	}
	files := map[string][]byte{}
	add := func(name string, f manifest.Format, objs ...*ssv1alpha1.SealedSecret) {
		files[name] = encode(t, f, objs...)
	}

	add("200-200-strict.yaml", manifest.YAML, strict(c))
	add("200-200-strict.json", manifest.JSON, strict(c))
	add("200-200-namespace-wide.yaml", manifest.YAML, seal(t, c, dbSecret(map[string]string{ssv1alpha1.NamespaceWideAnnotation: "true"})))
	add("200-200-cluster-wide.yaml", manifest.YAML, seal(t, c, dbSecret(map[string]string{ssv1alpha1.ClusterWideAnnotation: "true"})))
	add("200-200-older-key.yaml", manifest.YAML, strict(a))
	add("200-200-compromised-key.yaml", manifest.YAML, strict(b))
	noHint := strict(a)
	delete(noHint.Annotations, ssv1alpha1.KeyIDAnnotation)
	add("200-200-no-key-hint.yaml", manifest.YAML, noHint)
	wrongHint := strict(a)
	wrongHint.Annotations[ssv1alpha1.KeyIDAnnotation] = c.ID.String()
	add("200-200-wrong-key-hint.yaml", manifest.YAML, wrongHint)
	empty := strict(c)
	empty.Spec.EncryptedData = map[string]string{}
	add("200-200-no-items.yaml", manifest.YAML, empty)

	// Templates must change nothing: one that fails, and two that would
	// fail exactly when the guess about the plaintext is right, so that
	// running them would turn 200/409 into an oracle.
	add("200-200-template-fails.yaml", manifest.YAML, withTemplate(c, map[string]string{"x": `{{ fail "boom" }}`}))
	// The guess is hashed so that the fixture does not hold the plaintext.
	oracle := `{{ if eq (sha256sum .password) "%x" }}{{ fail "guessed" }}{{ end }}`
	add("200-200-template-oracle-right-guess.yaml", manifest.YAML, withTemplate(a, map[string]string{"x": fmt.Sprintf(oracle, sha256.Sum256([]byte(plainPassword)))}))
	add("200-200-template-oracle-wrong-guess.yaml", manifest.YAML, withTemplate(a, map[string]string{"x": fmt.Sprintf(oracle, sha256.Sum256([]byte("nope")))}))
	add("409-409-template-renders.yaml", manifest.YAML, withTemplate(unknown, map[string]string{"x": "fine"}))

	// CVE-2026-22728: a strict value whose template claims cluster-wide.
	// Sealed with the older key a, so that /v1/rotate really re-seals it.
	cve := strict(a)
	cve.Spec.Template.Annotations = map[string]string{ssv1alpha1.ClusterWideAnnotation: "true"}
	add("200-200-cve-2026-22728-template-cluster-wide.yaml", manifest.YAML, cve)

	wrongName := strict(c)
	wrongName.Name = "db2"
	add("409-409-wrong-name.yaml", manifest.YAML, wrongName)
	wrongNs := strict(c)
	wrongNs.Namespace = "dev"
	add("409-409-wrong-namespace.yaml", manifest.YAML, wrongNs)
	add("409-409-unknown-key.yaml", manifest.YAML, strict(unknown))
	widened := strict(c)
	widened.Annotations[ssv1alpha1.ClusterWideAnnotation] = "true"
	add("409-409-scope-widened.yaml", manifest.YAML, widened)
	tampered := strict(c)
	blob, err := base64.StdEncoding.DecodeString(tampered.Spec.EncryptedData["password"])
	if err != nil {
		t.Fatal(err)
	}
	blob[len(blob)-1] ^= 1
	tampered.Spec.EncryptedData["password"] = base64.StdEncoding.EncodeToString(blob)
	add("409-409-tampered.yaml", manifest.YAML, tampered)
	badB64 := strict(c)
	badB64.Spec.EncryptedData["password"] = "not base64!"
	add("409-409-bad-base64.yaml", manifest.YAML, badB64)
	short := strict(c)
	short.Spec.EncryptedData["password"] = "AQ=="
	add("409-409-truncated-blob.yaml", manifest.YAML, short)

	// The deprecated format: a whole Secret sealed as one value.
	v1secret, err := json.Marshal(&corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"},
		Data:       map[string][]byte{"password": []byte(plainPassword)},
	})
	if err != nil {
		t.Fatal(err)
	}
	v1blob, err := crypto.HybridEncrypt(rand.Reader, &c.PrivateKey.PublicKey, v1secret, crypto.Label(crypto.ScopeStrict, "prod", "db"))
	if err != nil {
		t.Fatal(err)
	}
	v1 := strict(c)
	v1.Spec.EncryptedData = nil
	v1.Spec.Data = v1blob
	add("200-400-deprecated-v1-data.yaml", manifest.YAML, v1)
	both := strict(c)
	both.Spec.Data = v1blob
	add("409-400-both-data-fields.yaml", manifest.YAML, both)

	add("400-400-two-documents.yaml", manifest.YAML, strict(c), strict(c))
	files["400-400-empty.yaml"] = []byte("---\n")
	files["400-400-malformed.yaml"] = []byte("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: [name: db\n")
	files["400-400-configmap.yaml"] = []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\ndata:\n  k: v\n")
	files["400-400-not-an-object.json"] = []byte(`["a", "b"]`)

	if err := os.RemoveAll(requestsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(requestsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(requestsDir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
