package externalsecrets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/providers"
)

// store adapts SecretStore and ClusterSecretStore, which share their spec
// and status.
type store interface {
	client.Object
	spec() *esv1.SecretStoreSpec
	status() *esv1.SecretStoreStatus
	kind() string
	// object is the API object itself, for client calls.
	object() client.Object
}

type namespacedStore struct{ *esv1.SecretStore }

func (s namespacedStore) spec() *esv1.SecretStoreSpec     { return &s.Spec }
func (s namespacedStore) status() *esv1.SecretStoreStatus { return &s.Status }
func (s namespacedStore) kind() string                    { return esv1.SecretStoreKind }
func (s namespacedStore) object() client.Object           { return s.SecretStore }

type clusterStore struct{ *esv1.ClusterSecretStore }

func (s clusterStore) spec() *esv1.SecretStoreSpec     { return &s.Spec }
func (s clusterStore) status() *esv1.SecretStoreStatus { return &s.Status }
func (s clusterStore) kind() string                    { return esv1.ClusterSecretStoreKind }
func (s clusterStore) object() client.Object           { return s.ClusterSecretStore }

// storeSpecHash identifies a store's spec version for the client cache.
func storeSpecHash(s store) string {
	return strconv.FormatInt(s.GetGeneration(), 10) + "/" + string(s.GetUID())
}

// errReferentAuth marks a ClusterSecretStore whose credentials are
// referenced without a namespace: they are resolved in each
// ExternalSecret's namespace, so the store alone cannot be validated.
var errReferentAuth = errors.New("credentials are resolved in each ExternalSecret's namespace")

// storeMetrics are ESO's store metrics.
type storeMetrics struct {
	condition *prometheus.GaugeVec
	duration  *prometheus.GaugeVec
}

func newStoreMetrics(reg prometheus.Registerer, prefix string) *storeMetrics {
	m := &storeMetrics{
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: prefix + "_status_condition", Help: "The status condition of a specific " + prefix,
		}, []string{"name", "namespace", "condition", "status"}),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: prefix + "_reconcile_duration", Help: "The duration time to reconcile the " + prefix,
		}, []string{"name", "namespace"}),
	}
	reg.MustRegister(m.condition, m.duration)
	return m
}

// StoreReconciler validates SecretStores (or ClusterSecretStores) and
// reports Ready, reusing the ExternalSecrets' client cache so validation
// costs no extra login.
type StoreReconciler struct {
	// Client reads and writes stores.
	Client client.Client
	// Clients is the shared client cache.
	Clients *esdata.ClientCache
	// Recorder emits events.
	Recorder events.EventRecorder
	// ControllerClass is the store class this controller serves; stores
	// of another class are left alone.
	ControllerClass string
	// Interval is how often a store is validated again unless the store
	// sets its own refreshInterval.
	Interval time.Duration
	// Cluster selects ClusterSecretStores instead of SecretStores.
	Cluster bool

	metrics *storeMetrics
}

// Reconcile validates one store.
func (r *StoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	start := time.Now()
	var s store
	if r.Cluster {
		s = clusterStore{&esv1.ClusterSecretStore{}}
	} else {
		s = namespacedStore{&esv1.SecretStore{}}
	}
	if err := r.Client.Get(ctx, req.NamespacedName, s.object()); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.condition.DeletePartialMatch(prometheus.Labels{"name": req.Name, "namespace": req.Namespace})
			r.metrics.duration.DeleteLabelValues(req.Name, req.Namespace)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if c := s.spec().Controller; c != "" && c != r.ControllerClass {
		return ctrl.Result{}, nil
	}
	defer func() { r.metrics.duration.WithLabelValues(req.Name, req.Namespace).Set(float64(time.Since(start))) }()

	status, reason, msg := corev1.ConditionTrue, esv1.ReasonStoreValid, "store validated"
	if err := r.validate(ctx, s); err != nil {
		switch {
		case errors.Is(err, errReferentAuth):
			reason, msg = esv1.ReasonValidationUnknown, "store validated per ExternalSecret: "+err.Error()
		case errors.Is(err, providers.ErrNotRegistered) || errors.Is(err, providers.ErrControllerIdentity) ||
			errors.Is(err, providers.ErrAPIServerAudience) || isConfigError(err):
			status, reason, msg = corev1.ConditionFalse, esv1.ReasonInvalidProviderConfig, err.Error()
		default:
			status, reason, msg = corev1.ConditionFalse, esv1.ReasonValidationFailed, err.Error()
		}
	}
	ev := &syncer.Events{Recorder: r.Recorder, Action: "Validate"}
	if status == corev1.ConditionFalse {
		ev.Add(corev1.EventTypeWarning, reason, msg)
	}
	err := r.setReady(ctx, s, status, reason, msg)
	ev.Emit(s.object())
	if err != nil {
		return ctrl.Result{}, err
	}
	if status == corev1.ConditionFalse {
		// Retry with the queue's backoff, as ESO does, not a whole interval
		// later: a store often comes before the Secret holding its
		// credentials (ESO's quickstart applies them in that order), and
		// nothing else re-triggers it when that Secret appears.
		return ctrl.Result{}, fmt.Errorf("%s %s: %s", s.kind(), req.NamespacedName, msg)
	}
	return ctrl.Result{RequeueAfter: r.interval(s)}, nil
}

// configError marks errors in the store's own configuration, as opposed
// to a backend that cannot be reached or refuses.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

func isConfigError(err error) bool {
	var ce configError
	return errors.As(err, &ce)
}

func (r *StoreReconciler) validate(ctx context.Context, s store) error {
	if _, err := providers.NameOf(s.spec()); err != nil {
		return configError{err}
	}
	ps := providers.Store{Kind: s.kind(), Name: s.GetName(), Namespace: s.GetNamespace(), Spec: s.spec()}
	c, _, err := r.Clients.Client(ctx, ps, storeSpecHash(s))
	if err != nil {
		return err
	}
	if v, ok := c.(providers.Validator); ok {
		if err := v.Validate(ctx); err != nil {
			r.Clients.Invalidate(ctx, ps)
			return err
		}
	}
	return nil
}

func (r *StoreReconciler) interval(s store) time.Duration {
	if ri := s.spec().RefreshInterval; ri != nil {
		switch ri.Type {
		case intstr.Int:
			if ri.IntVal > 0 {
				return time.Duration(ri.IntVal) * time.Second
			}
		case intstr.String:
			if d, err := time.ParseDuration(ri.StrVal); err == nil && d > 0 {
				return d
			}
		}
	}
	return r.Interval
}

func (r *StoreReconciler) setReady(ctx context.Context, s store, status corev1.ConditionStatus, reason, msg string) error {
	st := s.status()
	for _, cs := range []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse} {
		v := 0.0
		if cs == status {
			v = 1
		}
		r.metrics.condition.WithLabelValues(s.GetName(), s.GetNamespace(), string(esv1.SecretStoreReady), string(cs)).Set(v)
	}
	for _, c := range st.Conditions {
		if c.Type == esv1.SecretStoreReady && c.Status == status && c.Reason == reason && c.Message == msg &&
			st.Capabilities == esv1.SecretStoreReadOnly {
			return nil
		}
	}
	before := s.object().DeepCopyObject().(client.Object)
	cond := esv1.SecretStoreStatusCondition{Type: esv1.SecretStoreReady, Status: status, Reason: reason, Message: msg}
	st.Conditions = syncer.SetCondition(st.Conditions, cond, metav1.Now(), storeConditionFields)
	st.Capabilities = esv1.SecretStoreReadOnly
	if err := r.Client.Status().Patch(ctx, s.object(), client.MergeFrom(before)); err != nil {
		log.FromContext(ctx).Error(err, "patch store status")
		return client.IgnoreNotFound(err)
	}
	return nil
}

// storeConditionFields reads a store condition for syncer.SetCondition.
func storeConditionFields(c *esv1.SecretStoreStatusCondition) (string, corev1.ConditionStatus, *metav1.Time) {
	return string(c.Type), c.Status, &c.LastTransitionTime
}

// isStoreReady reports whether a store's Ready condition is True.
func isStoreReady(st *esv1.SecretStoreStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == esv1.SecretStoreReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
