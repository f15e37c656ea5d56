package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealsync/sealsync/internal/keys/keyfile"

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
	k := testKey(t)
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

// TestConcurrencyLimitDefault: unsealing for clients leaves a CPU to the
// reconciles, and always has one slot.
func TestConcurrencyLimitDefault(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		s, err := New(Options{}, staticKeys{crypto.NewKeyring()})
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		if want := max(procs-1, 1); cap(s.heavy) != want {
			t.Errorf("GOMAXPROCS %d: default concurrency %d, want %d", procs, cap(s.heavy), want)
		}
	}
}

// serve serves s on a local port until the test ends and returns its
// address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// statusLine reads the first line of the response on conn, waiting at
// most d.
func statusLine(conn net.Conn, d time.Duration) (string, error) {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// waitInUse polls until the body budget holds want bytes.
func waitInUse(t *testing.T, s *Server, want int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.buffered.inUse() != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d body bytes reserved, want %d", s.buffered.inUse(), want)
		}
	}
}

// TestSlowUploadsHoldBoundedBytes: clients (tenants) that announce large
// bodies and send them slowly hold at most MaxBufferedBytes between them;
// the others get 429 before their bodies are read, no unsealing slot is
// held while bodies arrive, and the bytes come back when a slow client
// goes away or its body deadline passes.
func TestSlowUploadsHoldBoundedBytes(t *testing.T) {
	const bodySize, admitted, clients = 64 << 10, 4, 20
	s, err := New(Options{
		RateLimit: 1e9, RateBurst: 1e6, MaxBodyBytes: bodySize, MaxBufferedBytes: admitted * bodySize,
		ReadTimeout: time.Minute,
	}, staticKeys{crypto.NewKeyring(testKey(t))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	type answer struct {
		conn   net.Conn
		status string
		err    error
	}
	answers := make(chan answer, clients)
	var conns []net.Conn
	for range clients {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conns = append(conns, conn)
		// The headers and the first bytes of a body that never comes.
		if _, err := fmt.Fprintf(conn, "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nkind: Sealed", bodySize); err != nil {
			t.Fatal(err)
		}
		go func() {
			status, err := statusLine(conn, 2*time.Minute)
			answers <- answer{conn, status, err}
		}()
	}
	// Every client beyond the budget is answered while the admitted ones
	// are still sending.
	answered := map[net.Conn]bool{}
	for range clients - admitted {
		a := <-answers
		if a.err != nil || !strings.HasPrefix(a.status, "HTTP/1.1 429") {
			t.Fatalf("a client beyond the budget got %q (%v), want 429", a.status, a.err)
		}
		answered[a.conn] = true
	}
	if got := s.buffered.inUse(); got != admitted*bodySize {
		t.Fatalf("%d body bytes reserved, want the budget %d", got, admitted*bodySize)
	}
	if n := len(s.heavy); n != 0 {
		t.Fatalf("%d unsealing slots held by bodies still arriving", n)
	}
	// The slow clients go away: their bytes come back.
	for _, conn := range conns {
		if !answered[conn] {
			conn.Close()
		}
	}
	waitInUse(t, s, 0)

	// A slow client that stays is cut off by the body deadline (here the
	// shorter ReadTimeout) and its bytes come back too.
	s2, err := New(Options{RateLimit: 1e9, RateBurst: 1e6, MaxBodyBytes: bodySize, ReadTimeout: time.Second}, staticKeys{crypto.NewKeyring(testKey(t))})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", serve(t, s2))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /v1/rotate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nkind: Sealed", bodySize); err != nil {
		t.Fatal(err)
	}
	// 400, not 429: the body was admitted, then not finished in time.
	if status, err := statusLine(conn, time.Minute); !strings.HasPrefix(status, "HTTP/1.1 400") {
		t.Fatalf("a body that stopped arriving: %q (%v), want 400", status, err)
	}
	waitInUse(t, s2, 0)
}

// TestConnectionLimit: beyond MaxConnections a new connection waits until
// one closes, however idle the open ones are.
func TestConnectionLimit(t *testing.T) {
	s, err := New(Options{RateLimit: 1e9, RateBurst: 1e6, MaxConnections: 2}, staticKeys{crypto.NewKeyring()})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// Accepted in the order they connect: two that say nothing, then one
	// that asks.
	idle := dial()
	probe := func(conn net.Conn) {
		t.Helper()
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// The second is proven accepted by an answer before the third connects.
	second := dial()
	probe(second)
	if status, err := statusLine(second, time.Minute); !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("second connection: %q (%v)", status, err)
	}
	third := dial()
	probe(third)
	if status, err := statusLine(third, 500*time.Millisecond); err == nil {
		t.Fatalf("a connection beyond the limit was served: %q", status)
	}
	idle.Close()
	if status, err := statusLine(third, time.Minute); !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("after a connection closed: %q (%v), want 200", status, err)
	}
}

// testKey returns the RSA-2048 test key c.
func testKey(t *testing.T) *crypto.Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "crypto", "testdata", "keys", "c.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfile.ParseKeys(b)
	if err != nil || len(keys) != 1 || keys[0].Certificate == nil {
		t.Fatalf("want one key with its certificate: %d keys, %v", len(keys), err)
	}
	return keys[0]
}

type staticKeys struct{ ring *crypto.Keyring }

func (k staticKeys) Keyring() *crypto.Keyring { return k.ring }

// anyone authenticates every token and refreshes nothing.
type anyone struct{}

func (anyone) Authenticate(context.Context, string) (Caller, error) {
	return Caller{Username: "ci"}, nil
}

func (anyone) Refresh(context.Context, Caller, RefreshRequest) (RefreshResult, error) {
	return RefreshResult{}, nil
}

// TestRefreshConcurrencyLimit takes every refresh slot, as that many
// requests waiting on the API server would, and checks that further
// refreshes get 429 at once, before their token is checked, while the
// other endpoints are unaffected.
func TestRefreshConcurrencyLimit(t *testing.T) {
	s, err := New(Options{RateLimit: 1e9, RateBurst: 1e6, Refresher: anyone{}}, staticKeys{crypto.NewKeyring()})
	if err != nil {
		t.Fatal(err)
	}
	send := func() int {
		r := httptest.NewRequest(http.MethodPost, "/v1/refresh", strings.NewReader(`{"kind": "ClusterSecretStore", "name": "vault"}`))
		r.Header.Set("Authorization", "Bearer t")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w.Code
	}
	for range cap(s.refreshing) {
		s.refreshing <- struct{}{}
	}
	if c := send(); c != http.StatusTooManyRequests {
		t.Fatalf("refresh with every slot taken: %d, want 429", c)
	}
	if cap(s.refreshing) != maxConcurrentRefreshes || cap(s.heavy) == 0 {
		t.Fatal("slots not sized as documented")
	}
	<-s.refreshing
	if c := send(); c != http.StatusOK {
		t.Fatalf("refresh with one slot free: %d", c)
	}
	if len(s.refreshing) != cap(s.refreshing)-1 {
		t.Fatal("refresh did not give its slot back")
	}
}
