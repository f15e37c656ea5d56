// Command demo is `make demo`: it starts the local control plane the tests
// use (kube-apiserver + etcd), runs bin/controller against it, seals a
// Secret with bin/kubeseal (certificate fetched through the API server's
// service proxy, as in a cluster), applies it, rotates the key, shows that
// values sealed before and after both unseal, syncs an ExternalSecret from
// the fake provider and, when a Vault build is cached, from a Vault dev
// server; then stops everything.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sealsync/sealsync/internal/devenv"
	"github.com/sealsync/sealsync/internal/manifest"
)

const (
	controllerNS = "kube-system"
	appNS        = "shop"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

type demo struct {
	env        *devenv.Env
	dir        string
	kubeconfig string
	bin        string
}

func run() error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d := &demo{}
	var err error
	if d.dir, err = os.MkdirTemp("", "sealsync-demo-"); err != nil {
		return err
	}
	defer os.RemoveAll(d.dir)
	if d.bin, err = filepath.Abs("bin"); err != nil {
		return err
	}

	step("start a local control plane (kube-apiserver + etcd from ~/.cache/sealsync)")
	if d.env, err = devenv.StartEnv(); err != nil {
		return err
	}
	defer d.env.Stop()
	d.kubeconfig = filepath.Join(d.dir, "kubeconfig")
	if err := d.env.WriteKubeconfig(d.kubeconfig); err != nil {
		return err
	}
	if err := d.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}); err != nil {
		return err
	}

	step("start bin/controller and expose it as Service %s/sealed-secrets-controller", controllerNS)
	stop, err := d.startController(ctx)
	if err != nil {
		return err
	}
	defer stop()

	step("kubeseal --fetch-cert  (through the API server's service proxy)")
	var cert []byte
	if err := poll(ctx, 60*time.Second, func() error {
		cert, err = d.kubeseal(nil, "--fetch-cert")
		return err
	}); err != nil {
		return fmt.Errorf("controller never served its certificate: %w", err)
	}
	fmt.Print(string(cert))

	step("kubeseal -o yaml < examples/secrets/db-credentials.yaml")
	plain, err := os.ReadFile(filepath.Join("examples", "secrets", "db-credentials.yaml"))
	if err != nil {
		return err
	}
	sealed, err := d.kubeseal(plain, "-o", "yaml")
	if err != nil {
		return err
	}
	fmt.Print(string(sealed))

	step("apply the SealedSecret; the controller unseals it into a Secret")
	if err := d.apply(ctx, appNS, sealed); err != nil {
		return err
	}
	first, err := d.waitSecret(ctx, "db-credentials")
	if err != nil {
		return err
	}
	printSecret(first)

	step("kubeseal keys list")
	out, err := d.kubeseal(nil, "keys", "list")
	if err != nil {
		return err
	}
	fmt.Print(string(out))

	step("kubeseal keys rotate --wait  (the controller makes a new key now)")
	if out, err = d.kubeseal(nil, "keys", "rotate", "--wait", "--timeout", "90s"); err != nil {
		return err
	}
	fmt.Print(string(out))
	if out, err = d.kubeseal(nil, "keys", "list"); err != nil {
		return err
	}
	fmt.Print(string(out))

	step("seal a second Secret with the new key and apply it")
	second := strings.NewReplacer("db-credentials", "api-token", "username: shop", "token: tok_after_rotation",
		"password: correct-horse-battery-staple", "scope: write", "kubernetes.io/basic-auth", "Opaque").Replace(string(plain))
	sealed2, err := d.kubeseal([]byte(second), "-o", "yaml")
	if err != nil {
		return err
	}
	if err := d.apply(ctx, appNS, sealed2); err != nil {
		return err
	}
	s2, err := d.waitSecret(ctx, "api-token")
	if err != nil {
		return err
	}
	printSecret(s2)

	step("the Secret sealed before the rotation still unseals: delete it and watch it come back")
	if err := d.env.Client.Delete(ctx, first); err != nil {
		return err
	}
	if err := poll(ctx, 30*time.Second, func() error {
		s := &corev1.Secret{}
		if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "db-credentials"}, s); err != nil {
			return err
		}
		if s.UID == first.UID {
			return errors.New("not recreated yet")
		}
		printSecret(s)
		return nil
	}); err != nil {
		return err
	}

	step("an ExternalSecret from ESO's fake provider (examples/externalsecrets/fake.yaml)")
	fakeYAML, err := os.ReadFile(filepath.Join("examples", "externalsecrets", "fake.yaml"))
	if err != nil {
		return err
	}
	if err := d.apply(ctx, appNS, fakeYAML); err != nil {
		return err
	}
	s3, err := d.waitSecret(ctx, "payment-credentials")
	if err != nil {
		return err
	}
	printSecret(s3)

	if dir, err := exec.Command("hack/tools.sh", "--cached", "vault").Output(); err == nil {
		if err := d.vault(ctx, strings.TrimSpace(string(dir))); err != nil {
			return err
		}
	} else {
		step("Vault is not built yet: `make test` builds it, and the next `make demo` reads from it too")
	}
	step("done in %v: stopping the controller and the control plane", time.Since(start).Round(100*time.Millisecond))
	return nil
}

func (d *demo) vault(ctx context.Context, dir string) error {
	step("an ExternalSecret from a Vault dev server (examples/externalsecrets/vault.yaml)")
	v, err := devenv.StartVault(ctx)
	if err != nil {
		return err
	}
	defer v.Stop()
	if _, err := v.Client.KVv2("secret").Put(ctx, "shop/db", map[string]any{"password": "from-vault-v1"}); err != nil {
		return err
	}
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: appNS}, StringData: map[string]string{"token": v.RootToken}}
	if err := d.env.Client.Create(ctx, tok); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join("examples", "externalsecrets", "vault.yaml"))
	if err != nil {
		return err
	}
	if err := d.apply(ctx, appNS, bytes.ReplaceAll(b, []byte("VAULT_ADDR"), []byte(v.Addr))); err != nil {
		return err
	}
	s, err := d.waitSecret(ctx, "shop-db-from-vault")
	if err != nil {
		return err
	}
	printSecret(s)
	step("rotate the password in Vault; refreshInterval is 15s")
	if _, err := v.Client.KVv2("secret").Put(ctx, "shop/db", map[string]any{"password": "from-vault-v2"}); err != nil {
		return err
	}
	rotated := time.Now()
	return poll(ctx, 45*time.Second, func() error {
		s := &corev1.Secret{}
		if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "shop-db-from-vault"}, s); err != nil {
			return err
		}
		if string(s.Data["password"]) != "from-vault-v2" {
			return errors.New("not refreshed yet")
		}
		fmt.Printf("refreshed after %v\n", time.Since(rotated).Round(100*time.Millisecond))
		printSecret(s)
		return nil
	})
}

// startController runs bin/controller on a non-loopback address (the
// service proxy refuses loopback) and exposes it as Bitnami's Service.
func (d *demo) startController(ctx context.Context) (func(), error) {
	ip, err := devenv.NonLoopbackIP()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := filepath.Join(d.dir, "controller.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(d.bin, "controller"),
		"--kubeconfig", d.kubeconfig,
		"--listen-addr", net.JoinHostPort(ip.String(), fmt.Sprint(port)),
		"--listen-metrics-addr", "127.0.0.1:0",
		"--key-renew-period", "720h")
	cmd.Env = append(os.Environ(), "POD_NAMESPACE="+controllerNS)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fmt.Printf("controller pid %d, HTTP API on %s:%d, log %s\n", cmd.Process.Pid, ip, port, logPath)
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		logf.Close()
	}
	if err := devenv.ExposeService(ctx, d.env.Client, controllerNS, "sealed-secrets-controller", ip, int32(port)); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

func (d *demo) kubeseal(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(d.bin, "kubeseal"), append([]string{"--kubeconfig", d.kubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubeseal %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// apply creates every document of a YAML stream in namespace ns.
func (d *demo) apply(ctx context.Context, ns string, stream []byte) error {
	docs, err := manifest.Split(bytes.NewReader(stream))
	if err != nil {
		return err
	}
	for _, doc := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc.Raw, &u.Object); err != nil {
			return err
		}
		u.SetNamespace(ns)
		if err := d.env.Client.Create(ctx, u); err != nil {
			return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		fmt.Printf("created %s %s/%s\n", u.GetKind(), ns, u.GetName())
	}
	return nil
}

func (d *demo) waitSecret(ctx context.Context, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := poll(ctx, 60*time.Second, func() error {
		return d.env.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: name}, s)
	})
	if err != nil {
		// Say why: the source object's status and the controller's log.
		for _, kind := range []string{"SealedSecret", "ExternalSecret"} {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(map[string]string{"SealedSecret": "bitnami.com/v1alpha1", "ExternalSecret": "external-secrets.io/v1"}[kind])
			u.SetKind(kind)
			if d.env.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: name}, u) == nil {
				st, _ := yaml.Marshal(u.Object["status"])
				fmt.Fprintf(os.Stderr, "%s %s status:\n%s", kind, name, st)
			}
		}
		if b, rerr := os.ReadFile(filepath.Join(d.dir, "controller.log")); rerr == nil {
			lines := strings.Split(string(b), "\n")
			fmt.Fprintf(os.Stderr, "controller log (last lines):\n%s\n", strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	}
	return s, err
}

// printSecret prints a demo Secret with its values decoded: the values are
// the example's, made up for the demo.
func printSecret(s *corev1.Secret) {
	fmt.Printf("Secret %s/%s (type %s, owner %s):\n", s.Namespace, s.Name, s.Type, ownerOf(s))
	for k, v := range s.Data {
		fmt.Printf("  %s: %s\n", k, v)
	}
}

func ownerOf(s *corev1.Secret) string {
	if ref := metav1.GetControllerOf(s); ref != nil {
		return ref.Kind + "/" + ref.Name
	}
	return "none"
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
