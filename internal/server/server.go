// Package server is the controller's HTTP API, on Bitnami's port and paths
// so that Bitnami's kubeseal reaches it unchanged.
//
// # Endpoints
//
//	GET  /healthz      "ok"; never rate limited
//	GET  /v1/cert.pem  the newest active key's certificate
//	POST /v1/verify    200 if one SealedSecret unseals, 409 if not
//	POST /v1/rotate    the SealedSecret re-sealed with the newest key
//	GET  /v1/keys      [KeyList]: public facts about every key
//	POST /v1/refresh   refresh ExternalSecrets now ([RefreshRequest]);
//	                   served when [Options.Refresher] is set
//
// /v1/rotate is Bitnami's name: it re-encrypts one SealedSecret and makes
// no key. Making keys (key renewal) is package keys.
//
// kubeseal reaches these through the API server's service proxy, so any
// authenticated user of the cluster may call them. Nothing they answer
// depends on a secret value beyond "it unseals" or "it does not".
//
// # Refresh on demand
//
// POST /v1/refresh is for webhooks: a CI job or a secret manager's event
// bus that knows a secret just changed asks for the ExternalSecrets that
// read it to be refreshed now rather than at their next interval. It is
// the only endpoint that acts on the caller's behalf, so it is the only
// one that authenticates:
//
//   - The caller sends a Kubernetes bearer token (a ServiceAccount
//     token, from a TokenRequest or a projected volume), which the
//     [Refresher] checks with a TokenReview. The API server's service
//     proxy does not forward its caller's token, so webhooks call the
//     controller's Service directly (http://sealed-secrets-controller.
//     kube-system:8080/v1/refresh from inside the cluster), not through
//     the proxy kubeseal uses.
//   - The caller must be allowed to patch each ExternalSecret refreshed
//     (a SubjectAccessReview): a refresh is what patching its
//     annotations would have done. For a store, only the ExternalSecrets
//     the caller may patch are refreshed, and the answer names only
//     those, so that it tells nobody about namespaces they have no
//     rights in.
//   - The answer says what was refreshed; the refresh itself is the
//     leader's, which reads the providers as soon as it gets to them.
//
// Besides the per-address rate limit every endpoint has, each
// authenticated user is rate limited at the same rate, at most four
// refresh requests run at once (429 beyond), a body is at most 4 KiB, and
// the [Refresher] bounds the ExternalSecrets one request may touch.
//
// # Untrusted input
//
// /v1/verify and /v1/rotate never execute spec.template.data: a template
// runs over plaintext, and its success or failure would leak that
// plaintext one bit per request through the status code (Bitnami
// GHSA-qj4p-m373-p2wg). The scope, name and namespace that bind each value
// come from the SealedSecret's top-level metadata only, never from the
// template, so /v1/rotate cannot widen a value's scope (Bitnami
// CVE-2026-22728).
//
// # Limits
//
// Every endpoint but /healthz is rate limited per client and endpoint
// ([Options.RateLimit]); a client over its rate gets 429 with a
// Retry-After header, which client-go (and so kubeseal) honours by
// waiting and retrying. Because a client's address is only what the
// request says it is, the rate limit is fairness, not protection; what
// bounds the cost of /v1/verify and /v1/rotate, the two that cost RSA
// private-key operations, is global:
//
//   - A request may carry at most [Options.MaxItems] encryptedData items,
//     each an RSA private-key operation (a cluster-wide SealedSecret needs
//     no name, so a 1 MiB body holds over a thousand), and is refused
//     with 413 before any is tried.
//   - At most [Options.MaxConcurrent] requests unseal at once, by default
//     one fewer than GOMAXPROCS, so that reconciles keep a CPU however
//     many clients call (Bitnami GHSA-jpp5-6cf2-prqh).
//   - Bodies are capped at [Options.MaxBodyBytes], and all bodies being
//     read or held at once at [Options.MaxBufferedBytes]: the bytes a body
//     may need are reserved before it is read, so many slow uploads
//     cannot hold more memory than that. A body must arrive within 30
//     seconds (less if [Options.ReadTimeout] is shorter), headers within
//     10.
//   - At most [Options.MaxConnections] connections are open at once;
//     beyond that new ones wait for one to close.
//
// Requests over a shared limit get 429 at once rather than wait, so that
// waiting requests hold nothing.
package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/sealsync/sealsync/crypto"
)

// Keys gives the server the controller's current keys.
type Keys interface {
	// Keyring returns the current snapshot; never nil, possibly empty while
	// the first key is being generated.
	Keyring() *crypto.Keyring
}

// KeyInfo is one entry of GET /v1/keys: what anyone may know about a key.
type KeyInfo struct {
	// ID is the key ID (crypto.KeyID) in hex.
	ID string `json:"id"`
	// Status is "active" or "compromised".
	Status string `json:"status"`
	// Created orders the keys (certificate NotBefore by default).
	Created string `json:"created"`
	// NotAfter is when the key's certificate expires, if it has one.
	NotAfter string `json:"notAfter,omitempty"`
	// Latest is true for the key new values are sealed with.
	Latest bool `json:"latest"`
}

// KeyList is the body of GET /v1/keys, newest first.
type KeyList struct {
	// Keys are the controller's keys, newest first.
	Keys []KeyInfo `json:"keys"`
}

// Defaults of [Options], as Bitnami's controller flags have them where it
// has the flag.
const (
	// DefaultAddr is where the API listens (Bitnami --listen-addr).
	DefaultAddr = ":8080"
	// DefaultRateLimit is the sustained requests per second one client may
	// make to one endpoint (Bitnami --rate-limit).
	DefaultRateLimit = 2
	// DefaultRateBurst is how many requests one client may make to one
	// endpoint at once (Bitnami --rate-limit-burst).
	DefaultRateBurst = 2
	// DefaultTimeout is the read and the write timeout (Bitnami
	// --read-timeout, --write-timeout).
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxBodyBytes is the largest request body in bytes. A
	// SealedSecret's values fit in a Secret, which etcd caps at 1 MiB.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxItems is the most encryptedData items one /v1/verify or
	// /v1/rotate request may carry. Each costs an RSA private-key
	// operation, milliseconds of CPU for a 4096-bit key, while a Secret
	// rarely holds more than a few dozen values.
	DefaultMaxItems = 256
	// DefaultMaxBufferedBytesFactor times MaxBodyBytes is the default of
	// Options.MaxBufferedBytes: 16 largest bodies at once.
	DefaultMaxBufferedBytesFactor = 16
	// DefaultMaxConnections is the default of Options.MaxConnections.
	DefaultMaxConnections = 512
	// shutdownTimeout is how long Start waits for requests in flight once
	// its context is done.
	shutdownTimeout = 30 * time.Second
	// readHeaderTimeout bounds reading a request's headers: a client that
	// trickles them holds a connection, never a CPU or a body buffer.
	readHeaderTimeout = 10 * time.Second
	// bodyReadTimeout bounds reading a body once its bytes are reserved:
	// 1 MiB at 50 KB/s takes 20 s.
	bodyReadTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections nobody uses, which would
	// otherwise count against MaxConnections.
	idleTimeout = 60 * time.Second
	// maxHeaderBytes caps a request's headers; Go's default is 1 MiB per
	// connection.
	maxHeaderBytes = 64 << 10
)

// Options configure a [Server]. The zero value of every field means its
// default.
type Options struct {
	// Addr is the TCP address Start listens on; default [DefaultAddr].
	Addr string
	// RateLimit is the sustained requests per second each client may make
	// to each endpoint; default [DefaultRateLimit]. math.Inf(1) turns rate
	// limiting off.
	RateLimit float64
	// RateBurst is how many requests each client may make to each endpoint
	// at once; default [DefaultRateBurst].
	RateBurst int
	// MaxConcurrent is how many /v1/verify and /v1/rotate requests, from
	// all clients together, may unseal at once; default GOMAXPROCS-1, at
	// least 1, so that one CPU is left for reconciles.
	MaxConcurrent int
	// MaxItems caps the encryptedData items of one /v1/verify or
	// /v1/rotate request, each an RSA private-key operation; default
	// [DefaultMaxItems]. More get 413 before any is tried.
	MaxItems int
	// ReadTimeout and WriteTimeout bound reading a request and writing its
	// response; default [DefaultTimeout] each. Headers must arrive within
	// 10 seconds and a body within 30 seconds of being admitted, or
	// within ReadTimeout if that is shorter.
	ReadTimeout, WriteTimeout time.Duration
	// MaxBodyBytes caps request bodies; default [DefaultMaxBodyBytes].
	// Larger bodies get 413.
	MaxBodyBytes int64
	// MaxBufferedBytes caps the bytes of all request bodies being read or
	// held at once; default [DefaultMaxBufferedBytesFactor] times
	// MaxBodyBytes. A body's bytes (its Content-Length, or MaxBodyBytes
	// when it has none) are reserved before it is read; when they are not
	// free the request gets 429.
	MaxBufferedBytes int64
	// MaxConnections caps the connections open at once; default
	// [DefaultMaxConnections]. Further connections wait until one closes.
	// kubelet's probes of /healthz wait with them: keep it well above the
	// clients' honest needs.
	MaxConnections int
	// AcceptV1Data lets /v1/verify open the deprecated spec.data field,
	// as the controller's --accept-deprecated-v1-data does for unsealing.
	// Off, such a SealedSecret gets 409 without a private-key operation.
	AcceptV1Data bool
	// Refresher serves POST /v1/refresh; nil leaves the route out (404),
	// as when the controller does not sync ExternalSecrets.
	Refresher Refresher
	// Registerer receives the HTTP metrics, under Bitnami's names. Nil
	// means the metrics are kept but not exported.
	Registerer prometheus.Registerer
	// Logger receives errors and, at V(1), refused requests. Never a
	// secret value.
	Logger logr.Logger
}

func (o *Options) setDefaults() error {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	switch {
	case o.RateLimit == 0:
		o.RateLimit = DefaultRateLimit
	case o.RateLimit < 0 || math.IsNaN(o.RateLimit):
		return fmt.Errorf("server: rate limit %v must be positive", o.RateLimit)
	}
	switch {
	case o.RateBurst == 0:
		o.RateBurst = DefaultRateBurst
	case o.RateBurst < 0:
		return fmt.Errorf("server: rate burst %d must be positive", o.RateBurst)
	}
	switch {
	case o.MaxConcurrent == 0:
		o.MaxConcurrent = max(runtime.GOMAXPROCS(0)-1, 1)
	case o.MaxConcurrent < 0:
		return fmt.Errorf("server: max concurrent %d must be positive", o.MaxConcurrent)
	}
	switch {
	case o.MaxItems == 0:
		o.MaxItems = DefaultMaxItems
	case o.MaxItems < 0:
		return fmt.Errorf("server: max items %d must be positive", o.MaxItems)
	}
	switch {
	case o.MaxConnections == 0:
		o.MaxConnections = DefaultMaxConnections
	case o.MaxConnections < 0:
		return fmt.Errorf("server: max connections %d must be positive", o.MaxConnections)
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultTimeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case o.MaxBufferedBytes == 0:
		o.MaxBufferedBytes = DefaultMaxBufferedBytesFactor * o.MaxBodyBytes
	case o.MaxBufferedBytes < o.MaxBodyBytes:
		return fmt.Errorf("server: max buffered bytes %d must be at least max body bytes %d", o.MaxBufferedBytes, o.MaxBodyBytes)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return nil
}

// Server is the controller's HTTP API. Every replica serves it: it reads
// keys, and asks for refreshes that the leader carries out.
type Server struct {
	opts    Options
	keys    Keys
	log     logr.Logger
	limiter *clientLimiter
	// heavy admits the requests that cost RSA private-key operations;
	// its capacity is Options.MaxConcurrent.
	heavy chan struct{}
	// refreshing admits the /v1/refresh requests that ask the API
	// server; its capacity is maxConcurrentRefreshes.
	refreshing chan struct{}
	// buffered holds the bytes reserved for request bodies; its capacity
	// is Options.MaxBufferedBytes.
	buffered *byteBudget
	metrics  *metrics
	handler  http.Handler
}

// New returns a server answering from keys, with opts' zero fields set to
// their defaults. It registers the metrics on opts.Registerer; a metric
// already registered there is shared.
func New(opts Options, keys Keys) (*Server, error) {
	if keys == nil {
		return nil, errors.New("server: nil Keys")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:       opts,
		keys:       keys,
		log:        opts.Logger,
		limiter:    newClientLimiter(opts.RateLimit, opts.RateBurst, maxClients),
		heavy:      make(chan struct{}, opts.MaxConcurrent),
		refreshing: make(chan struct{}, maxConcurrentRefreshes),
		buffered:   newByteBudget(opts.MaxBufferedBytes),
		metrics:    m,
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's handler, for tests and for callers that serve
// it themselves.
func (s *Server) Handler() http.Handler { return s.handler }

// NeedLeaderElection returns false: every replica serves the API.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens on Options.Addr and serves until ctx is done, then shuts
// down gracefully. It implements controller-runtime's manager.Runnable
// (asserted in the tests: kubeseal links this package for its wire types
// and need not link controller-runtime).
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then stops accepting, waits up to
// 30 seconds for requests in flight and returns nil. ln is closed when
// Serve returns. At most Options.MaxConnections connections from ln are
// open at once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = netutil.LimitListener(ln, s.opts.MaxConnections)
	srv := &http.Server{
		Handler:           s.handler,
		ReadTimeout:       s.opts.ReadTimeout,
		ReadHeaderTimeout: min(s.opts.ReadTimeout, readHeaderTimeout),
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       min(s.opts.ReadTimeout, idleTimeout),
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("serving the HTTP API", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Error(err, "HTTP API did not shut down cleanly")
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
