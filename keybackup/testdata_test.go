package keybackup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

var update = flag.Bool("update", false, "regenerate testdata: golden bundles and payload vectors always, keys and identities only when missing")

// Test keys: a and b are small and fast, bench-NN are the 24 RSA-4096 keys
// of two years of 30-day renewals, bench-01 the oldest.
const benchKeys = 24

var (
	keyA = testKey{name: "a", bits: 2048, notBefore: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	keyB = testKey{name: "b", bits: 2048, notBefore: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
)

type testKey struct {
	name      string
	bits      int
	notBefore time.Time
	dir       string // under testdata; "keys" when empty
}

func benchKey(i int) testKey {
	return testKey{
		name: fmt.Sprintf("bench-%02d", i), bits: crypto.DefaultKeyBits, dir: "bench",
		notBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i-1) * 30 * 24 * time.Hour),
	}
}

func (k testKey) path() string {
	dir := k.dir
	if dir == "" {
		dir = "keys"
	}
	return filepath.Join("testdata", dir, k.name+".pem")
}

// pem returns the key file: the PKCS#1 private key and its certificate.
func (k testKey) pem(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(k.path())
	if err != nil {
		tb.Fatalf("test key %s: %v (run go test ./keybackup -run TestTestdata -update)", k.name, err)
	}
	return b
}

// secret returns a key Secret for k as the controller stores it.
func (k testKey) secret(tb testing.TB, status crypto.Status) corev1.Secret {
	tb.Helper()
	b := k.pem(tb)
	priv, err := crypto.ParsePrivateKeyPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	return corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "sealed-secrets-key" + k.name, Namespace: "kube-system",
			Labels:            map[string]string{keysecret.Label: status.String()},
			CreationTimestamp: metav1.NewTime(k.notBefore),
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSPrivateKeyKey: crypto.EncodePrivateKeyPEM(priv),
			corev1.TLSCertKey:       crypto.EncodeCertificatePEM(certs[0]),
		},
	}
}

// goldenSecrets are the key Secrets of the golden bundles: a active with
// extra metadata, b compromised.
func goldenSecrets(tb testing.TB) []corev1.Secret {
	tb.Helper()
	a := keyA.secret(tb, crypto.StatusActive)
	a.Labels["team"] = "platform"
	a.Annotations = map[string]string{"sealsync.dev/note": "golden"}
	return []corev1.Secret{keyB.secret(tb, crypto.StatusCompromised), a}
}

// goldenCreated is the manifest time of the golden bundles.
var goldenCreated = time.Date(2027, 2, 1, 10, 0, 0, 0, time.UTC)

func goldenBundle(tb testing.TB) *Bundle {
	tb.Helper()
	b, err := FromSecrets(goldenSecrets(tb))
	if err != nil {
		tb.Fatal(err)
	}
	b.manifest.Created = goldenCreated
	return b
}

// Identities in testdata/identities: an age X25519 key as age-keygen
// writes it, SSH ed25519 and RSA keys, and a passphrase.
const goldenPassphrase = "correct horse battery staple"

func readTestdata(tb testing.TB, path ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, path...)...))
	if err != nil {
		tb.Fatalf("%v (run go test ./keybackup -run TestTestdata -update)", err)
	}
	return b
}

func identities(tb testing.TB, name string) []age.Identity {
	tb.Helper()
	ids, err := ParseIdentities(bytes.NewReader(readTestdata(tb, "identities", name)), nil)
	if err != nil {
		tb.Fatalf("identity %s: %v", name, err)
	}
	return ids
}

func recipients(tb testing.TB, name string) []age.Recipient {
	tb.Helper()
	recs, err := ParseRecipients(bytes.NewReader(readTestdata(tb, "identities", name)))
	if err != nil {
		tb.Fatalf("recipients %s: %v", name, err)
	}
	return recs
}

func passphraseRecipient(tb testing.TB, logN int) age.Recipient {
	tb.Helper()
	r, err := age.NewScryptRecipient(goldenPassphrase)
	if err != nil {
		tb.Fatal(err)
	}
	r.SetWorkFactor(logN)
	return r
}

func passphraseIdentity(tb testing.TB, passphrase string) age.Identity {
	tb.Helper()
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// golden describes one golden bundle: how it was sealed and what opens it.
type golden struct {
	file       string
	binary     bool
	recipients func(testing.TB) []age.Recipient
	identity   func(testing.TB) []age.Identity
}

func goldens() []golden {
	ids := func(name string) func(testing.TB) []age.Identity {
		return func(tb testing.TB) []age.Identity { return identities(tb, name) }
	}
	recs := func(names ...string) func(testing.TB) []age.Recipient {
		return func(tb testing.TB) []age.Recipient {
			var all []age.Recipient
			for _, n := range names {
				all = append(all, recipients(tb, n)...)
			}
			return all
		}
	}
	return []golden{
		{file: "x25519.age", recipients: recs("age.pub"), identity: ids("age.key")},
		{file: "x25519-binary.age", binary: true, recipients: recs("age.pub"), identity: ids("age.key")},
		{file: "ssh-ed25519.age", recipients: recs("id_ed25519.pub"), identity: ids("id_ed25519")},
		{file: "ssh-rsa.age", recipients: recs("id_rsa.pub"), identity: ids("id_rsa")},
		{file: "multi.age", recipients: recs("age.pub", "id_ed25519.pub", "id_rsa.pub"), identity: ids("id_rsa")},
		{
			// A low scrypt work factor keeps the test fast; Open accepts up
			// to age's default maximum.
			file:       "passphrase.age",
			recipients: func(tb testing.TB) []age.Recipient { return []age.Recipient{passphraseRecipient(tb, 10)} },
			identity: func(tb testing.TB) []age.Identity {
				return []age.Identity{passphraseIdentity(tb, goldenPassphrase)}
			},
		},
	}
}

// payloadVectors are the plaintexts in testdata/payload: each name maps to
// a change of the valid payload and the error it must cause ("" for none).
var payloadVectors = map[string]struct {
	mutate  func(map[string]any)
	wantErr string
}{
	"valid.json": {func(map[string]any) {}, ""},
	"version-2.json": {func(p map[string]any) { manifestOf(p)["version"] = 2 },
		"unsupported bundle format version 2"},
	"other-format.json": {func(p map[string]any) { manifestOf(p)["format"] = "example.com/backup" },
		"not a sealsync key backup"},
	"unknown-field.json": {func(p map[string]any) { manifestOf(p)["signature"] = "x" },
		`unknown field "signature"`},
	"swapped-ids.json": {func(p map[string]any) {
		keys := manifestOf(p)["keys"].([]any)
		a, b := keys[0].(map[string]any), keys[1].(map[string]any)
		a["id"], b["id"] = b["id"], a["id"]
	}, "key ID of tls.key does not match the manifest"},
	"missing-secret.json": {func(p map[string]any) { p["secrets"] = p["secrets"].([]any)[:1] },
		"the manifest lists 2 keys but the bundle holds 1 Secrets"},
	"status-relabelled.json": {func(p map[string]any) {
		manifestOf(p)["keys"].([]any)[1].(map[string]any)["status"] = "active"
	}, "does not match the manifest status"},
}

func manifestOf(p map[string]any) map[string]any { return p["manifest"].(map[string]any) }

// TestTestdata regenerates testdata with -update: keys and identities only
// when missing (their contents are arbitrary but must stay fixed), golden
// bundles and payload vectors always.
func TestTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, b []byte) {
		t.Helper()
		must(os.MkdirAll(filepath.Dir(path), 0o755))
		must(os.WriteFile(path, b, 0o644))
	}
	missing := func(path string) bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	}

	keys := []testKey{keyA, keyB}
	for i := 1; i <= benchKeys; i++ {
		keys = append(keys, benchKey(i))
	}
	for _, k := range keys {
		if !missing(k.path()) {
			continue
		}
		priv, err := crypto.GenerateKey(rand.Reader, k.bits)
		must(err)
		cert, err := crypto.NewCertificate(rand.Reader, priv, k.notBefore, crypto.DefaultCertValidity, "")
		must(err)
		write(k.path(), append(crypto.EncodePrivateKeyPEM(priv), crypto.EncodeCertificatePEM(cert)...))
	}

	idDir := filepath.Join("testdata", "identities")
	if missing(filepath.Join(idDir, "age.key")) {
		id, err := age.GenerateX25519Identity()
		must(err)
		write(filepath.Join(idDir, "age.key"), fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n",
			goldenCreated.Format(time.RFC3339), id.Recipient(), id))
		write(filepath.Join(idDir, "age.pub"), fmt.Appendf(nil, "# the backup key of the golden bundles\n%s\n", id.Recipient()))
	}
	if missing(filepath.Join(idDir, "id_ed25519")) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		must(err)
		writeSSH(t, idDir, "id_ed25519", priv, pub)
	}
	if missing(filepath.Join(idDir, "id_rsa")) {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		writeSSH(t, idDir, "id_rsa", priv, &priv.PublicKey)
	}

	b := goldenBundle(t)
	for _, g := range goldens() {
		var out bytes.Buffer
		if g.binary {
			must(SealBinary(&out, b, g.recipients(t)...))
		} else {
			must(Seal(&out, b, g.recipients(t)...))
		}
		write(filepath.Join("testdata", "golden", g.file), out.Bytes())
	}
	m, err := json.MarshalIndent(wireManifestOf(b), "", "  ")
	must(err)
	write(filepath.Join("testdata", "golden", "manifest.json"), append(m, '\n'))

	valid, err := encodePayload(b)
	must(err)
	write(filepath.Join("testdata", "payload", "valid.json"), valid)
	for name, v := range payloadVectors {
		if v.wantErr == "" {
			continue
		}
		var p map[string]any
		must(json.Unmarshal(valid, &p))
		v.mutate(p)
		out, err := json.MarshalIndent(p, "", "  ")
		must(err)
		write(filepath.Join("testdata", "payload", name), append(out, '\n'))
	}
}

func writeSSH(t *testing.T, dir, name string, priv, pub any) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "sealsync keybackup test")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " sealsync-test\n"
	if err := os.WriteFile(filepath.Join(dir, name+".pub"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wireManifestOf is the manifest of b as the payload carries it.
func wireManifestOf(b *Bundle) wireManifest {
	pt, err := encodePayload(b)
	if err != nil {
		panic(err)
	}
	var p payload
	if err := json.Unmarshal(pt, &p); err != nil {
		panic(err)
	}
	return p.Manifest
}
