package server

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// maxClients bounds the per-client rate limiter state. Entries idle long
// enough for their bucket to refill are dropped first, which loses
// nothing; only when more clients than this are active within one refill
// period is the least recently seen one forgotten early.
const maxClients = 10000

// clientLimiter gives each (endpoint, client) pair a token bucket: rate
// tokens per second, holding at most burst. A token bucket that never lets
// its tokens go negative, as here, admits exactly what GCRA (Bitnami's
// throttled limiter) admits.
type clientLimiter struct {
	limit rate.Limit
	burst int
	max   int
	// idle is how long an unused bucket takes to fill up again; an entry
	// idle for that long is the same as a new one and can be dropped.
	idle time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[clientKey]*list.Element
	// lru holds *clientEntry, most recently seen first.
	lru *list.List
}

// clientKey names a bucket: a route and either a client address or, on
// routes that authenticate their callers, a user name.
type clientKey struct {
	route string
	addr  netip.Addr
	user  string
}

type clientEntry struct {
	key     clientKey
	limiter *rate.Limiter
	seen    time.Time
}

func newClientLimiter(perSecond float64, burst, maxEntries int) *clientLimiter {
	l := &clientLimiter{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		max:     maxEntries,
		now:     time.Now,
		entries: map[clientKey]*list.Element{},
		lru:     list.New(),
	}
	if !math.IsInf(perSecond, 1) {
		l.idle = time.Duration(float64(burst) / perSecond * float64(time.Second))
	}
	return l
}

// allow takes a token from the bucket of (route, addr). When there is
// none it takes nothing and says how long until there is one.
func (l *clientLimiter) allow(route string, addr netip.Addr) (retryAfter time.Duration, ok bool) {
	return l.take(clientKey{route: route, addr: addr})
}

// allowUser is allow for an authenticated user, whose bucket is apart
// from every address's: an address is what the request claims, a user is
// what the API server vouched for.
func (l *clientLimiter) allowUser(route, user string) (retryAfter time.Duration, ok bool) {
	return l.take(clientKey{route: route, user: user})
}

func (l *clientLimiter) take(k clientKey) (retryAfter time.Duration, ok bool) {
	if l.limit == rate.Inf {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropIdle(now)
	var e *clientEntry
	if el, found := l.entries[k]; found {
		l.lru.MoveToFront(el)
		e = el.Value.(*clientEntry)
	} else {
		if l.lru.Len() >= l.max {
			l.remove(l.lru.Back())
		}
		e = &clientEntry{key: k, limiter: rate.NewLimiter(l.limit, l.burst)}
		l.entries[k] = l.lru.PushFront(e)
	}
	e.seen = now
	r := e.limiter.ReserveN(now, 1)
	if !r.OK() {
		return time.Second, false
	}
	if d := r.DelayFrom(now); d > 0 {
		// Refused requests cost nothing, so a client that keeps retrying
		// gets in as soon as its rate allows.
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// dropIdle removes the entries whose buckets are full again, oldest first.
func (l *clientLimiter) dropIdle(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if now.Sub(el.Value.(*clientEntry).seen) < l.idle {
			return
		}
		l.remove(el)
	}
}

func (l *clientLimiter) remove(el *list.Element) {
	l.lru.Remove(el)
	delete(l.entries, el.Value.(*clientEntry).key)
}

// len returns the number of clients tracked.
func (l *clientLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// clientAddr returns the address that identifies r's client for rate
// limiting: the last X-Forwarded-For entry, else the peer's address. IPv6
// addresses count per /64, the block one host usually has.
//
// The last entry, not the first: the API server's service proxy keeps the
// X-Forwarded-For its caller sent and appends the address it was called
// from, so only the last entry is the API server's word; a first entry
// would let any user pick a fresh bucket per request. A caller that
// bypasses the proxy and reaches the Service directly can still claim any
// address. The rate limit is therefore fairness between honest clients;
// what bounds the damage a dishonest one can do is the global limit on
// concurrent unsealing.
func clientAddr(r *http.Request) netip.Addr {
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
			return bucketAddr(a)
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return bucketAddr(ap.Addr())
	}
	// Unknown peers (not TCP) share one bucket.
	return netip.Addr{}
}

func bucketAddr(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// rateLimited wraps h so that each client may call it at the limiter's
// rate, and gets 429 with Retry-After beyond it.
func (s *Server) rateLimited(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		if wait, ok := s.limiter.allow(route, addr); !ok {
			s.log.V(1).Info("rate limited", "path", route, "client", addr.String())
			tooMany(w, wait, "too many requests: rate limit exceeded")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// acquire takes one of the global slots of sem (the RSA private-key work
// of /v1/verify and /v1/rotate, or the API server calls of /v1/refresh),
// or answers 429 and returns false when all are taken. Waiting for a slot
// instead would let a flood of requests hold connections and buffered
// bodies; client-go retries after Retry-After on its own.
func (s *Server) acquire(w http.ResponseWriter, sem chan struct{}, route string) (release func(), ok bool) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
		s.log.V(1).Info("concurrency limit reached", "path", route, "limit", cap(sem))
		tooMany(w, time.Second, "too many requests: server busy")
		return nil, false
	}
}

// byteBudget is a number of bytes shared by every request: request
// bodies reserve what they may need before they are read and give it back
// when they are done with it. Reserving never waits.
type byteBudget struct {
	limit int64
	used  atomic.Int64
}

func newByteBudget(limit int64) *byteBudget { return &byteBudget{limit: limit} }

// take reserves n bytes if they are free and reports whether it did.
func (b *byteBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *byteBudget) give(n int64) { b.used.Add(-n) }

// inUse returns the bytes reserved now.
func (b *byteBudget) inUse() int64 { return b.used.Load() }

// tooMany answers 429, closing the connection: the answer may come before
// the body was read (see closeUnread), and a client told to retry later
// has no use for it.
func tooMany(w http.ResponseWriter, retryAfter time.Duration, msg string) {
	closeUnread(w)
	secs := int(math.Ceil(retryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	http.Error(w, msg, http.StatusTooManyRequests)
}
