package keybackup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

func newX25519(tb testing.TB) *age.X25519Identity {
	tb.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func sealBundle(tb testing.TB, b *Bundle, binary bool, recipients ...age.Recipient) []byte {
	tb.Helper()
	var out bytes.Buffer
	var err error
	if binary {
		err = SealBinary(&out, b, recipients...)
	} else {
		err = Seal(&out, b, recipients...)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	secrets := goldenSecrets(t)
	secrets[1].Annotations[lastApplied] = `{"data":{"tls.key":"…"}}`
	secrets[1].UID = "0b8f1c3e"
	secrets[1].ResourceVersion = "42"
	secrets[1].OwnerReferences = []metav1.OwnerReference{{Name: "x"}}
	b, err := FromSecrets(secrets)
	if err != nil {
		t.Fatal(err)
	}
	id := newX25519(t)
	for _, binary := range []bool{false, true} {
		sealed := sealBundle(t, b, binary, id.Recipient())
		if armored := bytes.HasPrefix(sealed, []byte("-----BEGIN AGE ENCRYPTED FILE-----\n")); armored == binary {
			t.Fatalf("binary=%v: armored=%v", binary, armored)
		}
		if !IsAgeFile(sealed) {
			t.Fatal("IsAgeFile does not recognise a bundle")
		}
		got, err := Open(bytes.NewReader(sealed), id)
		if err != nil {
			t.Fatalf("binary=%v: %v", binary, err)
		}
		if !reflect.DeepEqual(got.Manifest(), b.Manifest()) {
			t.Errorf("manifest after a round trip:\n%+v\nwant\n%+v", got.Manifest(), b.Manifest())
		}
	}

	m := b.Manifest()
	if m.Version != Version || time.Since(m.Created) > time.Minute || len(m.Keys) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	// Newest first, whatever the input order.
	if m.Keys[0].Secret != "sealed-secrets-keya" || m.Keys[0].Status != crypto.StatusActive ||
		m.Keys[1].Secret != "sealed-secrets-keyb" || m.Keys[1].Status != crypto.StatusCompromised {
		t.Errorf("manifest keys %+v", m.Keys)
	}
	if !m.Keys[0].NotBefore.Equal(keyA.notBefore) || m.Keys[0].NotAfter.Sub(m.Keys[0].NotBefore) != crypto.DefaultCertValidity {
		t.Errorf("validity %v – %v", m.Keys[0].NotBefore, m.Keys[0].NotAfter)
	}

	keys := b.Keys()
	for i, k := range keys {
		if k.ID != m.Keys[i].ID || k.Status != m.Keys[i].Status || k.Certificate == nil || !k.Created.Equal(m.Keys[i].NotBefore) {
			t.Errorf("key %d: %+v", i, k)
		}
	}
	keys[0].Status = crypto.StatusCompromised
	if b.Keys()[0].Status != crypto.StatusActive {
		t.Error("Keys returns the bundle's own keys")
	}

	restored := b.Secrets("sealed-secrets")
	for i, s := range restored {
		orig := secrets[1-i]
		if s.Namespace != "sealed-secrets" || s.Name != orig.Name || s.GenerateName != "" || !s.CreationTimestamp.IsZero() {
			t.Errorf("secret %d metadata %+v", i, s.ObjectMeta)
		}
		if s.UID != "" || s.ResourceVersion != "" || s.OwnerReferences != nil {
			t.Errorf("secret %d carries server or ownership fields: %+v", i, s.ObjectMeta)
		}
		if _, ok := s.Annotations[lastApplied]; ok {
			t.Errorf("secret %d carries kubectl's last-applied copy of the key", i)
		}
		if s.Type != corev1.SecretTypeTLS || !bytes.Equal(s.Data["tls.key"], orig.Data["tls.key"]) || !bytes.Equal(s.Data["tls.crt"], orig.Data["tls.crt"]) {
			t.Errorf("secret %d content differs", i)
		}
		for k, v := range orig.Labels {
			if s.Labels[k] != v {
				t.Errorf("secret %d label %s=%q, want %q", i, k, s.Labels[k], v)
			}
		}
		back, err := keysecret.ToKey(s, keysecret.OrderCertNotBefore)
		if err != nil || back.ID != keys[i].ID {
			t.Errorf("secret %d is not the key Secret of key %d: %v", i, i, err)
		}
	}
	if restored[0].Annotations["sealsync.dev/note"] != "golden" {
		t.Error("annotations are lost")
	}
	restored[0].Labels["x"] = "y"
	if _, ok := b.Secrets("ns")[0].Labels["x"]; ok {
		t.Error("Secrets returns the bundle's own objects")
	}
}

func TestFromSecrets(t *testing.T) {
	a := func() corev1.Secret { return keyA.secret(t, crypto.StatusActive) }
	for _, tc := range []struct {
		name    string
		secrets func() []corev1.Secret
		wantErr string
		check   func(*testing.T, *Bundle)
	}{
		{name: "none", secrets: func() []corev1.Secret { return nil }, wantErr: "no key Secrets to back up"},
		{name: "no private key", secrets: func() []corev1.Secret {
			s := a()
			delete(s.Data, "tls.key")
			return []corev1.Secret{s}
		}, wantErr: "secret 1 (sealed-secrets-keya): no tls.key"},
		{name: "no certificate", secrets: func() []corev1.Secret {
			s := a()
			delete(s.Data, "tls.crt")
			return []corev1.Secret{s}
		}, wantErr: "secret 1 (sealed-secrets-keya): no tls.crt: a key needs its certificate to seal"},
		{name: "certificate of another key", secrets: func() []corev1.Secret {
			s := a()
			s.Data["tls.crt"] = keyB.secret(t, crypto.StatusActive).Data["tls.crt"]
			return []corev1.Secret{s}
		}, wantErr: "certificate does not match the private key"},
		{name: "garbage key", secrets: func() []corev1.Secret {
			s := a()
			s.Data["tls.key"] = []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END RSA PRIVATE KEY-----\n")
			return []corev1.Secret{s}
		}, wantErr: "tls.key: crypto: parse PKCS#1 private key"},
		{name: "unknown status", secrets: func() []corev1.Secret {
			s := a()
			s.Labels[keysecret.Label] = "retired"
			return []corev1.Secret{s}
		}, wantErr: `label sealedsecrets.bitnami.com/sealed-secrets-key="retired" is neither active nor compromised`},
		{name: "no label is active", secrets: func() []corev1.Secret {
			s := a()
			s.Labels = nil
			s.Name = keysecret.LegacyName
			return []corev1.Secret{s}
		}, check: func(t *testing.T, b *Bundle) {
			if s := b.Secrets("ns")[0]; s.Labels[keysecret.Label] != "active" || s.Name != keysecret.LegacyName {
				t.Errorf("legacy key restores as %+v", s.ObjectMeta)
			}
		}},
		{name: "a key twice: compromised wins", secrets: func() []corev1.Secret {
			s1, s2 := a(), a()
			s2.Name = "copy"
			s2.Labels[keysecret.Label] = "compromised"
			return []corev1.Secret{s1, s2}
		}, check: func(t *testing.T, b *Bundle) {
			m := b.Manifest()
			if len(m.Keys) != 1 || m.Keys[0].Status != crypto.StatusCompromised || m.Keys[0].Secret != "copy" {
				t.Errorf("manifest %+v", m.Keys)
			}
		}},
		{name: "PKCS#8 kept as stored", secrets: func() []corev1.Secret {
			s := a()
			priv, err := crypto.ParsePrivateKeyPEM(s.Data["tls.key"])
			if err != nil {
				t.Fatal(err)
			}
			s.Data["tls.key"] = pkcs8PEM(t, priv)
			return []corev1.Secret{s}
		}, check: func(t *testing.T, b *Bundle) {
			if !bytes.Contains(b.Secrets("ns")[0].Data["tls.key"], []byte("BEGIN PRIVATE KEY")) {
				t.Error("PKCS#8 key was re-encoded")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := FromSecrets(tc.secrets())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "MII") {
					t.Fatalf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)
		})
	}
}

// TestRecipients seals to every kind of recipient and opens with the
// matching identity, alone and among others.
func TestRecipients(t *testing.T) {
	b := goldenBundle(t)
	x := newX25519(t)
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edID, err := agessh.NewEd25519Identity(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaID, err := agessh.NewRSAIdentity(rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	edRec := parseRecipient(t, authorizedKey(t, edPub))
	rsaRec := parseRecipient(t, authorizedKey(t, &rsaPriv.PublicKey))
	xRec := parseRecipient(t, x.Recipient().String())
	pqRec := parseRecipient(t, pq.Recipient().String())

	for _, tc := range []struct {
		name       string
		recipients []age.Recipient
		identities []age.Identity
	}{
		{"x25519", []age.Recipient{xRec}, []age.Identity{x}},
		{"post-quantum", []age.Recipient{pqRec}, []age.Identity{pq}},
		{"ssh-ed25519", []age.Recipient{edRec}, []age.Identity{edID}},
		{"ssh-rsa", []age.Recipient{rsaRec}, []age.Identity{rsaID}},
		{"each of several", []age.Recipient{xRec, edRec, rsaRec}, []age.Identity{rsaID}},
		{"several identities, one fits", []age.Recipient{edRec}, []age.Identity{x, rsaID, edID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(bytes.NewReader(sealBundle(t, b, false, tc.recipients...)), tc.identities...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Manifest(), b.Manifest()) {
				t.Error("manifest differs")
			}
		})
	}
	if pq.Recipient().String()[:7] != "age1pq1" {
		t.Fatal("not a post-quantum recipient")
	}
}

func parseRecipient(tb testing.TB, s string) age.Recipient {
	tb.Helper()
	r, err := ParseRecipient(s)
	if err != nil {
		tb.Fatalf("ParseRecipient: %v", err)
	}
	return r
}

func authorizedKey(tb testing.TB, pub any) string {
	tb.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " someone@example"
}

func TestPassphrase(t *testing.T) {
	b := goldenBundle(t)
	// age's default work factor, as kubeseal uses it.
	r, err := age.NewScryptRecipient(goldenPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	sealed := sealBundle(t, b, false, r)
	if _, err := Open(bytes.NewReader(sealed), passphraseIdentity(t, goldenPassphrase)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bytes.NewReader(sealed), passphraseIdentity(t, "correct horse battery stapler")); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("wrong passphrase: %v, want ErrNoIdentity", err)
	}
	// An X25519 identity does not run scrypt at all, and is simply wrong.
	if _, err := Open(bytes.NewReader(sealed), newX25519(t)); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("X25519 identity on a passphrase bundle: %v", err)
	}

	var out bytes.Buffer
	err = Seal(&out, b, passphraseRecipient(t, 10), newX25519(t).Recipient())
	if !errors.Is(err, ErrPassphraseNotAlone) || !strings.Contains(err.Error(), "a passphrase must be the only recipient") {
		t.Fatalf("passphrase among other recipients: %v", err)
	}
	if out.Len() != 0 {
		t.Fatal("a failed Seal wrote output")
	}
}

func TestWrongIdentity(t *testing.T) {
	b := goldenBundle(t)
	right := newX25519(t)
	sealed := sealBundle(t, b, false, right.Recipient(), recipients(t, "id_ed25519.pub")[0])
	for name, ids := range map[string][]age.Identity{
		"another x25519": {newX25519(t)},
		"another ssh":    identities(t, "id_rsa"),
		"several wrong":  append(identities(t, "id_rsa"), newX25519(t), newX25519(t)),
		"a passphrase":   {passphraseIdentity(t, goldenPassphrase)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(sealed), ids...)
			if !errors.Is(err, ErrNoIdentity) {
				t.Fatalf("error %v, want ErrNoIdentity", err)
			}
			if err.Error() != "keybackup: none of the identities opens this bundle (wrong identity or passphrase?)" {
				t.Errorf("error %q says more than it should", err)
			}
		})
	}
	if _, err := Open(bytes.NewReader(sealed)); err == nil {
		t.Fatal("opened without identities")
	}
}

// smallBundle is a bundle of one 2048-bit key, and an identity for it.
func smallBundle(t *testing.T) (*Bundle, *age.X25519Identity) {
	t.Helper()
	b, err := FromSecrets([]corev1.Secret{keyA.secret(t, crypto.StatusActive)})
	if err != nil {
		t.Fatal(err)
	}
	return b, newX25519(t)
}

// TestEveryByteFlip flips every byte of a small bundle, armored and
// binary, in several ways: nothing may open, and nothing may get as far as
// the payload check, which would mean a tampered payload was decrypted.
func TestEveryByteFlip(t *testing.T) {
	b, id := smallBundle(t)
	for _, binary := range []bool{false, true} {
		sealed := sealBundle(t, b, binary, id.Recipient())
		if _, err := Open(bytes.NewReader(sealed), id); err != nil {
			t.Fatal(err)
		}
		opens := 0
		for i := range sealed {
			for _, mask := range []byte{0x01, 0xff} {
				flipped := bytes.Clone(sealed)
				flipped[i] ^= mask
				_, err := Open(bytes.NewReader(flipped), id)
				opens++
				if err == nil {
					t.Fatalf("binary=%v: flipping byte %d of %d with %#x still opens", binary, i, len(sealed), mask)
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNoIdentity) && !errors.Is(err, ErrNotBundle) {
					t.Fatalf("binary=%v: byte %d ^ %#x: %v: got past authentication", binary, i, mask, err)
				}
			}
		}
		t.Logf("binary=%v: %d bytes, %d flips rejected", binary, len(sealed), opens)
	}
}

// TestTruncationAndTrailingData cuts a bundle at every length and appends
// to it.
func TestTruncationAndTrailingData(t *testing.T) {
	b, id := smallBundle(t)
	for _, binary := range []bool{false, true} {
		sealed := sealBundle(t, b, binary, id.Recipient())
		cuts := len(sealed)
		if !binary {
			// The newline after the armor's footer carries no data, and
			// age's armor reader does not require it.
			cuts--
		}
		for n := range cuts {
			if _, err := Open(bytes.NewReader(sealed[:n]), id); err == nil {
				t.Fatalf("binary=%v: the first %d of %d bytes open", binary, n, len(sealed))
			}
		}
		for _, tail := range []string{"x", "\x00", "-----BEGIN AGE ENCRYPTED FILE-----\n"} {
			if _, err := Open(bytes.NewReader(append(bytes.Clone(sealed), tail...)), id); err == nil {
				t.Fatalf("binary=%v: trailing %q is accepted", binary, tail)
			}
		}
	}
	// age's armor allows surrounding whitespace and CRLF line ends, which
	// Git may add; that changes no ciphertext byte.
	sealed := sealBundle(t, b, false, id.Recipient())
	crlf := bytes.ReplaceAll(sealed, []byte("\n"), []byte("\r\n"))
	if _, err := Open(bytes.NewReader(append([]byte("\n  \n"), crlf...)), id); err != nil {
		t.Fatalf("CRLF armor: %v", err)
	}
}

func TestOpenNotABundle(t *testing.T) {
	id := newX25519(t)
	for name, in := range map[string]string{
		"empty":         "",
		"PEM key":       string(keyA.pem(t)),
		"secret YAML":   "apiVersion: v1\nkind: Secret\n",
		"another armor": "-----BEGIN PGP MESSAGE-----\n",
	} {
		if _, err := Open(strings.NewReader(in), id); !errors.Is(err, ErrNotBundle) {
			t.Errorf("%s: %v, want ErrNotBundle", name, err)
		}
	}
	big := append([]byte(binaryIntro), make([]byte, MaxSize)...)
	if _, err := Open(bytes.NewReader(big), id); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
}

// sealPlaintext encrypts an arbitrary payload the way Seal does, to test
// what Open does after decryption.
func sealPlaintext(tb testing.TB, pt []byte, r age.Recipient) []byte {
	tb.Helper()
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// TestPayloadVerification makes payloads that age authenticates but whose
// content is wrong: Open must refuse each with a precise, secret-free
// error.
func TestPayloadVerification(t *testing.T) {
	valid, err := encodePayload(goldenBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	otherKey := keyB.secret(t, crypto.StatusActive)
	for _, tc := range []struct {
		name    string
		mutate  func(*payload)
		raw     func([]byte) []byte
		wantErr string
	}{
		{name: "key ID of another key", mutate: func(p *payload) {
			p.Manifest.Keys[0].ID = p.Manifest.Keys[1].ID
		}, wantErr: "secret 1 (sealed-secrets-keya): the key ID of tls.key does not match the manifest"},
		{name: "malformed key ID", mutate: func(p *payload) { p.Manifest.Keys[0].ID = "abc" },
			wantErr: "manifest id is not 64 hex digits"},
		{name: "certificate of another key", mutate: func(p *payload) {
			p.Secrets[0].Data["tls.crt"] = otherKey.Data["tls.crt"]
		}, wantErr: "certificate does not match the private key"},
		{name: "private key swapped with its certificate kept", mutate: func(p *payload) {
			p.Secrets[0].Data["tls.key"] = otherKey.Data["tls.key"]
		}, wantErr: "certificate does not match the private key"},
		{name: "status differs from label", mutate: func(p *payload) { p.Manifest.Keys[1].Status = "active" },
			wantErr: "label sealedsecrets.bitnami.com/sealed-secrets-key does not match the manifest status"},
		{name: "unknown status", mutate: func(p *payload) { p.Manifest.Keys[1].Status = "revoked" },
			wantErr: "manifest status is neither active nor compromised"},
		{name: "validity differs", mutate: func(p *payload) { p.Manifest.Keys[0].NotAfter = p.Manifest.Keys[0].NotAfter.Add(time.Hour) },
			wantErr: "the certificate's validity does not match the manifest"},
		{name: "name differs", mutate: func(p *payload) { p.Manifest.Keys[0].Secret = "other" },
			wantErr: "the name does not match the manifest"},
		{name: "extra data item", mutate: func(p *payload) { p.Secrets[0].Data["ca.crt"] = []byte("x") },
			wantErr: "holds fields a bundle never carries"},
		{name: "namespace", mutate: func(p *payload) { p.Secrets[0].Namespace = "kube-system" },
			wantErr: "holds fields a bundle never carries"},
		{name: "owner reference", mutate: func(p *payload) {
			p.Secrets[0].OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "x", UID: "u"}}
		}, wantErr: "holds fields a bundle never carries"},
		{name: "opaque type", mutate: func(p *payload) { p.Secrets[0].Type = corev1.SecretTypeOpaque },
			wantErr: "holds fields a bundle never carries"},
		{name: "last-applied copy", mutate: func(p *payload) { p.Secrets[0].Annotations[lastApplied] = "{}" },
			wantErr: "holds fields a bundle never carries"},
		{name: "a key twice", mutate: func(p *payload) {
			p.Manifest.Keys[1] = p.Manifest.Keys[0]
			p.Manifest.Keys[1].Secret = "copy"
			p.Secrets[1] = *p.Secrets[0].DeepCopy()
			p.Secrets[1].Name = "copy"
		}, wantErr: "secret 2 (copy): key f3a53d440b16 appears twice"},
		{name: "a name twice", mutate: func(p *payload) {
			p.Manifest.Keys[1].Secret = p.Manifest.Keys[0].Secret
			p.Secrets[1].Name = p.Secrets[0].Name
		}, wantErr: "the name appears twice"},
		{name: "more Secrets than keys", mutate: func(p *payload) { p.Manifest.Keys = p.Manifest.Keys[:1] },
			wantErr: "the manifest lists 1 keys but the bundle holds 2 Secrets"},
		{name: "no keys", mutate: func(p *payload) { p.Manifest.Keys, p.Secrets = nil, nil },
			wantErr: "the manifest lists no keys"},
		{name: "no creation time", mutate: func(p *payload) { p.Manifest.Created = time.Time{} },
			wantErr: "manifest.created is missing"},
		{name: "newer version", mutate: func(p *payload) { p.Manifest.Version = 2 },
			wantErr: "unsupported bundle format version 2: this kubeseal reads version 1 only"},
		{name: "another format", mutate: func(p *payload) { p.Manifest.Format = "sops" },
			wantErr: "not a sealsync key backup"},
		{name: "unknown field", raw: func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"secrets": [`), []byte(`"extra": 1, "secrets": [`), 1)
		}, wantErr: `unknown field "extra"`},
		{name: "two objects", raw: func(b []byte) []byte { return append(b, b...) },
			wantErr: "not a JSON object with a manifest"},
		{name: "not JSON", raw: func([]byte) []byte { return []byte("tls.key: c2VjcmV0") },
			wantErr: "not a JSON object with a manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := bytes.Clone(valid)
			if tc.mutate != nil {
				var p payload
				if err := json.Unmarshal(pt, &p); err != nil {
					t.Fatal(err)
				}
				tc.mutate(&p)
				if pt, err = json.Marshal(p); err != nil {
					t.Fatal(err)
				}
			}
			if tc.raw != nil {
				pt = tc.raw(pt)
			}
			id := newX25519(t)
			_, err := Open(bytes.NewReader(sealPlaintext(t, pt, id.Recipient())), id)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Errorf("error %v is neither ErrInvalid nor ErrUnsupportedVersion", err)
			}
			for _, secret := range []string{"MII", "c2VjcmV0", "BEGIN"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes content: %v", err)
				}
			}
		})
	}
}

// TestGolden opens the committed bundles with the committed identities:
// bundles written by earlier versions of this package must keep opening.
func TestGolden(t *testing.T) {
	var want wireManifest
	if err := json.Unmarshal(readTestdata(t, "golden", "manifest.json"), &want); err != nil {
		t.Fatal(err)
	}
	wantSecrets := goldenBundle(t).Secrets("restored")
	for _, g := range goldens() {
		t.Run(g.file, func(t *testing.T) {
			sealed := readTestdata(t, "golden", g.file)
			if g.binary == bytes.HasPrefix(sealed, []byte("-----BEGIN")) {
				t.Fatalf("binary=%v but the file starts %q", g.binary, sealed[:10])
			}
			b, err := Open(bytes.NewReader(sealed), g.identity(t)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := wireManifestOf(b); !reflect.DeepEqual(got, want) {
				t.Errorf("manifest\n%+v\nwant\n%+v", got, want)
			}
			if got := b.Secrets("restored"); !reflect.DeepEqual(got, wantSecrets) {
				t.Errorf("secrets differ")
			}
		})
	}
}

// TestPayloadVectors decodes the plaintexts in testdata/payload, which
// also seed FuzzDecodePayload.
func TestPayloadVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "payload", "*.json"))
	if err != nil || len(files) != len(payloadVectors) {
		t.Fatalf("%d payload vectors, want %d (%v)", len(files), len(payloadVectors), err)
	}
	for _, f := range files {
		v, ok := payloadVectors[filepath.Base(f)]
		if !ok {
			t.Errorf("%s is not described in payloadVectors", f)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = decodePayload(b)
		switch {
		case v.wantErr == "" && err != nil:
			t.Errorf("%s: %v", f, err)
		case v.wantErr != "" && (err == nil || !strings.Contains(err.Error(), v.wantErr)):
			t.Errorf("%s: error %v, want %q", f, err, v.wantErr)
		}
	}
}

func pkcs8PEM(tb testing.TB, priv *rsa.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
