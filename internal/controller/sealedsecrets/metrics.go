package sealedsecrets

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
)

// ssMetrics are Bitnami's SealedSecret controller metrics, same names and
// labels, so existing dashboards and alerts keep working.
type ssMetrics struct {
	requests  prometheus.Counter
	errors    *prometheus.CounterVec
	condition *prometheus.GaugeVec
}

// Reasons of sealed_secrets_controller_unseal_errors_total, as Bitnami's.
const (
	reasonFetch     = "fetch"
	reasonUnseal    = "unseal"
	reasonUpdate    = "update"
	reasonUnmanaged = "unmanaged"
	reasonStatus    = "status"
)

// sealedSecretMetrics are registered once per process on controller-runtime's
// registry, however many managers a process (a test) starts.
var sealedSecretMetrics = sync.OnceValue(func() *ssMetrics { return newSSMetrics(ctrlmetrics.Registry) })

func newSSMetrics(reg prometheus.Registerer) *ssMetrics {
	m := &ssMetrics{
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "sealed_secrets_controller", Name: "unseal_requests_total",
			Help: "Total number of sealed secret unseal requests",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "sealed_secrets_controller", Name: "unseal_errors_total",
			Help: "Total number of sealed secret unseal errors by reason",
		}, []string{"reason", "namespace"}),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "sealed_secrets_controller", Name: "condition_info",
			Help: "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)",
		}, []string{"namespace", "name", "condition", "ss_app_kubernetes_io_instance"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.errors, m.condition)
	}
	return m
}

var conditionValue = map[corev1.ConditionStatus]float64{
	corev1.ConditionFalse: -1, corev1.ConditionUnknown: 0, corev1.ConditionTrue: 1,
}

func (m *ssMetrics) observe(ss *ssv1alpha1.SealedSecret) {
	if ss.Status == nil {
		return
	}
	for _, c := range ss.Status.Conditions {
		m.condition.WithLabelValues(ss.Namespace, ss.Name, string(c.Type), ss.Labels["app.kubernetes.io/instance"]).Set(conditionValue[c.Status])
	}
}

// observe records ss's conditions in condition_info, unless the operator
// asked that metrics name no SealedSecret.
func (r *Reconciler) observe(ss *ssv1alpha1.SealedSecret) {
	if !r.OmitConditionMetric {
		r.metrics.observe(ss)
	}
}

func (m *ssMetrics) forget(namespace, name string) {
	m.condition.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
}
