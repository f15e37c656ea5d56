package sealedsecrets

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/syncer"
)

// Options configure the SealedSecret controller; cmd/controller fills them
// from Bitnami's flags.
type Options struct {
	// AcceptV1Data accepts the deprecated spec.data field.
	AcceptV1Data bool
	// UpdateStatus writes the Synced condition.
	UpdateStatus bool
	// SkipRecreate stops watching managed Secrets (no drift repair).
	SkipRecreate bool
	// DeleteOrphans deletes the Secret of a deleted SealedSecret itself
	// (--old-gc-behavior) instead of leaving it to garbage collection.
	DeleteOrphans bool
	// MaxUnsealRetries is how many quick retries a failing write gets
	// before backing off to minutes; retries never stop, so a transient
	// failure cannot lose a Secret for good (Bitnami #1599).
	MaxUnsealRetries int
	// Workers is the number of concurrent reconciles.
	Workers int
	// Recorder emits the events; nil is the manager's events.k8s.io
	// recorder.
	Recorder events.EventRecorder
	// StatusByUpdate writes the Synced condition with an update instead
	// of a patch, for an identity that may only update SealedSecret status
	// (Bitnami's chart).
	StatusByUpdate bool
	// OmitConditionMetric leaves sealed_secrets_controller_condition_info
	// alone, so that /metrics names no SealedSecret (Bitnami v0.40's
	// --metrics-omit-secret-labels).
	OmitConditionMetric bool
}

// Keys is the keyring SealedSecrets are unsealed with.
type Keys interface {
	// Keyring returns the current keys.
	Keyring() *crypto.Keyring
	// OnChange calls f after every change of the keyring.
	OnChange(f func())
}

// Setup adds the SealedSecret controller to mgr.
func Setup(mgr manager.Manager, keys Keys, opts Options) error {
	if opts.Recorder == nil {
		opts.Recorder = mgr.GetEventRecorder("sealed-secrets")
	}
	r := &Reconciler{
		Client:              mgr.GetClient(),
		APIReader:           mgr.GetAPIReader(),
		Keys:                keys,
		Recorder:            opts.Recorder,
		statusUpdate:        opts.StatusByUpdate,
		AcceptV1Data:        opts.AcceptV1Data,
		UpdateStatus:        opts.UpdateStatus,
		DeleteOrphans:       opts.DeleteOrphans,
		OmitConditionMetric: opts.OmitConditionMetric,
		metrics:             sealedSecretMetrics(),
	}
	return r.setupWithManager(mgr, keys, opts)
}

func (r *Reconciler) setupWithManager(mgr manager.Manager, keys Keys, opts Options) error {
	keyChanged := make(chan event.GenericEvent, 1)
	keys.OnChange(func() {
		select {
		case keyChanged <- event.GenericEvent{Object: &ssv1alpha1.SealedSecret{}}:
		default:
		}
	})
	workers := opts.Workers
	if workers < 1 {
		workers = 1
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&ssv1alpha1.SealedSecret{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// New keys (a restored backup, a relabelled key) can make failed
		// SealedSecrets unseal: retry those.
		WatchesRawSource(source.Channel(keyChanged, handler.EnqueueRequestsFromMapFunc(r.unsynced))).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: workers,
			RateLimiter:             retryLimiter(opts.MaxUnsealRetries),
			// Unseals before the status passes that follow writes.
			UsePriorityQueue: ptr.To(true),
		})
	if !opts.SkipRecreate {
		b = b.Watches(&corev1.Secret{}, secretEvents{},
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
				return o.GetLabels()[syncer.ManagedByLabel] == managedBySealedSecret
			})))
	}
	return b.Complete(r)
}

// secretEvents maps a managed Secret's events to its SealedSecret, which
// has its name and namespace. A change or a deletion (drift) is repaired
// at once; a Secret appearing is nearly always this controller's own
// write, whose status pass is already queued, so it does not jump the
// queue ahead of unseals still waiting.
type secretEvents struct{}

var _ handler.EventHandler = secretEvents{}

func secretRequest(o client.Object) reconcile.Request {
	return reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)}
}

// Create implements handler.EventHandler.
func (secretEvents) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(statusPriority)}, secretRequest(e.Object))
		return
	}
	q.Add(secretRequest(e.Object))
}

// Update implements handler.EventHandler.
func (secretEvents) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(secretRequest(e.ObjectNew))
}

// Delete implements handler.EventHandler.
func (secretEvents) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(secretRequest(e.Object))
}

// Generic implements handler.EventHandler.
func (secretEvents) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(secretRequest(e.Object))
}

// unsynced lists the SealedSecrets whose last unseal failed.
func (r *Reconciler) unsynced(ctx context.Context, _ client.Object) []reconcile.Request {
	var list ssv1alpha1.SealedSecretList
	if err := r.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list sealed secrets after a key change")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		ss := &list.Items[i]
		if !isSynced(ss) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(ss)})
		}
	}
	return reqs
}

func isSynced(ss *ssv1alpha1.SealedSecret) bool {
	if ss.Status == nil || ss.Status.ObservedGeneration != ss.Generation {
		return false
	}
	for _, c := range ss.Status.Conditions {
		if c.Type == ssv1alpha1.SealedSecretSynced {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// retryLimiter retries a failing item quickly quick times, as Bitnami does,
// then keeps retrying every few minutes instead of giving up.
func retryLimiter(quick int) workqueue.TypedRateLimiter[reconcile.Request] {
	if quick < 1 {
		quick = 1
	}
	fast := workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, 5*time.Minute)
	return &quickThenSlow{fast: fast, quick: quick, slow: time.Minute}
}

type quickThenSlow struct {
	fast  workqueue.TypedRateLimiter[reconcile.Request]
	quick int
	slow  time.Duration
}

func (l *quickThenSlow) When(item reconcile.Request) time.Duration {
	d := l.fast.When(item)
	if l.fast.NumRequeues(item) > l.quick {
		return max(d, l.slow)
	}
	return d
}

func (l *quickThenSlow) Forget(item reconcile.Request)          { l.fast.Forget(item) }
func (l *quickThenSlow) NumRequeues(item reconcile.Request) int { return l.fast.NumRequeues(item) }
