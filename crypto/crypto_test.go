package crypto_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealsync/sealsync/crypto"
)

func TestLabel(t *testing.T) {
	tests := []struct {
		name      string
		scope     crypto.Scope
		namespace string
		secret    string
		want      string
	}{
		{"strict joins with a slash", crypto.ScopeStrict, "default", "db", "default/db"},
		{"namespace-wide is the namespace", crypto.ScopeNamespaceWide, "team-a", "db", "team-a"},
		{"cluster-wide is empty", crypto.ScopeClusterWide, "team-a", "db", ""},
		{"strict with empty parts keeps the slash", crypto.ScopeStrict, "", "", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(crypto.Label(tt.scope, tt.namespace, tt.secret)); got != tt.want {
				t.Errorf("Label = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    crypto.Scope
		wantErr bool
	}{
		{"", crypto.ScopeStrict, false},
		{"strict", crypto.ScopeStrict, false},
		{"namespace-wide", crypto.ScopeNamespaceWide, false},
		{"cluster-wide", crypto.ScopeClusterWide, false},
		{"Cluster-Wide", 0, true},
		{"global", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := crypto.ParseScope(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if err == nil && tt.in != "" && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// TestVectors opens every golden vector with a keyring of the committed
// keys a, b and c (not bench-12, which sealed unknown-key).
func TestVectors(t *testing.T) {
	ring := crypto.NewKeyring(loadKey(t, "a"), loadKey(t, "b"), loadKey(t, "c"))
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			label := crypto.Label(v.scope, v.namespace, v.secret)
			for _, hint := range []struct {
				name string
				id   crypto.KeyID
			}{{"no hint", crypto.KeyID{}}, {"hint a", loadKey(t, "a").ID}, {"hint c", loadKey(t, "c").ID}} {
				pt, key, err := ring.Decrypt(v.blob, label, hint.id)
				switch v.expect {
				case "success":
					if err != nil {
						t.Fatalf("%s: %v", hint.name, err)
					}
					if !bytes.Equal(pt, v.plaintext) {
						t.Fatalf("%s: plaintext mismatch", hint.name)
					}
					if want := loadKey(t, v.key).ID; key.ID != want {
						t.Fatalf("%s: opened by %s, want %s", hint.name, key.ID.Short(), want.Short())
					}
				case "decryption error":
					if !errors.Is(err, crypto.ErrDecryption) {
						t.Fatalf("%s: err = %v, want ErrDecryption", hint.name, err)
					}
				case "malformed":
					if !errors.Is(err, crypto.ErrMalformed) {
						t.Fatalf("%s: err = %v, want ErrMalformed", hint.name, err)
					}
				default:
					t.Fatalf("unknown expectation %q", v.expect)
				}
				if err != nil && pt != nil {
					t.Fatalf("%s: plaintext returned with an error", hint.name)
				}
			}
		})
	}
}

func TestRoundTripAllScopes(t *testing.T) {
	k := loadKey(t, "c")
	ring := crypto.NewKeyring(k)
	for _, scope := range []crypto.Scope{crypto.ScopeStrict, crypto.ScopeNamespaceWide, crypto.ScopeClusterWide} {
		t.Run(scope.String(), func(t *testing.T) {
			label := crypto.Label(scope, "ns", "name")
			blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, []byte("value"), label)
			if err != nil {
				t.Fatal(err)
			}
			if blob[0] != 0x01 || blob[1] != 0x00 {
				t.Errorf("2048-bit blob prefix = %x, want 0100", blob[:2])
			}
			pt, _, err := ring.Decrypt(blob, label, crypto.KeyID{})
			if err != nil || string(pt) != "value" {
				t.Fatalf("Decrypt = %q, %v", pt, err)
			}
			if _, err := crypto.HybridDecrypt(k.PrivateKey, blob, []byte("other")); !errors.Is(err, crypto.ErrDecryption) {
				t.Errorf("wrong label: err = %v", err)
			}
		})
	}
}

func TestDecryptionErrorsCarryNoSecret(t *testing.T) {
	k := loadKey(t, "c")
	secret := "do-not-leak-me"
	blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, []byte(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	blob[len(blob)-3] ^= 0xff
	_, _, err = crypto.NewKeyring(k).Decrypt(blob, nil, crypto.KeyID{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyIDIsSHA256OfSPKI(t *testing.T) {
	k := loadKey(t, "a")
	der, err := x509.MarshalPKIXPublicKey(&k.PrivateKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(der); k.ID != crypto.KeyID(want) {
		t.Fatalf("ID = %s, want %x", k.ID, want)
	}
	if want := sha256.Sum256(k.Certificate.RawSubjectPublicKeyInfo); k.ID != crypto.KeyID(want) {
		t.Fatalf("ID differs from the certificate's SPKI hash")
	}
	parsed, err := crypto.ParseKeyID(k.ID.String())
	if err != nil || parsed != k.ID {
		t.Fatalf("ParseKeyID round trip: %v", err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64), k.ID.String() + "00"} {
		if _, err := crypto.ParseKeyID(bad); err == nil {
			t.Errorf("ParseKeyID(%q) succeeded", bad)
		}
	}
}

func TestKeyring(t *testing.T) {
	old, mid, newest := loadKey(t, "bench-01"), loadKey(t, "bench-06"), loadKey(t, "bench-12")
	compromisedNewest := *newest
	compromisedNewest.Status = crypto.StatusCompromised

	tests := []struct {
		name       string
		keys       []*crypto.Key
		wantOrder  []*crypto.Key
		wantLatest *crypto.Key
		wantErr    error
	}{
		{"sorted newest first", []*crypto.Key{old, newest, mid}, []*crypto.Key{newest, mid, old}, newest, nil},
		{"duplicates dropped, first wins", []*crypto.Key{mid, old, mid}, []*crypto.Key{mid, old}, mid, nil},
		// The same key held by an active and a compromised Secret is
		// compromised, whichever Secret was listed first.
		{"duplicate compromised after active", []*crypto.Key{newest, old, &compromisedNewest}, []*crypto.Key{&compromisedNewest, old}, old, nil},
		{"duplicate compromised before active", []*crypto.Key{&compromisedNewest, old, newest}, []*crypto.Key{&compromisedNewest, old}, old, nil},
		{"compromised never seals", []*crypto.Key{old, &compromisedNewest}, []*crypto.Key{&compromisedNewest, old}, old, nil},
		{"no active key", []*crypto.Key{&compromisedNewest}, []*crypto.Key{&compromisedNewest}, nil, crypto.ErrNoActiveKey},
		{"empty", nil, nil, nil, crypto.ErrNoActiveKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring := crypto.NewKeyring(tt.keys...)
			got := ring.Keys()
			if len(got) != len(tt.wantOrder) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.wantOrder))
			}
			for i := range got {
				if got[i] != tt.wantOrder[i] {
					t.Errorf("key %d = %s, want %s", i, got[i].ID.Short(), tt.wantOrder[i].ID.Short())
				}
			}
			latest, err := ring.Latest()
			if !errors.Is(err, tt.wantErr) || latest != tt.wantLatest {
				t.Errorf("Latest = %v, %v; want %v, %v", latest, err, tt.wantLatest, tt.wantErr)
			}
			for _, k := range tt.keys {
				if got, ok := ring.Lookup(k.ID); !ok || got.ID != k.ID {
					t.Errorf("Lookup(%s) failed", k.ID.Short())
				}
			}
			for _, k := range tt.wantOrder {
				if got, _ := ring.Lookup(k.ID); got != k {
					t.Errorf("Lookup(%s) = a %s key, want the %s one of Keys", k.ID.Short(), got.Status, k.Status)
				}
			}
		})
	}
}

// TestDecryptWithoutHint: unhinted blobs open whichever key sealed them,
// and after one the keyring tries that key first without forgetting the
// others; a wrong hint falls back to trying every key.
func TestDecryptWithoutHint(t *testing.T) {
	a, b, c := loadKey(t, "a"), loadKey(t, "b"), loadKey(t, "c")
	ring := crypto.NewKeyring(a, b, c)
	seal := func(k *crypto.Key, v string) []byte {
		blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, []byte(v), nil)
		if err != nil {
			t.Fatal(err)
		}
		return blob
	}
	for i, tc := range []struct {
		key  *crypto.Key
		hint crypto.KeyID
	}{
		{b, crypto.KeyID{}}, {b, crypto.KeyID{}}, {a, crypto.KeyID{}}, {c, crypto.KeyID{}},
		{b, c.ID}, {a, crypto.KeyID{}}, {c, a.ID},
	} {
		want := fmt.Sprint("value ", i)
		pt, by, err := ring.Decrypt(seal(tc.key, want), nil, tc.hint)
		if err != nil || string(pt) != want || by != tc.key {
			t.Fatalf("blob %d: %q by %v, %v; want %q by %s", i, pt, by, err, want, tc.key.ID.Short())
		}
	}
	if _, _, err := ring.Decrypt(seal(loadKey(t, "bench-01"), "x"), nil, crypto.KeyID{}); !errors.Is(err, crypto.ErrDecryption) {
		t.Fatalf("a foreign key's blob: %v, want ErrDecryption", err)
	}
}

// TestOperations: the keyring counts the RSA private-key operations that
// decrypting costs, and not the keys it skips for their size.
func TestOperations(t *testing.T) {
	a, b, c := loadKey(t, "a"), loadKey(t, "b"), loadKey(t, "c") // 4096, 4096, 2048 bits
	ring := crypto.NewKeyring(a, b, c)
	blob, err := crypto.HybridEncrypt(rand.Reader, &b.PrivateKey.PublicKey, []byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		blob []byte
		hint crypto.KeyID
		want uint64
	}{
		{"hinted: one operation", blob, b.ID, 1},
		{"wrong hint: the hinted key, then the other 4096-bit key", blob, a.ID, 3},
		{"foreign 4096-bit value: both 4096-bit keys, never the 2048-bit one", sealFor(t, loadKey(t, "bench-01")), crypto.KeyID{}, 5},
		{"malformed: none", []byte{0}, crypto.KeyID{}, 5},
	} {
		_, _, _ = ring.Decrypt(step.blob, nil, step.hint)
		if got := ring.Operations(); got != step.want {
			t.Fatalf("%s: %d operations in all, want %d", step.name, got, step.want)
		}
	}
}

func sealFor(t *testing.T, k *crypto.Key) []byte {
	t.Helper()
	blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

// TestCompromisedKeyStillUnseals checks the promise that marking a key
// compromised loses nothing.
func TestCompromisedKeyStillUnseals(t *testing.T) {
	k := loadKey(t, "c")
	blob, err := crypto.HybridEncrypt(rand.Reader, &k.PrivateKey.PublicKey, []byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *k
	c.Status = crypto.StatusCompromised
	if pt, _, err := crypto.NewKeyring(&c).Decrypt(blob, nil, crypto.KeyID{}); err != nil || string(pt) != "v" {
		t.Fatalf("compromised key: %q, %v", pt, err)
	}
}

func TestNewKeyRejectsMismatchedCertificate(t *testing.T) {
	a, b := loadKey(t, "a"), loadKey(t, "b")
	if _, err := crypto.NewKey(a.PrivateKey, b.Certificate, crypto.StatusActive, time.Time{}); err == nil {
		t.Fatal("NewKey accepted another key's certificate")
	}
	if _, err := crypto.NewKey(nil, nil, crypto.StatusActive, time.Time{}); err == nil {
		t.Fatal("NewKey accepted a nil key")
	}
	k, err := crypto.NewKey(a.PrivateKey, nil, crypto.StatusActive, time.Time{})
	if err != nil || k.Certificate != nil {
		t.Fatalf("NewKey without certificate: %v", err)
	}
	if _, err := crypto.NewKeyring(k).Latest(); !errors.Is(err, crypto.ErrNoActiveKey) {
		t.Fatal("a key without certificate must not be chosen to seal")
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	a, _ := os.ReadFile(filepath.Join("testdata", "keys", "a.pem"))
	b, _ := os.ReadFile(filepath.Join("testdata", "keys", "b.pem"))
	certOnly := crypto.EncodeCertificatePEM(loadKey(t, "a").Certificate)
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"PKCS#1", a, ""},
		{"PKCS#8", b, ""},
		{"certificate only", certOnly, "no RSA private key"},
		{"garbage", []byte("not pem"), "no RSA private key"},
		{"corrupt PKCS#1", []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"), "parse PKCS#1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := crypto.ParsePrivateKeyPEM(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSealingCertificate(t *testing.T) {
	k := loadKey(t, "c")
	expired, err := crypto.NewCertificate(rand.Reader, k.PrivateKey, time.Now().Add(-48*time.Hour), time.Hour, "old")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"valid", crypto.EncodeCertificatePEM(k.Certificate), ""},
		{"first of a chain is used", append(crypto.EncodeCertificatePEM(k.Certificate), crypto.EncodeCertificatePEM(expired)...), ""},
		{"expired", crypto.EncodeCertificatePEM(expired), "expired"},
		{"empty", nil, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pub, err := crypto.ParseSealingCertificate(tt.pem, time.Now())
			if tt.wantErr == "" {
				if err != nil || !pub.Equal(&k.PrivateKey.PublicKey) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestWeakKeysNeverSeal: a certificate or public key under 2048 bits,
// which whoever hands kubeseal its --cert chooses, is refused for sealing
// by both entry points, while a 2048-bit key is accepted.
func TestWeakKeysNeverSeal(t *testing.T) {
	// crypto.GenerateKey refuses to make one; crypto/rsa still can.
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := crypto.NewCertificate(rand.Reader, weak, time.Now().Add(-time.Hour), 24*time.Hour, "weak")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = crypto.ParseSealingCertificate(crypto.EncodeCertificatePEM(cert), time.Now())
	if !errors.Is(err, crypto.ErrWeakKey) || !strings.Contains(err.Error(), "1024 bits, the minimum is 2048") {
		t.Errorf("ParseSealingCertificate of a 1024-bit key: %v, want ErrWeakKey naming both sizes", err)
	}
	if _, err := crypto.HybridEncrypt(rand.Reader, &weak.PublicKey, []byte("v"), nil); !errors.Is(err, crypto.ErrWeakKey) {
		t.Errorf("HybridEncrypt to a 1024-bit key: %v, want ErrWeakKey", err)
	}
	ok := loadKey(t, "c")
	if ok.PrivateKey.N.BitLen() != crypto.MinKeyBits {
		t.Fatalf("fixture c has %d bits, want exactly the minimum", ok.PrivateKey.N.BitLen())
	}
	if err := crypto.CheckSealingKey(&ok.PrivateKey.PublicKey); err != nil {
		t.Errorf("a %d-bit key: %v", crypto.MinKeyBits, err)
	}
}

func TestGenerateKeyAndCertificate(t *testing.T) {
	if _, err := crypto.GenerateKey(rand.Reader, 1024); err == nil {
		t.Fatal("1024-bit key accepted")
	}
	priv, err := crypto.GenerateKey(rand.Reader, crypto.MinKeyBits)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	cert, err := crypto.NewCertificate(rand.Reader, priv, now, crypto.DefaultCertValidity, "sealed-secret")
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA || cert.KeyUsage != x509.KeyUsageEncipherOnly || cert.Subject.CommonName != "sealed-secret" {
		t.Errorf("certificate shape differs from Bitnami's: %+v", cert)
	}
	if !cert.NotBefore.Equal(now) || !cert.NotAfter.Equal(now.Add(crypto.DefaultCertValidity)) {
		t.Errorf("validity = %v..%v", cert.NotBefore, cert.NotAfter)
	}
	if cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial has %d bits", cert.SerialNumber.BitLen())
	}
	k, err := crypto.NewKey(priv, cert, crypto.StatusActive, time.Time{})
	if err != nil || !k.Created.Equal(cert.NotBefore) {
		t.Fatalf("NewKey: %v, created %v", err, k.Created)
	}
}

// FuzzSplitBlob checks that the blob decoder never panics and that a split
// blob reassembles to the same bytes.
func FuzzSplitBlob(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.blob)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, blob []byte) {
		wrapped, sealed, err := crypto.SplitBlob(blob)
		if err != nil {
			if !errors.Is(err, crypto.ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		re := append([]byte{byte(len(wrapped) >> 8), byte(len(wrapped))}, wrapped...)
		if !bytes.Equal(append(re, sealed...), blob) {
			t.Fatal("split does not reassemble")
		}
	})
}

// FuzzDecrypt feeds arbitrary blobs to a keyring. Nothing may panic, and a
// blob that opens must be one that was sealed: the format is not malleable.
func FuzzDecrypt(f *testing.F) {
	ring := crypto.NewKeyring(loadKey(f, "c"))
	sealed := map[string]bool{}
	for _, v := range loadVectors(f) {
		f.Add(v.blob, []byte(crypto.Label(v.scope, v.namespace, v.secret)))
		if v.key == "c" {
			sealed[string(v.blob)] = true
		}
	}
	f.Fuzz(func(t *testing.T, blob, label []byte) {
		pt, key, err := ring.Decrypt(blob, label, crypto.KeyID{})
		if err != nil {
			if pt != nil || key != nil {
				t.Fatal("partial result with error")
			}
			return
		}
		if !sealed[string(blob)] {
			t.Fatalf("a blob that was never sealed opened: %x", blob)
		}
	})
}

func ExampleHybridEncrypt() {
	b, _ := os.ReadFile("testdata/keys/c.pem")
	priv, _ := crypto.ParsePrivateKeyPEM(b)
	label := crypto.Label(crypto.ScopeStrict, "default", "db-creds")
	blob, _ := crypto.HybridEncrypt(rand.Reader, &priv.PublicKey, []byte("hunter2"), label)
	pt, _ := crypto.HybridDecrypt(priv, blob, label)
	fmt.Println(string(pt))
	// Output: hunter2
}
