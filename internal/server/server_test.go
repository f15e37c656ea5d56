package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/server"
)

// keys is a server.Keys whose keyring tests can swap.
type keys struct {
	ring atomic.Pointer[crypto.Keyring]
}

var _ server.Keys = (*keys)(nil)

func newKeys(r *crypto.Keyring) *keys {
	k := &keys{}
	k.ring.Store(r)
	return k
}

func (k *keys) Keyring() *crypto.Keyring { return k.ring.Load() }

// logBuffer collects every log line, at every verbosity.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintln(&l.buf, prefix, args)
	}, funcr.Options{Verbosity: 10})
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// unlimited is the rate limit of tests that are not about rate limiting.
var unlimited = math.Inf(1)

func newServer(tb testing.TB, opts server.Options, ring *crypto.Keyring) http.Handler {
	tb.Helper()
	s, err := server.New(opts, newKeys(ring))
	if err != nil {
		tb.Fatal(err)
	}
	return s.Handler()
}

// do sends one request from client (an IP address) to h.
func do(h http.Handler, method, target string, body []byte, client string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.RemoteAddr = net.JoinHostPort(client, "40000")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type request struct {
	name                   string
	body                   []byte
	verifyWant, rotateWant int
}

// readRequests returns testdata/requests, failing if there are none.
func readRequests(tb testing.TB) []request {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(requestsDir, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no request bodies in testdata/requests: run go test -run TestUpdateRequests -update")
	}
	var reqs []request
	for _, p := range paths {
		name := filepath.Base(p)
		parts := strings.SplitN(name, "-", 3)
		if len(parts) != 3 {
			tb.Fatalf("%s: want <verify status>-<rotate status>-<case>", name)
		}
		v, err1 := strconv.Atoi(parts[0])
		r, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			tb.Fatalf("%s: want <verify status>-<rotate status>-<case>", name)
		}
		body, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		reqs = append(reqs, request{name: name, body: body, verifyWant: v, rotateWant: r})
	}
	return reqs
}

func decodeOne(tb testing.TB, b []byte) *ssv1alpha1.SealedSecret {
	tb.Helper()
	ss, err := manifest.DecodeSealedSecrets(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	if len(ss) != 1 {
		tb.Fatalf("want one SealedSecret, got %d", len(ss))
	}
	return ss[0]
}

func assertNoPlaintext(tb testing.TB, what, s string) {
	tb.Helper()
	for _, p := range []string{plainPassword, plainUser} {
		if strings.Contains(s, p) {
			tb.Errorf("%s contains the plaintext %q", what, p)
		}
	}
}

// TestRequests posts every body in testdata/requests to /v1/verify and
// /v1/rotate and checks the status its name gives, what a rotated
// SealedSecret holds, and that no plaintext reaches a response or a log.
func TestRequests(t *testing.T) {
	ring := testRing(t)
	latest, err := ring.Latest()
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	// AcceptV1Data as the controller's --accept-deprecated-v1-data
	// defaults; TestDeprecatedV1Data covers it off.
	h := newServer(t, server.Options{RateLimit: unlimited, AcceptV1Data: true, Logger: logs.logger()}, ring)
	for _, req := range readRequests(t) {
		t.Run(req.name, func(t *testing.T) {
			w := do(h, http.MethodPost, "/v1/verify", req.body, "192.0.2.10")
			if w.Code != req.verifyWant {
				t.Errorf("verify: status %d, want %d (body %q)", w.Code, req.verifyWant, w.Body)
			}
			assertNoPlaintext(t, "verify response", w.Body.String())

			w = do(h, http.MethodPost, "/v1/rotate", req.body, "192.0.2.10")
			if w.Code != req.rotateWant {
				t.Fatalf("rotate: status %d, want %d (body %q)", w.Code, req.rotateWant, w.Body)
			}
			assertNoPlaintext(t, "rotate response", w.Body.String())
			if w.Code != http.StatusOK {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("rotate: Content-Type %q", ct)
			}
			checkRotated(t, ring, latest, decodeOne(t, req.body), decodeOne(t, w.Body.Bytes()))
		})
	}
	assertNoPlaintext(t, "the log", logs.String())
	if !strings.Contains(logs.String(), "cannot unseal") {
		t.Errorf("refusals were not logged:\n%s", logs.String())
	}
}

// checkRotated checks that out is in re-sealed for latest: the same
// plaintext under the same top-level scope, name and namespace, openable
// by latest alone, with everything else (the template above all) copied.
func checkRotated(t *testing.T, ring *crypto.Keyring, latest *crypto.Key, in, out *ssv1alpha1.SealedSecret) {
	t.Helper()
	if out.Name != in.Name || out.Namespace != in.Namespace || sealing.ScopeOf(out) != sealing.ScopeOf(in) {
		t.Errorf("rotate changed what binds the values: %s/%s %v, was %s/%s %v",
			out.Namespace, out.Name, sealing.ScopeOf(out), in.Namespace, in.Name, sealing.ScopeOf(in))
	}
	if !reflect.DeepEqual(out.Spec.Template, in.Spec.Template) {
		t.Errorf("rotate changed the template:\n got %+v\nwant %+v", out.Spec.Template, in.Spec.Template)
	}
	if got := out.Annotations[ssv1alpha1.KeyIDAnnotation]; got != latest.ID.String() {
		t.Errorf("key-id annotation %q, want the latest key %s", got, latest.ID)
	}
	before, err := sealing.UnsealItems(ring, in)
	if err != nil {
		t.Fatal(err)
	}
	after, err := sealing.UnsealItems(crypto.NewKeyring(latest), out)
	if err != nil {
		t.Fatalf("the rotated values do not open with the latest key alone: %v", err)
	}
	if !reflect.DeepEqual(before.Items, after.Items) {
		t.Error("rotate changed the plaintext")
	}
	for k, v := range in.Spec.EncryptedData {
		sealedWithLatest := len(before.Keys) == 1 && before.Keys[0] == latest.ID
		if sealedWithLatest != (out.Spec.EncryptedData[k] == v) {
			t.Errorf("item %q: ciphertext kept = %v, want %v (kept only if already sealed with the latest key)",
				k, out.Spec.EncryptedData[k] == v, sealedWithLatest)
		}
	}
}

// TestRotateCVE202622728 is the regression test for Bitnami
// CVE-2026-22728: template annotations claiming cluster-wide must not make
// /v1/rotate re-seal a strict value cluster-wide, where anyone could
// unseal it under a name and namespace of their choosing.
func TestRotateCVE202622728(t *testing.T) {
	ring := testRing(t)
	h := newServer(t, server.Options{RateLimit: unlimited}, ring)
	body, err := os.ReadFile(filepath.Join(requestsDir, "200-200-cve-2026-22728-template-cluster-wide.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in := decodeOne(t, body)
	if in.Spec.Template.Annotations[ssv1alpha1.ClusterWideAnnotation] != "true" || sealing.ScopeOf(in) != crypto.ScopeStrict {
		t.Fatal("fixture is not a strict SealedSecret whose template claims cluster-wide")
	}
	w := do(h, http.MethodPost, "/v1/rotate", body, "192.0.2.10")
	if w.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", w.Code, w.Body)
	}
	out := decodeOne(t, w.Body.Bytes())
	if sealing.ScopeOf(out) != crypto.ScopeStrict {
		t.Fatalf("rotated SealedSecret declares scope %v", sealing.ScopeOf(out))
	}
	for k, v := range out.Spec.EncryptedData {
		if v == in.Spec.EncryptedData[k] {
			t.Fatalf("item %q was not re-sealed, so the test proves nothing", k)
		}
		blob, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ring.Decrypt(blob, crypto.Label(crypto.ScopeStrict, "prod", "db"), crypto.KeyID{}); err != nil {
			t.Errorf("item %q does not open strict-bound to prod/db: %v", k, err)
		}
		if _, _, err := ring.Decrypt(blob, crypto.Label(crypto.ScopeClusterWide, "", ""), crypto.KeyID{}); !errors.Is(err, crypto.ErrDecryption) {
			t.Errorf("item %q opens cluster-wide: %v", k, err)
		}
		if _, _, err := ring.Decrypt(blob, crypto.Label(crypto.ScopeNamespaceWide, "prod", ""), crypto.KeyID{}); !errors.Is(err, crypto.ErrDecryption) {
			t.Errorf("item %q opens namespace-wide: %v", k, err)
		}
	}
	// The attack's second half: retarget the rotated object.
	stolen := out.DeepCopy()
	stolen.Name, stolen.Namespace = "loot", "attacker"
	stolen.Annotations[ssv1alpha1.ClusterWideAnnotation] = "true"
	if _, err := sealing.UnsealItems(ring, stolen); err == nil {
		t.Fatal("the rotated values unseal in the attacker's namespace")
	}
	if w := do(h, http.MethodPost, "/v1/verify", encode(t, manifest.JSON, stolen), "192.0.2.10"); w.Code != http.StatusConflict {
		t.Fatalf("verify of the retargeted object: %d, want 409", w.Code)
	}
}

// TestTemplatesNeverRun proves the oracle fixtures are live (running their
// templates gives different results depending on the plaintext) and that
// verify and rotate give the same answer for both anyway.
func TestTemplatesNeverRun(t *testing.T) {
	ring := testRing(t)
	h := newServer(t, server.Options{RateLimit: unlimited}, ring)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(requestsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	right := read("200-200-template-oracle-right-guess.yaml")
	wrong := read("200-200-template-oracle-wrong-guess.yaml")
	fails := read("200-200-template-fails.yaml")
	if _, _, err := sealing.Unseal(ring, decodeOne(t, right), sealing.Options{}); err == nil {
		t.Fatal("running the right-guess template succeeded: the fixture is not an oracle")
	}
	if _, _, err := sealing.Unseal(ring, decodeOne(t, wrong), sealing.Options{}); err != nil {
		t.Fatalf("running the wrong-guess template failed (%v): the fixture is not an oracle", err)
	}
	if _, _, err := sealing.Unseal(ring, decodeOne(t, fails), sealing.Options{}); err == nil {
		t.Fatal(`running {{ fail "boom" }} succeeded`)
	}
	for _, path := range []string{"/v1/verify", "/v1/rotate"} {
		for name, body := range map[string][]byte{"right guess": right, "wrong guess": wrong, "fail": fails} {
			w := do(h, http.MethodPost, path, body, "192.0.2.10")
			if w.Code != http.StatusOK {
				t.Errorf("%s, %s: status %d, want 200 (body %q)", path, name, w.Code, w.Body)
				continue
			}
			if path == "/v1/verify" && w.Body.Len() != 0 {
				t.Errorf("%s, %s: body %q, want none", path, name, w.Body)
			}
			if path == "/v1/rotate" {
				if got, want := decodeOne(t, w.Body.Bytes()).Spec.Template, decodeOne(t, body).Spec.Template; !reflect.DeepEqual(got, want) {
					t.Errorf("%s, %s: template changed:\n got %+v\nwant %+v", path, name, got, want)
				}
			}
		}
	}
}

func TestNoKey(t *testing.T) {
	strict, err := os.ReadFile(filepath.Join(requestsDir, "200-200-strict.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, a, b := testKeys(t)
	for _, tc := range []struct {
		name string
		ring *crypto.Keyring
		// verifyWant differs: a compromised key still unseals.
		verifyWant int
	}{
		{"empty keyring", crypto.NewKeyring(), http.StatusServiceUnavailable},
		{"only a compromised key", crypto.NewKeyring(b), http.StatusConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newServer(t, server.Options{RateLimit: unlimited}, tc.ring)
			for _, r := range []struct {
				method, path string
				want         int
			}{
				{http.MethodGet, "/v1/cert.pem", http.StatusServiceUnavailable},
				{http.MethodPost, "/v1/rotate", http.StatusServiceUnavailable},
				{http.MethodPost, "/v1/verify", tc.verifyWant},
				{http.MethodGet, "/healthz", http.StatusOK},
				{http.MethodGet, "/v1/keys", http.StatusOK},
			} {
				w := do(h, r.method, r.path, strict, "192.0.2.10")
				if w.Code != r.want {
					t.Errorf("%s %s: %d, want %d", r.method, r.path, w.Code, r.want)
				}
				if w.Code == http.StatusServiceUnavailable && !strings.Contains(w.Body.String(), "no sealing key") {
					t.Errorf("%s %s: 503 body %q does not say why", r.method, r.path, w.Body)
				}
			}
		})
	}
	// A key added later is picked up without a restart.
	k := newKeys(crypto.NewKeyring())
	s, err := server.New(server.Options{RateLimit: unlimited}, k)
	if err != nil {
		t.Fatal(err)
	}
	if w := do(s.Handler(), http.MethodGet, "/v1/cert.pem", nil, "192.0.2.10"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("cert before the first key: %d", w.Code)
	}
	k.ring.Store(crypto.NewKeyring(a))
	if w := do(s.Handler(), http.MethodGet, "/v1/cert.pem", nil, "192.0.2.10"); w.Code != http.StatusOK {
		t.Fatalf("cert after the first key: %d", w.Code)
	}
}

func TestCert(t *testing.T) {
	c, a, b := testKeys(t)
	// The newest key is compromised: the newest active one is served.
	bNewest := loadKey(t, "b", crypto.StatusCompromised, t0.Add(72*time.Hour))
	for _, tc := range []struct {
		name string
		ring *crypto.Keyring
		want *crypto.Key
	}{
		{"newest active", crypto.NewKeyring(a, b, c), c},
		{"skips compromised", crypto.NewKeyring(a, bNewest), a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(newServer(t, server.Options{RateLimit: unlimited}, tc.ring), http.MethodGet, "/v1/cert.pem", nil, "192.0.2.10")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/x-pem-file" {
				t.Errorf("Content-Type %q", ct)
			}
			if !bytes.Equal(w.Body.Bytes(), crypto.EncodeCertificatePEM(tc.want.Certificate)) {
				t.Errorf("served another certificate:\n%s", w.Body)
			}
			// kubeseal parses what it gets and seals to its first certificate.
			if _, _, err := crypto.ParseSealingCertificate(w.Body.Bytes(), time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	c, a, b := testKeys(t)
	noCert, err := crypto.NewKey(b.PrivateKey, nil, crypto.StatusActive, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ring *crypto.Keyring
		want server.KeyList
	}{
		{"empty", crypto.NewKeyring(), server.KeyList{Keys: []server.KeyInfo{}}},
		{"newest first", crypto.NewKeyring(a, c, b), server.KeyList{Keys: []server.KeyInfo{
			{ID: c.ID.String(), Status: "active", Created: "2027-02-03T00:00:00Z", NotAfter: "2127-01-08T00:00:00Z", Latest: true},
			{ID: b.ID.String(), Status: "compromised", Created: "2027-02-02T00:00:00Z", NotAfter: "2127-01-08T00:00:00Z"},
			{ID: a.ID.String(), Status: "active", Created: "2027-02-01T00:00:00Z", NotAfter: "2127-01-08T00:00:00Z"},
		}}},
		{"no certificate", crypto.NewKeyring(noCert), server.KeyList{Keys: []server.KeyInfo{
			{ID: noCert.ID.String(), Status: "active", Created: "2027-01-31T23:00:00Z"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(newServer(t, server.Options{RateLimit: unlimited}, tc.ring), http.MethodGet, "/v1/keys", nil, "192.0.2.10")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got server.KeyList
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if strings.Contains(w.Body.String(), "PRIVATE") || strings.Contains(w.Body.String(), "CERTIFICATE") {
				t.Error("the key list carries key material")
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	h := newServer(t, server.Options{RateLimit: unlimited}, testRing(t))
	for _, tc := range []struct {
		method, path string
		want         int
		body         string
	}{
		{http.MethodGet, "/healthz", http.StatusOK, "ok\n"},
		{http.MethodHead, "/healthz", http.StatusOK, ""},
		{http.MethodGet, "/v1/verify", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/v1/rotate", http.StatusMethodNotAllowed, ""},
		{http.MethodPost, "/v1/cert.pem", http.StatusMethodNotAllowed, ""},
		{http.MethodDelete, "/v1/keys", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/v1/unknown", http.StatusNotFound, ""},
		{http.MethodGet, "/", http.StatusNotFound, ""},
		{http.MethodGet, "/metrics", http.StatusNotFound, ""},
	} {
		w := do(h, tc.method, tc.path, nil, "192.0.2.10")
		if w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
		if tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, w.Body, tc.body)
		}
	}
}

func TestRateLimit(t *testing.T) {
	strict, err := os.ReadFile(filepath.Join(requestsDir, "200-200-strict.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A rate so low that nothing refills during the test: only the burst
	// decides.
	opts := server.Options{RateLimit: 0.001, RateBurst: 2}
	for _, r := range []struct {
		method, path string
		body         []byte
	}{
		{http.MethodGet, "/v1/cert.pem", nil},
		{http.MethodGet, "/v1/keys", nil},
		{http.MethodPost, "/v1/verify", strict},
		{http.MethodPost, "/v1/rotate", strict},
	} {
		t.Run(r.path, func(t *testing.T) {
			h := newServer(t, opts, testRing(t))
			send := func(client string, header ...string) *httptest.ResponseRecorder {
				return do(h, r.method, r.path, r.body, client, header...)
			}
			for i := range 2 {
				if w := send("192.0.2.1"); w.Code != http.StatusOK {
					t.Fatalf("request %d within the burst: %d", i+1, w.Code)
				}
			}
			w := send("192.0.2.1")
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("request beyond the burst: %d, want 429", w.Code)
			}
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q, want whole seconds >= 1 (client-go retries on it)", w.Header().Get("Retry-After"))
			}
			// Other clients have their own buckets; so does every /64 of IPv6.
			if w := send("192.0.2.2"); w.Code != http.StatusOK {
				t.Errorf("another client: %d", w.Code)
			}
			if w := send("2001:db8::1"); w.Code != http.StatusOK {
				t.Errorf("IPv6 client: %d", w.Code)
			}
			send("2001:db8::2")
			if w := send("2001:db8::3"); w.Code != http.StatusTooManyRequests {
				t.Errorf("third request from the same IPv6 /64: %d, want 429", w.Code)
			}
			// Through the API server's service proxy every request comes
			// from the API server, which appends the client's address to
			// X-Forwarded-For; what the client sent itself comes first and
			// buys it no fresh bucket.
			for i := range 2 {
				if w := send("10.0.0.1", "X-Forwarded-For", "198.51.100.7"); w.Code != http.StatusOK {
					t.Fatalf("proxied request %d: %d", i+1, w.Code)
				}
			}
			if w := send("10.0.0.1", "X-Forwarded-For", "203.0.113.9, 198.51.100.7"); w.Code != http.StatusTooManyRequests {
				t.Errorf("third proxied request from one client, with a forged first entry: %d, want 429", w.Code)
			}
			if w := send("10.0.0.1", "X-Forwarded-For", "198.51.100.8"); w.Code != http.StatusOK {
				t.Errorf("proxied request from another client: %d", w.Code)
			}
			// An X-Forwarded-For that is not an address falls back to the peer.
			send("10.0.0.2", "X-Forwarded-For", "garbage")
			send("10.0.0.2")
			if w := send("10.0.0.2", "X-Forwarded-For", "more garbage"); w.Code != http.StatusTooManyRequests {
				t.Errorf("unparsable X-Forwarded-For: %d, want 429 from the peer's bucket", w.Code)
			}
			// Probes are never limited.
			for range 10 {
				if w := do(h, http.MethodGet, "/healthz", nil, "192.0.2.1"); w.Code != http.StatusOK {
					t.Fatalf("healthz: %d", w.Code)
				}
			}
		})
	}
	// Each endpoint has its own bucket per client, as in Bitnami.
	h := newServer(t, opts, testRing(t))
	for range 2 {
		do(h, http.MethodGet, "/v1/cert.pem", nil, "192.0.2.1")
	}
	if w := do(h, http.MethodGet, "/v1/keys", nil, "192.0.2.1"); w.Code != http.StatusOK {
		t.Errorf("/v1/keys after /v1/cert.pem's burst: %d", w.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	strict, err := os.ReadFile(filepath.Join(requestsDir, "200-200-strict.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		limit int64
		want  int
	}{
		{"at the limit", int64(len(strict)), http.StatusOK},
		{"one byte over", int64(len(strict)) - 1, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newServer(t, server.Options{RateLimit: unlimited, MaxBodyBytes: tc.limit}, testRing(t))
			for _, path := range []string{"/v1/verify", "/v1/rotate"} {
				if w := do(h, http.MethodPost, path, strict, "192.0.2.10"); w.Code != tc.want {
					t.Errorf("%s: %d, want %d", path, w.Code, tc.want)
				}
			}
		})
	}
	// The default is 1 MiB.
	h := newServer(t, server.Options{RateLimit: unlimited}, testRing(t))
	big := append(bytes.Repeat([]byte("#"), server.DefaultMaxBodyBytes), strict...)
	if w := do(h, http.MethodPost, "/v1/verify", big, "192.0.2.10"); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over 1 MiB: %d, want 413", w.Code)
	}
}

// TestDeprecatedV1Data: /v1/verify opens the deprecated spec.data only
// when the controller would (--accept-deprecated-v1-data); otherwise it
// answers 409, as unsealing would fail, without a private-key operation.
// The body is a tenant's.
func TestDeprecatedV1Data(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(requestsDir, "200-400-deprecated-v1-data.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		accept  bool
		want    int
		wantOps bool
	}{
		{"accepted", true, http.StatusOK, true},
		{"not accepted", false, http.StatusConflict, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := testRing(t)
			h := newServer(t, server.Options{RateLimit: unlimited, AcceptV1Data: tc.accept}, ring)
			if w := do(h, http.MethodPost, "/v1/verify", body, "192.0.2.10"); w.Code != tc.want {
				t.Fatalf("verify: %d, want %d", w.Code, tc.want)
			}
			if ops := ring.Operations(); (ops > 0) != tc.wantOps {
				t.Errorf("%d private-key operations", ops)
			}
			// rotate never re-seals spec.data, whatever the setting.
			if w := do(h, http.MethodPost, "/v1/rotate", body, "192.0.2.10"); w.Code != http.StatusBadRequest {
				t.Errorf("rotate: %d, want 400", w.Code)
			}
		})
	}
}

// manyItems returns a cluster-wide SealedSecret with n items, all the same
// value sealed to k: a cluster-wide value opens under any item name, so
// anyone with the public certificate can repeat one (a tenant's body).
func manyItems(t *testing.T, k *crypto.Key, n int) *ssv1alpha1.SealedSecret {
	t.Helper()
	ss := seal(t, k, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "many", Namespace: "prod", Annotations: map[string]string{ssv1alpha1.ClusterWideAnnotation: "true"}},
		StringData: map[string]string{"v": "x"},
	})
	v := ss.Spec.EncryptedData["v"]
	ss.Spec.EncryptedData = make(ssv1alpha1.SealedSecretEncryptedData, n)
	for i := range n {
		ss.Spec.EncryptedData[fmt.Sprintf("k%04d", i)] = v
	}
	return ss
}

// TestItemLimit: a body of 1,400 cluster-wide items, each an RSA-4096
// private-key operation, fits in 1 MiB; /v1/verify and /v1/rotate refuse
// it with 413 before trying any. Up to the limit, items are opened.
func TestItemLimit(t *testing.T) {
	_, a, _ := testKeys(t)
	body := encode(t, manifest.YAML, manyItems(t, a, 1400))
	if len(body) > server.DefaultMaxBodyBytes || len(body) < server.DefaultMaxBodyBytes*9/10 {
		t.Fatalf("body of %d bytes, want just under %d", len(body), server.DefaultMaxBodyBytes)
	}
	ring := testRing(t)
	h := newServer(t, server.Options{RateLimit: unlimited}, ring)
	for _, path := range []string{"/v1/verify", "/v1/rotate"} {
		start := time.Now()
		w := do(h, http.MethodPost, path, body, "192.0.2.10")
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "1400 items") {
			t.Errorf("%s: %d %q, want 413 naming the item count", path, w.Code, w.Body)
		}
		if ops := ring.Operations(); ops != 0 {
			t.Fatalf("%s: %d private-key operations before refusing", path, ops)
		}
		// The operation count is the real bound; this only catches a
		// refusal that does something slow instead.
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: refused after %v", path, d)
		}
	}

	three := encode(t, manifest.YAML, manyItems(t, a, 3))
	for _, tc := range []struct {
		name     string
		maxItems int
		want     int
		wantOps  uint64
	}{
		// The hint names a: one operation per item.
		{"at the limit", 3, http.StatusOK, 3},
		{"one over", 2, http.StatusRequestEntityTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := testRing(t)
			h := newServer(t, server.Options{RateLimit: unlimited, MaxItems: tc.maxItems}, ring)
			if w := do(h, http.MethodPost, "/v1/verify", three, "192.0.2.10"); w.Code != tc.want {
				t.Fatalf("verify: %d, want %d", w.Code, tc.want)
			}
			if ops := ring.Operations(); ops != tc.wantOps {
				t.Errorf("%d private-key operations, want %d", ops, tc.wantOps)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	strict, err := os.ReadFile(filepath.Join(requestsDir, "200-200-strict.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := os.ReadFile(filepath.Join(requestsDir, "409-409-wrong-name.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := newServer(t, server.Options{RateLimit: 0.001, RateBurst: 3, Registerer: reg}, testRing(t))
	do(h, http.MethodPost, "/v1/verify", strict, "192.0.2.1")
	do(h, http.MethodPost, "/v1/verify?cache-buster=1", wrong, "192.0.2.1")
	do(h, http.MethodPost, "/v1/verify?cache-buster=2", strict, "192.0.2.1")
	do(h, http.MethodPost, "/v1/verify", strict, "192.0.2.1") // 429
	do(h, http.MethodGet, "/v1/cert.pem", nil, "192.0.2.1")
	do(h, http.MethodGet, "/v1/no-such-path", nil, "192.0.2.1")
	do(h, http.MethodGet, "/healthz", nil, "192.0.2.1")

	want := `
# HELP sealed_secrets_controller_http_requests_total A counter for requests to the wrapped handler.
# TYPE sealed_secrets_controller_http_requests_total counter
sealed_secrets_controller_http_requests_total{code="200",method="get",path="/v1/cert.pem"} 1
sealed_secrets_controller_http_requests_total{code="200",method="post",path="/v1/verify"} 2
sealed_secrets_controller_http_requests_total{code="409",method="post",path="/v1/verify"} 1
sealed_secrets_controller_http_requests_total{code="429",method="post",path="/v1/verify"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sealed_secrets_controller_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "sealed_secrets_controller_http_request_duration_seconds"); err != nil || n != 2 {
		t.Errorf("duration series: %d (%v), want one per route and method used", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var build bool
	for _, mf := range mfs {
		if mf.GetName() != "sealed_secrets_controller_build_info" {
			continue
		}
		m := mf.GetMetric()[0]
		build = m.GetGauge().GetValue() == 1 && len(m.GetLabel()) == 1 && m.GetLabel()[0].GetName() == "revision" && m.GetLabel()[0].GetValue() != ""
	}
	if !build {
		t.Error("no sealed_secrets_controller_build_info{revision} 1")
	}
	// A second server on the same registry shares the metrics.
	if _, err := server.New(server.Options{Registerer: reg}, newKeys(testRing(t))); err != nil {
		t.Errorf("second server on one registry: %v", err)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts server.Options
	}{
		{"negative rate", server.Options{RateLimit: -1}},
		{"NaN rate", server.Options{RateLimit: math.NaN()}},
		{"negative burst", server.Options{RateBurst: -1}},
		{"negative concurrency", server.Options{MaxConcurrent: -1}},
		{"negative item limit", server.Options{MaxItems: -1}},
		{"negative connection limit", server.Options{MaxConnections: -1}},
		{"body budget below one body", server.Options{MaxBodyBytes: 1 << 20, MaxBufferedBytes: 1 << 19}},
	} {
		if _, err := server.New(tc.opts, newKeys(crypto.NewKeyring())); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := server.New(server.Options{}, nil); err == nil {
		t.Error("nil Keys: no error")
	}
	s, err := server.New(server.Options{}, newKeys(crypto.NewKeyring()))
	if err != nil {
		t.Fatal(err)
	}
	if s.NeedLeaderElection() {
		t.Error("every replica must serve: NeedLeaderElection is true")
	}
}

// TestServe serves on a real socket and checks that cancelling the context
// shuts down gracefully, letting a request in flight finish.
func TestServe(t *testing.T) {
	s, err := server.New(server.Options{RateLimit: unlimited}, newKeys(testRing(t)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok\n" {
		t.Fatalf("healthz: %q", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}

	// Start reports a bad address instead of serving.
	bad, err := server.New(server.Options{Addr: "256.0.0.1:http"}, newKeys(testRing(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(context.Background()); err == nil {
		t.Error("Start on an invalid address: no error")
	}
}

// FuzzRequest posts arbitrary bodies to /v1/verify and /v1/rotate. Nothing
// may panic, the status must be one of the documented ones, and a rotated
// answer must be one SealedSecret.
func FuzzRequest(f *testing.F) {
	for _, r := range readRequests(f) {
		f.Add(r.body)
	}
	// Only the RSA-2048 key, so that the fuzzer spends its time on parsing
	// rather than on 4096-bit private-key operations.
	c, _, _ := testKeys(f)
	s, err := server.New(server.Options{RateLimit: unlimited, MaxBodyBytes: 64 << 10}, newKeys(crypto.NewKeyring(c)))
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/verify", "/v1/rotate"} {
			w := do(h, http.MethodPost, path, body, "192.0.2.10")
			switch w.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("%s: unexpected status %d: %s", path, w.Code, w.Body)
			}
			if path == "/v1/rotate" && w.Code == http.StatusOK {
				if _, err := manifest.DecodeSealedSecrets(w.Body); err != nil {
					t.Fatalf("rotate answered something that is not a SealedSecret: %v", err)
				}
			}
		}
	})
}
