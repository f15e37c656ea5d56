package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/testkit"
)

// env is the package's envtest control plane, nil under -short.
var env *testkit.Env

// controllerName is the Service kubeseal looks for by default.
const controllerName = "sealed-secrets-controller"

// nonLoopbackIP returns an IPv4 address of this machine that is neither
// loopback nor link-local: the API server's service proxy only dials
// endpoints it may, and EndpointSlice validation refuses loopback and
// link-local addresses.
func serveController(tb testing.TB, ns string, h http.Handler) {
	tb.Helper()
	e := testkit.RequireEnv(tb, env)
	ip, err := testkit.NonLoopbackIP()
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		tb.Fatalf("listen on %s: %v", ip, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	if err := testkit.ExposeService(ctx, e.Client, ns, controllerName, ip, int32(ln.Addr().(*net.TCPAddr).Port)); err != nil {
		tb.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		tb.Fatal(err)
	}
	testkit.Eventually(tb, 30*time.Second, func() (bool, error) {
		b, err := cs.CoreV1().Services(ns).ProxyGet("http", controllerName, "http", "/healthz", nil).DoRaw(ctx)
		if err != nil {
			return false, fmt.Errorf("GET /healthz through the service proxy: %w (%s)", err, bytes.TrimSpace(b))
		}
		if string(b) != "ok\n" {
			return false, fmt.Errorf("GET /healthz through the service proxy: %q", b)
		}
		return true, nil
	})
}

// writeKubeconfig writes a kubeconfig for the envtest API server as its
// administrator and returns its path.
func writeKubeconfig(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "kubeconfig")
	if err := testkit.RequireEnv(tb, env).WriteKubeconfig(path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// kubeseal runs kubeseal in process with stdin and returns its stdout,
// stderr and exit code.
func kubeseal(stdin []byte, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
