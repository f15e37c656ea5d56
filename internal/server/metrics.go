package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sealsync/sealsync/internal/version"
)

// metricNamespace prefixes every metric, as in Bitnami's controller, so that
// existing dashboards and alerts keep working.
const metricNamespace = "sealed_secrets_controller"

// metrics are the HTTP API's Prometheus metrics. Their path label is always
// a route's fixed path, never the request's URL, so clients cannot make
// the label set grow.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricNamespace,
		Name:      "http_requests_total",
		Help:      "A counter for requests to the wrapped handler.",
	}, []string{"path", "code", "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricNamespace,
		Name:      "http_request_duration_seconds",
		Help:      "A histogram of latencies for requests.",
		Buckets:   prometheus.DefBuckets,
	}, []string{"path", "method"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   metricNamespace,
		Name:        "build_info",
		Help:        "Build information.",
		ConstLabels: prometheus.Labels{"revision": version.String()},
	})
	// Bitnami leaves this gauge at 0; 1 is the Prometheus convention for
	// info metrics, and only the label is ever read.
	build.Set(1)

	m := &metrics{}
	var err error
	if m.requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	if _, err = register(reg, build); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg, or returns the identical collector already
// there, so that several servers (or tests) can share a registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("server: register metrics: %w", err)
}

// instrument counts and times h's requests under route.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	path := prometheus.Labels{"path": route}
	return promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(path),
		promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(path), h))
}
