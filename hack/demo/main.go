// Command demo is `make demo`: it generates a sealing key, seals the
// example Secret with bin/kubeseal and recovers it offline with the private
// key, printing each step.
package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sealsync/sealsync/crypto"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "sealsync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeseal, err := filepath.Abs(filepath.Join("bin", "kubeseal"))
	if err != nil {
		return err
	}
	input := filepath.Join("examples", "secrets", "db-credentials.yaml")

	step("generate a %d-bit sealing key and its certificate", crypto.DefaultKeyBits)
	start := time.Now()
	priv, err := crypto.GenerateKey(rand.Reader, crypto.DefaultKeyBits)
	if err != nil {
		return err
	}
	cert, err := crypto.NewCertificate(rand.Reader, priv, time.Now(), crypto.DefaultCertValidity, "sealsync-demo")
	if err != nil {
		return err
	}
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, crypto.EncodePrivateKeyPEM(priv), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(certFile, crypto.EncodeCertificatePEM(cert), 0o644); err != nil {
		return err
	}
	fmt.Printf("key ID %s (%v)\n", crypto.KeyIDOf(&priv.PublicKey), time.Since(start).Round(time.Millisecond))

	step("the plain Secret (%s) — this never goes to Git", input)
	plain, err := os.ReadFile(input)
	if err != nil {
		return err
	}
	fmt.Print(string(plain))

	step("kubeseal --cert cert.pem -o yaml -f %s", input)
	sealed, err := runCmd(nil, kubeseal, "--cert", certFile, "-o", "yaml", "-f", input)
	if err != nil {
		return err
	}
	fmt.Print(string(sealed))

	step("kubeseal --recovery-unseal --recovery-private-key key.pem -o yaml  (disaster recovery, offline)")
	recovered, err := runCmd(sealed, kubeseal, "--recovery-unseal", "--recovery-private-key", keyFile, "-o", "yaml")
	if err != nil {
		return err
	}
	fmt.Print(string(recovered))
	step("done: the values above are the base64 of the plain Secret's stringData")
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func runCmd(stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return out, nil
}
