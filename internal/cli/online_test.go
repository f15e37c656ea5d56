package cli_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/rest"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
)

// The online tests run kubeseal against the envtest API server, which
// proxies to a real server.Server as a cluster's would (serveController).

var t0 = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)

// cliKey loads testdata/keys/<name>.pem as an active key created at
// created.
func cliKey(tb testing.TB, name string, created time.Time) *crypto.Key {
	tb.Helper()
	b := readFile(tb, filepath.Join("testdata", "keys", name+".pem"))
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

// liveKeys is a server.Keys that tests can change under a running server.
type liveKeys struct {
	ring atomic.Pointer[crypto.Keyring]
}

func (k *liveKeys) Keyring() *crypto.Keyring { return k.ring.Load() }

func newKeys(ks ...*crypto.Key) *liveKeys {
	k := &liveKeys{}
	k.ring.Store(crypto.NewKeyring(ks...))
	return k
}

// onlineController starts a server.Server for k with opts behind the
// service proxy in a fresh namespace and returns the namespace and a
// kubeconfig for the API server.
func onlineController(t *testing.T, k server.Keys, opts server.Options) (ns, kubeconfig string) {
	t.Helper()
	ns = testkit.RequireEnv(t, env).Namespace(t)
	opts.Logger = funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{Verbosity: 1})
	s, err := server.New(opts, k)
	if err != nil {
		t.Fatal(err)
	}
	serveController(t, ns, s.Handler())
	return ns, writeKubeconfig(t)
}

const dbSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
stringData:
  password: s3cr3t-online
`

func TestOnlineFetchCertAndSeal(t *testing.T) {
	latest, older := cliKey(t, "key", t0.Add(time.Hour)), cliKey(t, "other-key", t0)
	ns, kc := onlineController(t, newKeys(older, latest), server.Options{})
	online := []string{"--kubeconfig", kc, "--controller-namespace", ns}

	stdout, stderr, code := kubeseal(nil, append(online, "--fetch-cert")...)
	if code != 0 {
		t.Fatalf("--fetch-cert: exit %d: %s", code, stderr)
	}
	if want := string(crypto.EncodeCertificatePEM(latest.Certificate)); stdout != want {
		t.Fatalf("--fetch-cert printed another certificate:\n%s", stdout)
	}

	// Sealing without --cert fetches the certificate the same way.
	sealed, stderr, code := kubeseal([]byte(dbSecret), append(online, "-o", "yaml")...)
	if code != 0 {
		t.Fatalf("seal: exit %d: %s", code, stderr)
	}
	ss := decodeSealed(t, sealed)
	if got := ss.Annotations[ssv1alpha1.KeyIDAnnotation]; got != latest.ID.String() {
		t.Errorf("sealed with key %s, want the latest %s", got, latest.ID)
	}
	recovered, stderr, code := kubeseal([]byte(sealed), "--recovery-unseal", "--recovery-private-key", filepath.Join("testdata", "keys", "key.pem"), "-o", "yaml")
	if code != 0 || !strings.Contains(recovered, "password: czNjcjN0LW9ubGluZQ==") {
		t.Fatalf("recovery-unseal: exit %d: %s\n%s", code, stderr, recovered)
	}
}

func TestOnlineErrors(t *testing.T) {
	ns, kc := onlineController(t, newKeys(), server.Options{})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no key yet", []string{"--controller-namespace", ns, "--fetch-cert"}, `^error: cannot fetch certificate: `},
		{"no controller", []string{"--controller-namespace", "default", "--fetch-cert"},
			`^error: cannot get sealed secret service: .*not found.*\nPlease, use the flag --controller-name and --controller-namespace`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := kubeseal(nil, append([]string{"--kubeconfig", kc}, tc.args...)...)
			if code != 1 || stdout != "" || !regexp.MustCompile(tc.want).MatchString(stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and stderr matching %s", code, stdout, stderr, tc.want)
			}
		})
	}
}

func decodeSealed(tb testing.TB, s string) *ssv1alpha1.SealedSecret {
	tb.Helper()
	ss, err := manifest.DecodeSealedSecrets(strings.NewReader(s))
	if err != nil {
		tb.Fatal(err)
	}
	if len(ss) != 1 {
		tb.Fatalf("want one SealedSecret, got %d", len(ss))
	}
	return ss[0]
}

// sealOffline seals dbSecret (renamed to name) with key k.
func sealOffline(t *testing.T, k *crypto.Key, name string) string {
	t.Helper()
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, crypto.EncodeCertificatePEM(k.Certificate), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := kubeseal([]byte(dbSecret), "--cert", cert, "--name", name, "-o", "yaml")
	if code != 0 {
		t.Fatalf("seal: %s", stderr)
	}
	return out
}

func TestOnlineValidate(t *testing.T) {
	latest, older := cliKey(t, "key", t0.Add(time.Hour)), cliKey(t, "other-key", t0)
	// Bitnami's defaults: 2 requests per second, burst 2.
	ns, kc := onlineController(t, newKeys(latest), server.Options{})
	online := []string{"--kubeconfig", kc, "--controller-namespace", ns, "--validate"}

	good := sealOffline(t, latest, "db")
	if _, stderr, code := kubeseal([]byte(good), online...); code != 0 {
		t.Fatalf("valid SealedSecret: exit %d: %s", code, stderr)
	}
	// Five at once: beyond the burst, the server answers 429 with
	// Retry-After through the proxy, and client-go waits and retries.
	var five strings.Builder
	for range 5 {
		five.WriteString(good)
	}
	start := time.Now()
	if _, stderr, code := kubeseal([]byte(five.String()), online...); code != 0 {
		t.Fatalf("five valid SealedSecrets: exit %d: %s", code, stderr)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("five validations took %v: the rate limit did not apply", d)
	}

	for _, tc := range []struct {
		name, in string
	}{
		{"unknown key", sealOffline(t, older, "db")},
		{"wrong name", strings.Replace(good, "name: db\n", "name: other\n", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := kubeseal([]byte(tc.in), online...)
			name := decodeSealed(t, tc.in).Name
			if want := "error: unable to decrypt sealed secret: " + name + "\n"; code != 1 || stdout != "" || stderr != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, want)
			}
		})
	}
}

func TestOnlineReEncrypt(t *testing.T) {
	latest, older := cliKey(t, "key", t0.Add(time.Hour)), cliKey(t, "other-key", t0)
	ns, kc := onlineController(t, newKeys(older, latest), server.Options{})
	online := []string{"--kubeconfig", kc, "--controller-namespace", ns, "--re-encrypt"}

	// In place, as Bitnami does when only -f is given.
	file := filepath.Join(t.TempDir(), "db-sealed.yaml")
	if err := os.WriteFile(file, []byte(sealOffline(t, older, "db")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := kubeseal(nil, append(online, "-f", file)...); code != 0 {
		t.Fatalf("re-encrypt: exit %d: %s", code, stderr)
	}
	rotated := string(readFile(t, file))
	if got := decodeSealed(t, rotated).Annotations[ssv1alpha1.KeyIDAnnotation]; got != latest.ID.String() {
		t.Errorf("re-encrypted with key %s, want the latest %s", got, latest.ID)
	}
	recovered, stderr, code := kubeseal([]byte(rotated), "--recovery-unseal", "--recovery-private-key", filepath.Join("testdata", "keys", "key.pem"))
	if code != 0 || !strings.Contains(recovered, `"password": "czNjcjN0LW9ubGluZQ=="`) {
		t.Fatalf("the re-encrypted file does not open with the latest key alone: exit %d: %s\n%s", code, stderr, recovered)
	}

	// A SealedSecret the controller cannot open: Bitnami's message.
	unknown := strings.Replace(sealOffline(t, latest, "db"), "namespace: prod\n", "namespace: dev\n", 1)
	stdout, stderr, code := kubeseal([]byte(unknown), online...)
	if code != 1 || stdout != "" || stderr != "error: unable to rotate secret\n" {
		t.Errorf("unopenable input: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestOnlineForgedForwardedFor sends requests through the service proxy
// with a different forged X-Forwarded-For each time: the API server
// appends the real caller, and the server's limit still applies.
func TestOnlineForgedForwardedFor(t *testing.T) {
	ns, _ := onlineController(t, newKeys(cliKey(t, "key", t0)), server.Options{RateLimit: 0.001, RateBurst: 2})
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSuffix(env.Config.Host, "/") + "/api/v1/namespaces/" + ns + "/services/http:" + controllerName + ":http/proxy/v1/cert.pem"
	var codes []int
	for i := range 3 {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", "203.0.113."+string(rune('1'+i)))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Logf("X-Forwarded-For %s: %d", req.Header.Get("X-Forwarded-For"), resp.StatusCode)
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusOK || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v, want [200 200 429]: a forged X-Forwarded-For escaped the rate limit", codes)
	}
}

// TestBitnamiKubesealOnline runs Bitnami's kubeseal v0.36.6 (built by
// hack/tools.sh) against our server through the service proxy: the API is
// a drop-in for Bitnami's controller.
func TestBitnamiKubesealOnline(t *testing.T) {
	bin := testkit.Tool(t, "kubeseal", "kubeseal")
	latest, older := cliKey(t, "key", t0.Add(time.Hour)), cliKey(t, "other-key", t0)
	ns, kc := onlineController(t, newKeys(older, latest), server.Options{})
	home := t.TempDir()
	bitnami := func(stdin string, args ...string) (string, string, error) {
		cmd := exec.Command(bin, append([]string{"--kubeconfig", kc, "--controller-namespace", ns}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	cert, stderr, err := bitnami("", "--fetch-cert")
	if err != nil {
		t.Fatalf("--fetch-cert: %v: %s", err, stderr)
	}
	if cert != string(crypto.EncodeCertificatePEM(latest.Certificate)) {
		t.Fatalf("--fetch-cert printed another certificate:\n%s", cert)
	}
	sealed, stderr, err := bitnami(dbSecret, "-o", "yaml")
	if err != nil {
		t.Fatalf("seal: %v: %s", err, stderr)
	}
	if _, stderr, err := bitnami(sealed, "--validate"); err != nil {
		t.Fatalf("--validate of its own output: %v: %s", err, stderr)
	}
	wrong := strings.Replace(sealed, "namespace: prod\n", "namespace: dev\n", 1)
	if _, stderr, err := bitnami(wrong, "--validate"); err == nil || !strings.Contains(stderr, "unable to decrypt sealed secret") {
		t.Errorf("--validate of a retargeted SealedSecret: %v: %s", err, stderr)
	}

	rotated, stderr, err := bitnami(sealOffline(t, older, "db"), "--re-encrypt", "-o", "yaml")
	if err != nil {
		t.Fatalf("--re-encrypt: %v: %s", err, stderr)
	}
	if got := decodeSealed(t, rotated).Annotations[ssv1alpha1.KeyIDAnnotation]; got != latest.ID.String() {
		t.Errorf("re-encrypted with key %s, want the latest %s", got, latest.ID)
	}
	if _, stderr, err := bitnami(wrong, "--re-encrypt"); err == nil || !strings.Contains(stderr, "unable to rotate secret") {
		t.Errorf("--re-encrypt of a retargeted SealedSecret: %v: %s", err, stderr)
	}
}
