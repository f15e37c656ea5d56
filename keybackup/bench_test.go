package keybackup

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sealsync/sealsync/crypto"
)

// benchSecrets returns the key Secrets of the 24 RSA-4096 test keys: two
// years of 30-day renewals.
func benchSecrets(tb testing.TB) []corev1.Secret {
	tb.Helper()
	var secrets []corev1.Secret
	for i := 1; i <= benchKeys; i++ {
		secrets = append(secrets, benchKey(i).secret(tb, crypto.StatusActive))
	}
	return secrets
}

// BenchmarkBackup24 measures a backup of 24 RSA-4096 keys: parsing and
// checking the key Secrets, then sealing an armored bundle to one X25519
// recipient.
func BenchmarkBackup24(b *testing.B) {
	secrets := benchSecrets(b)
	rec := newX25519(b).Recipient()
	var size int
	for b.Loop() {
		bundle, err := FromSecrets(secrets)
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if err := Seal(&out, bundle, rec); err != nil {
			b.Fatal(err)
		}
		size = out.Len()
	}
	b.ReportMetric(float64(size), "bundle-bytes")
}

// BenchmarkRestore24 measures opening that bundle: decrypting, verifying
// every key against the manifest and producing the Secrets to create.
func BenchmarkRestore24(b *testing.B) {
	id := newX25519(b)
	bundle, err := FromSecrets(benchSecrets(b))
	if err != nil {
		b.Fatal(err)
	}
	sealed := sealBundle(b, bundle, false, id.Recipient())
	for b.Loop() {
		got, err := Open(bytes.NewReader(sealed), id)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(got.Secrets("kube-system")); n != benchKeys {
			b.Fatalf("%d secrets", n)
		}
	}
}
