package disaster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/testkit"
)

// BenchmarkKeys24 times kubeseal keys backup and keys restore of 24
// RSA-4096 keys (two years of 30-day renewals, keybackup/testdata/bench)
// against a real API server: list, verify, seal and write the file; read,
// open, verify and create 24 key Secrets in an empty namespace.
func BenchmarkKeys24(b *testing.B) {
	testkit.SkipIfShort(b, "an envtest control plane")
	e, err := testkit.StartEnv()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.Stop() }()
	kc := filepath.Join(b.TempDir(), "kubeconfig")
	if err := e.WriteKubeconfig(kc); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	newNamespace := func() string {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
		if err := e.Client.Create(ctx, ns); err != nil {
			b.Fatal(err)
		}
		return ns.Name
	}
	src := newNamespace()
	files, err := filepath.Glob(filepath.Join("..", "..", "keybackup", "testdata", "bench", "*.pem"))
	if err != nil || len(files) != 24 {
		b.Fatalf("%d bench keys: %v", len(files), err)
	}
	for _, f := range files {
		pemBytes, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		priv, err := crypto.ParsePrivateKeyPEM(pemBytes)
		if err != nil {
			b.Fatal(err)
		}
		certs, err := crypto.ParseCertificatesPEM(pemBytes)
		if err != nil {
			b.Fatal(err)
		}
		k, err := crypto.NewKey(priv, certs[0], crypto.StatusActive, certs[0].NotBefore)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Client.Create(ctx, keysecret.New(k, src, keysecret.DefaultPrefix, nil, nil)); err != nil {
			b.Fatal(err)
		}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	idFile := filepath.Join(b.TempDir(), "id.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	bundle := filepath.Join(b.TempDir(), "keys.age")
	kubeseal := func(ns string, args ...string) string {
		var out, errb bytes.Buffer
		args = append([]string{"--kubeconfig", kc, "--controller-namespace", ns}, args...)
		if code := cli.Run(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}); code != 0 {
			b.Fatalf("kubeseal: %s", errb.String())
		}
		return out.String() + errb.String()
	}

	b.Run("backup", func(b *testing.B) {
		for range b.N {
			kubeseal(src, "keys", "backup", "-r", id.Recipient().String(), "-o", bundle)
		}
	})
	b.Run("restore", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			dst := newNamespace()
			b.StartTimer()
			if out := kubeseal(dst, "keys", "restore", "-i", bundle, "--identity", idFile); !strings.Contains(out, fmt.Sprintf("Restored %d keys", len(files))) {
				b.Fatalf("restore: %s", out)
			}
		}
	})
}
