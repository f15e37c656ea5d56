package externalsecrets

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// esMetrics are ESO's ExternalSecret metrics, same names and labels. Label
// values are object names and provider names, never secret data.
type esMetrics struct {
	syncCalls  *prometheus.CounterVec
	syncErrors *prometheus.CounterVec
	condition  *prometheus.GaugeVec
	duration   *prometheus.GaugeVec
	apiCalls   *prometheus.CounterVec
}

// externalSecretMetrics are registered once per process.
var externalSecretMetrics = sync.OnceValue(func() *esMetrics {
	m := &esMetrics{
		syncCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "externalsecret_sync_calls_total", Help: "Total number of the External Secret sync calls",
		}, []string{"name", "namespace"}),
		syncErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "externalsecret_sync_calls_error", Help: "Total number of the External Secret sync errors",
		}, []string{"name", "namespace"}),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "externalsecret_status_condition", Help: "The status condition of a specific External Secret",
		}, []string{"name", "namespace", "condition", "status"}),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "externalsecret_reconcile_duration", Help: "The duration time to reconcile the External Secret",
		}, []string{"name", "namespace"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "externalsecret_provider_api_calls_count", Help: "Number of API calls towards the secret provider",
		}, []string{"provider", "call", "status"}),
	}
	ctrlmetrics.Registry.MustRegister(m.syncCalls, m.syncErrors, m.condition, m.duration, m.apiCalls)
	return m
})

var (
	secretStoreMetrics        = sync.OnceValue(func() *storeMetrics { return newStoreMetrics(ctrlmetrics.Registry, "secretstore") })
	clusterSecretStoreMetrics = sync.OnceValue(func() *storeMetrics { return newStoreMetrics(ctrlmetrics.Registry, "clustersecretstore") })
)

func (m *esMetrics) observe(es *esv1.ExternalSecret) {
	for _, c := range es.Status.Conditions {
		for _, s := range []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse} {
			v := 0.0
			if s == c.Status {
				v = 1
			}
			m.condition.WithLabelValues(es.Name, es.Namespace, string(c.Type), string(s)).Set(v)
		}
	}
}

// synced records a sync of es that took took and ended with err. Only
// errors that are retried count as sync errors: a permanent failure
// (reconcile.TerminalError) waits for the spec to change, as a sync
// without error does.
func (m *esMetrics) synced(es *esv1.ExternalSecret, took time.Duration, err error) {
	m.duration.WithLabelValues(es.Name, es.Namespace).Set(float64(took))
	if err != nil && !errors.Is(err, reconcile.TerminalError(nil)) {
		m.syncErrors.WithLabelValues(es.Name, es.Namespace).Inc()
	}
}

func (m *esMetrics) forget(namespace, name string) {
	labels := prometheus.Labels{"name": name, "namespace": namespace}
	m.condition.DeletePartialMatch(labels)
	m.duration.DeletePartialMatch(labels)
	m.syncCalls.DeletePartialMatch(labels)
	m.syncErrors.DeletePartialMatch(labels)
}

// instrument counts the calls a client makes to its backend. A client
// that extracts properties itself, or reads in batches, stays one to the
// read dedupe layer above, which then reads each secret once for all its
// properties, and batches.
func (m *esMetrics) instrument(name providers.Name, c providers.Client) providers.Client {
	cc := &countingClient{Client: c, provider: string(name), calls: m.apiCalls}
	if bg, ok := c.(providers.BatchGetter); ok {
		return &batchCountingClient{countingClient: cc, bg: bg}
	}
	if ex, ok := c.(providers.PropertyExtractor); ok {
		return &extractingCountingClient{countingClient: cc, PropertyExtractor: ex}
	}
	return cc
}

// batchCountingClient is a countingClient of a client that reads in
// batches. One GetSecrets counts as one call, failed if any of its reads
// failed for another reason than "not found"; the provider may make a few
// backend calls for it (one per 20 secrets, say).
type batchCountingClient struct {
	*countingClient
	bg providers.BatchGetter
}

var _ providers.BatchGetter = (*batchCountingClient)(nil)

func (c *batchCountingClient) GetSecrets(ctx context.Context, refs []esv1.ExternalSecretDataRemoteRef) []providers.Result {
	results := c.bg.GetSecrets(ctx, refs)
	var err error
	for _, r := range results {
		if r.Err != nil && !errors.Is(r.Err, providers.ErrSecretNotFound) {
			err = r.Err
			break
		}
	}
	c.count("GetSecrets", err)
	return results
}

func (c *batchCountingClient) BatchSize() int { return c.bg.BatchSize() }

func (c *batchCountingClient) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	return c.bg.ExtractProperty(ref, whole)
}

func (c *batchCountingClient) ExtractMap(ref esv1.ExternalSecretDataRemoteRef, whole []byte) (map[string][]byte, error) {
	return c.bg.ExtractMap(ref, whole)
}

// extractingCountingClient is a countingClient of a client that extracts
// properties locally; extraction is no backend call and is not counted.
type extractingCountingClient struct {
	*countingClient
	providers.PropertyExtractor
}

var _ providers.PropertyExtractor = (*extractingCountingClient)(nil)

type countingClient struct {
	providers.Client
	provider string
	calls    *prometheus.CounterVec
}

func (c *countingClient) count(call string, err error) {
	status := "success"
	if err != nil {
		status = "error"
	}
	c.calls.WithLabelValues(c.provider, call, status).Inc()
}

func (c *countingClient) GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error) {
	v, err := c.Client.GetSecret(ctx, ref)
	c.count("GetSecret", err)
	return v, err
}

func (c *countingClient) GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error) {
	v, err := c.Client.GetSecretMap(ctx, ref)
	c.count("GetSecretMap", err)
	return v, err
}

func (c *countingClient) GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error) {
	v, err := c.Client.GetAllSecrets(ctx, find)
	c.count("GetAllSecrets", err)
	return v, err
}

// Validate passes through to a validating client.
func (c *countingClient) Validate(ctx context.Context) error {
	if v, ok := c.Client.(providers.Validator); ok {
		err := v.Validate(ctx)
		c.count("Validate", err)
		return err
	}
	return nil
}
