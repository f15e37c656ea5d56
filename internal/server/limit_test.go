package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealsync/sealsync/crypto"
)

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"peer", "192.0.2.1:5000", nil, "192.0.2.1"},
		{"forwarded", "10.0.0.1:443", []string{"198.51.100.7"}, "198.51.100.7"},
		// The service proxy appends the address it saw to what its caller
		// sent: the last entry is the one to trust.
		{"last of several", "10.0.0.1:443", []string{"203.0.113.9, 10.1.1.1, 198.51.100.7"}, "198.51.100.7"},
		{"spaces", "10.0.0.1:443", []string{"203.0.113.9 ,  198.51.100.7  "}, "198.51.100.7"},
		{"several headers", "10.0.0.1:443", []string{"203.0.113.9", "198.51.100.7"}, "198.51.100.7"},
		{"garbage falls back to the peer", "10.0.0.1:443", []string{"unknown"}, "10.0.0.1"},
		{"forged entry, garbage last", "10.0.0.1:443", []string{"203.0.113.9, unknown"}, "10.0.0.1"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
		{"IPv6 per /64", "[2001:db8:1:2:3:4:5:6]:5000", nil, "2001:db8:1:2::"},
		{"forwarded IPv6 per /64", "10.0.0.1:443", []string{"2001:db8:1:2:ffff::1"}, "2001:db8:1:2::"},
		{"zone dropped", "[fe80::1%eth0]:5000", nil, "fe80::"},
		{"no TCP peer", "@", nil, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// fakeClock is a settable clock for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func TestClientLimiterRefills(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newClientLimiter(2, 2, 100)
	l.now = clock.now
	a := addr(1)
	for i := range 2 {
		if _, ok := l.allow("/v1/verify", a); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	wait, ok := l.allow("/v1/verify", a)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("beyond the burst: ok=%v wait=%v, want refused for at most 500ms at 2/s", ok, wait)
	}
	// Refused requests take no token: after one interval exactly one more
	// request is allowed, however often the client retried.
	for range 10 {
		l.allow("/v1/verify", a)
	}
	clock.t = clock.t.Add(500 * time.Millisecond)
	if _, ok := l.allow("/v1/verify", a); !ok {
		t.Fatal("refused after a token refilled")
	}
	if _, ok := l.allow("/v1/verify", a); ok {
		t.Fatal("allowed twice after one token refilled")
	}
}

// TestClientLimiterBounded sends from many more addresses than the limiter
// keeps: its state must stay bounded, idle clients are forgotten first, and
// the active ones keep their buckets.
func TestClientLimiterBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	const maxEntries = 50
	l := newClientLimiter(2, 2, maxEntries)
	l.now = clock.now

	for i := range 100 * maxEntries {
		l.allow("/v1/rotate", addr(i))
		if n := l.len(); n > maxEntries {
			t.Fatalf("after %d clients the limiter holds %d entries, more than %d", i+1, n, maxEntries)
		}
	}
	// Idle entries (full buckets) go once the refill time has passed,
	// without waiting for the map to fill up.
	clock.t = clock.t.Add(time.Second)
	l.allow("/v1/rotate", addr(-1))
	if n := l.len(); n != 1 {
		t.Fatalf("%d entries after every other client went idle, want 1", n)
	}

	// Under more new clients than fit, a client that keeps coming back
	// keeps its empty bucket: eviction takes the least recently seen.
	hot := addr(1 << 20)
	l.allow("/v1/rotate", hot)
	l.allow("/v1/rotate", hot)
	for i := range 3 * maxEntries {
		l.allow("/v1/rotate", addr(i))
		if _, ok := l.allow("/v1/rotate", hot); ok {
			t.Fatalf("the hot client got a fresh bucket after %d other clients", i+1)
		}
	}
	if n := l.len(); n != maxEntries {
		t.Fatalf("%d entries, want %d", n, maxEntries)
	}
}

func TestClientLimiterConcurrent(t *testing.T) {
	l := newClientLimiter(1000, 10, 100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				l.allow("/v1/verify", addr(g*10000+i%300))
			}
		})
	}
	wg.Wait()
	if n := l.len(); n > 100 {
		t.Fatalf("%d entries, want at most 100", n)
	}
}

// TestConcurrencyLimit takes every unsealing slot, as that many slow
// requests in flight would, and checks that /v1/verify and /v1/rotate
// answer 429 from any client while cheap endpoints keep working.
func TestConcurrencyLimit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "crypto", "testdata", "keys", "c.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.ParsePrivateKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := crypto.ParseCertificatesPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.NewKey(priv, certs[0], crypto.StatusActive, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("testdata", "requests", "200-200-strict.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{RateLimit: 1e9, RateBurst: 1e6, MaxConcurrent: 3}, staticKeys{crypto.NewKeyring(k)})
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, client string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(string(body)))
		r.RemoteAddr = client + ":1000"
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	for range cap(s.heavy) {
		s.heavy <- struct{}{}
	}
	for i, path := range []string{"/v1/verify", "/v1/rotate"} {
		for c := range 5 {
			w := send(http.MethodPost, path, addr(i*100+c).String())
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
				t.Fatalf("%s with every slot taken: %d (Retry-After %q), want 429 with Retry-After", path, w.Code, w.Header().Get("Retry-After"))
			}
		}
	}
	for _, path := range []string{"/v1/cert.pem", "/v1/keys", "/healthz"} {
		if w := send(http.MethodGet, path, "192.0.2.1"); w.Code != http.StatusOK {
			t.Errorf("%s with every slot taken: %d", path, w.Code)
		}
	}
	<-s.heavy
	if w := send(http.MethodPost, "/v1/verify", "192.0.2.1"); w.Code != http.StatusOK {
		t.Fatalf("verify with one slot free: %d", w.Code)
	}
	if len(s.heavy) != cap(s.heavy)-1 {
		t.Fatal("verify did not give its slot back")
	}
	if w := send(http.MethodPost, "/v1/rotate", "192.0.2.1"); w.Code != http.StatusOK {
		t.Fatalf("rotate with one slot free: %d", w.Code)
	}
	if len(s.heavy) != cap(s.heavy)-1 {
		t.Fatal("rotate did not give its slot back")
	}
	// A refused or malformed request gives its slot back too.
	if w := send(http.MethodPost, "/v1/verify", "192.0.2.1"); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/verify", strings.NewReader("{"))
	s.Handler().ServeHTTP(httptest.NewRecorder(), r)
	if len(s.heavy) != cap(s.heavy)-1 {
		t.Fatal("a bad request kept its slot")
	}
}

func TestConcurrencyLimitDefault(t *testing.T) {
	s, err := New(Options{}, staticKeys{crypto.NewKeyring()})
	if err != nil {
		t.Fatal(err)
	}
	if cap(s.heavy) < 1 {
		t.Fatalf("default concurrency %d", cap(s.heavy))
	}
}

type staticKeys struct{ ring *crypto.Keyring }

func (k staticKeys) Keyring() *crypto.Keyring { return k.ring }
