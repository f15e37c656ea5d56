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
//
// kubeseal reaches these through the API server's service proxy, so any
// authenticated user of the cluster may call them. Nothing they answer
// depends on a secret value beyond "it unseals" or "it does not".
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
// request says it is, /v1/verify and /v1/rotate, the two that cost RSA
// private-key operations, also share one global concurrency limit
// ([Options.MaxConcurrent]): however many clients there are, they cannot
// keep more than that many CPUs busy (Bitnami GHSA-jpp5-6cf2-prqh).
// Request bodies are capped at [Options.MaxBodyBytes].
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
	"sigs.k8s.io/controller-runtime/pkg/manager"

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

// RotateRequestAnnotation, set to an RFC 3339 time on any key Secret, asks
// the controller to generate a new key if its newest key is older than
// that time. It is how `kubeseal keys rotate` asks for a key: patching a
// key Secret needs rights the API server checks, which a call through the
// service proxy would not.
const RotateRequestAnnotation = "sealsync.dev/rotate-requested-at"

// RotateAnsweredAnnotation on a key Secret holds the value of the
// [RotateRequestAnnotation] that the key was generated for. A request is
// answered once, even when it names a time after the key's certificate
// (a client clock ahead of the controller's, or a request in the same
// second as the key), so a request can never make keys in a loop.
const RotateAnsweredAnnotation = "sealsync.dev/rotate-answers"

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
	// shutdownTimeout is how long Start waits for requests in flight once
	// its context is done.
	shutdownTimeout = 30 * time.Second
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
	// all clients together, may unseal at once; default GOMAXPROCS.
	MaxConcurrent int
	// ReadTimeout and WriteTimeout bound reading a request and writing its
	// response; default [DefaultTimeout] each.
	ReadTimeout, WriteTimeout time.Duration
	// MaxBodyBytes caps request bodies; default [DefaultMaxBodyBytes].
	// Larger bodies get 413.
	MaxBodyBytes int64
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
		o.MaxConcurrent = runtime.GOMAXPROCS(0)
	case o.MaxConcurrent < 0:
		return fmt.Errorf("server: max concurrent %d must be positive", o.MaxConcurrent)
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
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return nil
}

// Server is the controller's HTTP API. Every replica serves it: it only
// reads keys.
type Server struct {
	opts    Options
	keys    Keys
	log     logr.Logger
	limiter *clientLimiter
	// heavy admits the requests that cost RSA private-key operations;
	// its capacity is Options.MaxConcurrent.
	heavy   chan struct{}
	metrics *metrics
	handler http.Handler
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

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
		opts:    opts,
		keys:    keys,
		log:     opts.Logger,
		limiter: newClientLimiter(opts.RateLimit, opts.RateBurst, maxClients),
		heavy:   make(chan struct{}, opts.MaxConcurrent),
		metrics: m,
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
// down gracefully. It implements controller-runtime's manager.Runnable.
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
// Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadTimeout:       s.opts.ReadTimeout,
		ReadHeaderTimeout: s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
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
