package reencrypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
)

// loadKey reads a PEM key and certificate as an active key created at
// created, which orders it among the others.
func loadKey(tb testing.TB, path string, created time.Time) *crypto.Key {
	tb.Helper()
	b, err := os.ReadFile(path)
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
	k, err := crypto.NewKey(priv, certs[0], crypto.StatusActive, created)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

var epoch = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// testKeys returns 2048-bit keys, so that hundreds of real unseals stay
// fast: old seals the tree, new is the newest.
func testKeys(tb testing.TB) (old, new *crypto.Key) {
	return loadKey(tb, filepath.Join("..", "..", "crypto", "testdata", "keys", "c.pem"), epoch),
		loadKey(tb, filepath.Join("testdata", "keys", "new-2048.pem"), epoch.Add(30*24*time.Hour))
}

// plaintexts records what each generated SealedSecret holds, by
// namespace/name, to check the round trip.
type plaintexts map[string]map[string]string

// writeTree writes n single-file SealedSecrets under dir, sealed with
// sealer, a tenth of them as JSON and the rest as YAML as kubeseal writes
// them, across strict, namespace-wide and cluster-wide scopes.
func writeTree(tb testing.TB, dir string, n, items int, sealer *sealing.Sealer, want plaintexts) {
	tb.Helper()
	for i := range n {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%03d", i), Namespace: fmt.Sprintf("team-%02d", i%20)},
			StringData: map[string]string{},
		}
		switch i % 7 {
		case 3:
			s.Annotations = map[string]string{ssv1alpha1.NamespaceWideAnnotation: "true"}
		case 5:
			s.Annotations = map[string]string{ssv1alpha1.ClusterWideAnnotation: "true"}
		}
		for j := range items {
			s.StringData[fmt.Sprintf("key-%d", j)] = fmt.Sprintf("value %d of %s", j, s.Name)
		}
		ss, err := sealer.SealSecret(s)
		if err != nil {
			tb.Fatal(err)
		}
		format, ext := manifest.YAML, ".yaml"
		if i%10 == 0 {
			format, ext = manifest.JSON, ".json"
		}
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, format, ss); err != nil {
			tb.Fatal(err)
		}
		path := filepath.Join(dir, s.Namespace, s.Name+ext)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		want[s.Namespace+"/"+s.Name] = s.StringData
	}
}

// masked replaces the key IDs of old and new by names and every
// ciphertext by <sealed>, which is all that differs from run to run.
func masked(b []byte, old, new *crypto.Key) []byte {
	s := strings.ReplaceAll(string(b), old.ID.String(), "<old-key-id>")
	s = strings.ReplaceAll(s, new.ID.String(), "<new-key-id>")
	return regexp.MustCompile(`[A-Za-z0-9+/]{100,}={0,2}`).ReplaceAll([]byte(s), []byte("<sealed>"))
}

// TestTree500 re-seals, with real keys offline, a tree of 500 files: 497
// single SealedSecrets as kubeseal writes them, and 3 files that mix
// SealedSecrets with other documents and comments, whose output must
// match testdata/tree500/golden byte for byte once ciphertexts are
// masked. Every SealedSecret must then open with the new key alone and
// give back its plaintext.
func TestTree500(t *testing.T) {
	old, new := testKeys(t)
	sealer := sealing.NewSealer(rand.Reader, &old.PrivateKey.PublicKey)
	dir := t.TempDir()
	want := plaintexts{}
	writeTree(t, filepath.Join(dir, "generated"), 497, 1, sealer, want)

	special := filepath.Join("testdata", "tree500", "special")
	entries, err := os.ReadDir(special)
	if err != nil || len(entries) != 3 {
		t.Fatalf("want 3 special files in %s: %v", special, err)
	}
	funcs := template.FuncMap{
		"keyid": func() string { return old.ID.String() },
		"seal": func(ns, name, plaintext string) (string, error) {
			scope := crypto.ScopeStrict
			if ns == "" {
				scope = crypto.ScopeClusterWide
			}
			return sealer.SealValue(scope, ns, name, []byte(plaintext))
		},
	}
	for _, e := range entries {
		tmpl, err := template.New(e.Name()).Funcs(funcs).ParseFiles(filepath.Join(special, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want["payments/payments-db"] = map[string]string{"user": "payments", "password": "correct horse battery staple"}
	want["search/search-credentials"] = map[string]string{"api-key": "s3arch-k3y", "token": "t0k3n"}
	want["legacy/shared-token"] = map[string]string{"token": "shared"}

	r, err := NewOffline(crypto.NewKeyring(old, new), new, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), r, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Summary{Files: 500, FilesChanged: 500, Found: 500, Resealed: 500}); sum != want {
		t.Fatalf("summary %v, want %v", sum, want)
	}

	for _, e := range entries {
		out, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		compareGolden(t, filepath.Join("testdata", "tree500", "golden", e.Name()), masked(out, old, new), false)
	}

	onlyNew := crypto.NewKeyring(new)
	found := 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		docs, err := manifest.Split(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, doc := range docs {
			if doc.Kind != ssv1alpha1.SchemeGroupVersion.WithKind("SealedSecret") {
				continue
			}
			ss, err := manifest.DecodeDocument[ssv1alpha1.SealedSecret](doc, doc.Kind)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			found++
			if got := ss.Annotations[ssv1alpha1.KeyIDAnnotation]; got != new.ID.String() {
				t.Errorf("%s: key-id %s, want the new key's", p, got)
			}
			u, err := sealing.UnsealItems(onlyNew, ss)
			if err != nil {
				t.Errorf("%s: does not open with the new key alone: %v", p, err)
				continue
			}
			exp := want[ss.Namespace+"/"+ss.Name]
			if len(u.Items) != len(exp) {
				t.Errorf("%s: %d items, want %d", p, len(u.Items), len(exp))
			}
			for k, v := range exp {
				if string(u.Items[k]) != v {
					t.Errorf("%s: item %q does not round-trip", p, k)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != 500 {
		t.Errorf("found %d SealedSecrets after re-sealing, want 500", found)
	}
}

// BenchmarkReencrypt500 re-seals a tree of 500 files of two items each
// offline with 4096-bit keys: the throughput of kubeseal reencrypt
// --private-key. Each item costs one RSA-4096 private-key operation to
// open with the old key (the key-id hint makes it the first try) and one
// public-key operation to seal with the new one.
func BenchmarkReencrypt500(b *testing.B) {
	keys := filepath.Join("..", "..", "crypto", "testdata", "keys")
	old, new := loadKey(b, filepath.Join(keys, "a.pem"), epoch), loadKey(b, filepath.Join(keys, "b.pem"), epoch.Add(time.Hour))
	src := b.TempDir()
	writeTree(b, src, 500, 2, sealing.NewSealer(rand.Reader, &old.PrivateKey.PublicKey), plaintexts{})
	r, err := NewOffline(crypto.NewKeyring(old, new), new, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := copyTree(b, src)
		b.StartTimer()
		sum, err := Run(context.Background(), r, []string{dir}, Options{})
		if err != nil || sum.Resealed != 500 {
			b.Fatalf("%v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "files/s")
}
