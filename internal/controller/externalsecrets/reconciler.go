package externalsecrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
)

// storeNotReadyRetry bounds the wait for a store to become Ready; the
// store's own Ready transition re-triggers sooner.
const storeNotReadyRetry = time.Minute

// Reconciler syncs ExternalSecrets from their stores into Secrets.
type Reconciler struct {
	// Client reads ExternalSecrets, stores and managed Secrets from the
	// cache and writes.
	Client client.Client
	// APIReader reads what the cache does not hold: Secrets not managed yet,
	// templateFrom sources.
	APIReader client.Reader
	// Clients is the shared per-store client cache.
	Clients *esdata.ClientCache
	// Recorder emits events.
	Recorder events.EventRecorder
	// ControllerClass is the store class this controller serves.
	ControllerClass string
	// FloodGate fails ExternalSecrets whose store is not Ready instead of
	// calling the provider, as ESO's --enable-flood-gate.
	FloodGate bool
	// Spread is the per-object offset inside a refresh slot.
	Spread time.Duration
	// NoClusterStores skips ExternalSecrets that use a ClusterSecretStore
	// and refuses ClusterSecretStore references, as ESO does when its
	// ClusterSecretStore controller is off.
	NoClusterStores bool

	metrics *esMetrics
	now     func() time.Time
	memory  syncer.Memory[memo]
}

// Reconcile syncs one ExternalSecret: read it, leave early what is not
// this controller's to do, resolve its store and target Secret, Decide
// (reading the providers if a refresh is due), act, and record the status
// once, on the way out.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	start := r.now()
	es := &esv1.ExternalSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, es); err != nil {
		if apierrors.IsNotFound(err) {
			r.memory.Forget(req.NamespacedName)
			r.metrics.forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !es.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, es)
	}
	if staleStatus(es, r.recall(es), start) {
		// Status-only updates are not watched, so look again shortly.
		return ctrl.Result{RequeueAfter: staleCacheRetry}, nil
	}
	st, err := r.resolveStore(ctx, es, nil)
	if errors.Is(err, errOtherClass) || errors.Is(err, errClusterStoresOff) {
		return ctrl.Result{}, nil
	}
	r.metrics.syncCalls.WithLabelValues(es.Name, es.Namespace).Inc()
	defer func() { r.metrics.synced(es, r.now().Sub(start), retErr) }()
	before := es.DeepCopy()
	ev := &syncer.Events{Recorder: r.Recorder, Action: "Sync"}
	defer func() {
		// A status that could not be written is retried, even after a
		// permanent failure: the failure must show.
		if err := r.patchStatus(ctx, before, es); err != nil && (retErr == nil || errors.Is(retErr, reconcile.TerminalError(nil))) {
			retErr = err
		}
		ev.Emit(es)
	}()
	if err != nil {
		return r.failed(ev, es, Failure{Message: err.Error(), Err: err, Retry: !errors.Is(err, errStoreNotReady) && !errors.Is(err, errNotAllowed)})
	}
	actual, err := r.getSecret(ctx, targetKey(es))
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("get target secret: %w", err)
	}

	in := Input{ES: es, Actual: actual, Last: r.recall(es).last, Identity: st.identity, Spread: r.Spread, Now: start}
	d := Decide(in)
	if d.Refresh {
		in.Read = r.read(ctx, es, st, d.NotBefore, d.Slot)
		d = Decide(in)
	}
	return r.act(ctx, ev, es, actual, d, start)
}

// read reads the providers of es and renders its template, sharing reads
// begun at notBefore or later, for refresh slot slot (see
// Decision.Refresh).
func (r *Reconciler) read(ctx context.Context, es *esv1.ExternalSecret, own *resolvedStore, notBefore time.Time, slot esdata.Slot) *Read {
	f := &esFetcher{r: r, es: es, own: own, notBefore: notBefore, slot: slot}
	data, err := esdata.BuildDesired(ctx, es, f, &templateSources{api: r.APIReader, namespace: es.Namespace})
	return &Read{Data: data, Err: err}
}

// act carries out d for es, whose target Secret is actual, in the
// reconcile that began at now, holding its events in ev.
func (r *Reconciler) act(ctx context.Context, ev *syncer.Events, es *esv1.ExternalSecret, actual *corev1.Secret, d Decision, now time.Time) (ctrl.Result, error) {
	for _, m := range d.Missing {
		ev.Add(corev1.EventTypeWarning, esv1.ReasonMissingProviderSecret, fmt.Sprintf("secret %v is missing in the provider", m))
	}
	if f := d.Failure; f != nil {
		d.Status.record(es)
		if !f.Retry && !d.Requeue.IsZero() {
			r.report(ev, es, *f)
			return r.requeueAt(d.Requeue, now), nil
		}
		return r.failed(ev, es, *f)
	}
	if d.Delete {
		if err := r.deleteTarget(ctx, actual); err != nil {
			return r.failed(ev, es, Failure{Message: msgDeleteError, Err: err, Retry: true})
		}
		r.remember(es, func(m *memo) { m.last = nil })
	}
	if d.Write != nil {
		if err := r.write(ctx, ev, es, *d.Write, actual); err != nil {
			if !d.Repair && (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) {
				return ctrl.Result{RequeueAfter: syncer.ConflictRetry}, nil
			}
			return r.failed(ev, es, Failure{Message: msgWriteError, Err: err, Retry: !permanentWriteError(err)})
		}
		if !d.Repair {
			r.remember(es, func(m *memo) { m.last = &Written{Secret: d.Write.Secret, Version: d.Status.Version} })
		}
	}
	d.Status.record(es)
	if r.recall(es).failures != 0 {
		r.remember(es, func(m *memo) { m.failures = 0 })
	}
	return r.requeueAt(d.Requeue, now), nil
}

// requeueAt schedules the next look at due, at low priority so that new
// and changed objects are served first.
func (r *Reconciler) requeueAt(due, now time.Time) ctrl.Result {
	if due.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(due.Sub(now), time.Second), Priority: ptr.To(handler.LowPriority)}
}

// permanentWriteError reports whether a write failed in a way that stays
// so until the spec (or the target) changes, which re-triggers: an
// immutable target, a token Secret, a Secret the API server finds invalid.
func permanentWriteError(err error) bool {
	return errors.Is(err, errImmutableTarget) || errors.Is(err, syncer.ErrTokenSecret) || apierrors.IsInvalid(err)
}

// write applies d over actual and reports it in an event (held in ev). Its error never
// carries what the API server said about the Secret's content
// (syncer.Apply).
func (r *Reconciler) write(ctx context.Context, ev *syncer.Events, es *esv1.ExternalSecret, d syncer.Desired, actual *corev1.Secret) error {
	action, err := syncer.Apply(ctx, r.Client, syncer.PlanApply(d, actual), actual,
		syncer.ApplyOptions{FieldOwner: fieldOwner(es), Immutable: errImmutableTarget})
	if err != nil {
		return err
	}
	switch action {
	case syncer.ActionCreate:
		ev.Add(corev1.EventTypeNormal, esv1.ReasonCreated, "Created Secret")
	case syncer.ActionUpdate:
		ev.Add(corev1.EventTypeNormal, esv1.ReasonUpdated, "Updated Secret")
	case syncer.ActionRecreate:
		ev.Add(corev1.EventTypeNormal, esv1.ReasonUpdated, "Recreated immutable Secret")
	}
	return nil
}

// deleteTarget deletes actual, if there is one, unless it changed hands
// since it was read (Decide checked it is this ExternalSecret's).
func (r *Reconciler) deleteTarget(ctx context.Context, actual *corev1.Secret) error {
	if actual == nil {
		return nil
	}
	uid := actual.UID
	return client.IgnoreNotFound(r.Client.Delete(ctx, actual, client.Preconditions{UID: &uid}))
}

// getSecret reads the target Secret: from the cache, which holds the
// Secrets already managed, else from the API server.
func (r *Reconciler) getSecret(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error) {
	s, err := syncer.GetSecret(ctx, r.Client, key)
	if s != nil || err != nil {
		return s, err
	}
	return syncer.GetSecret(ctx, r.APIReader, key)
}

// report records a failure: Ready=False with ESO's reason and a Warning
// event (held in ev); the Secret stays as it is. The error text comes from our own
// code and the providers, which never put secret values in errors, and
// from the API server's refusals, which syncer.Apply redacts.
func (r *Reconciler) report(ev *syncer.Events, es *esv1.ExternalSecret, f Failure) {
	ev.Add(corev1.EventTypeWarning, esv1.ReasonUpdateFailed, f.Err.Error())
	message := f.Message
	if f.Message != f.Err.Error() {
		message = f.Message + ": " + f.Err.Error()
	}
	setCondition(es, corev1.ConditionFalse, esv1.ConditionReasonSecretSyncedError, message)
}

// failed reports f and says when to look again: a store not ready within
// storeNotReadyRetry; a permanent failure (reconcile.TerminalError, which
// controller-runtime logs once and does not retry) when the spec changes;
// a transient one (a provider down, throttling) after retryAfter.
func (r *Reconciler) failed(ev *syncer.Events, es *esv1.ExternalSecret, f Failure) (ctrl.Result, error) {
	r.report(ev, es, f)
	if errors.Is(f.Err, errStoreNotReady) {
		return ctrl.Result{RequeueAfter: storeNotReadyRetry}, nil
	}
	if !f.Retry {
		return ctrl.Result{}, reconcile.TerminalError(f.Err)
	}
	r.metrics.syncErrors.WithLabelValues(es.Name, es.Namespace).Inc()
	return ctrl.Result{RequeueAfter: r.retryAfter(es)}, nil
}

// Transient failures are retried after retryBase, doubling with each
// failure in a row up to retryMax.
const (
	retryBase = 250 * time.Millisecond
	retryMax  = 5 * time.Minute
)

// retryAfter counts one more failure in a row for es and returns how long
// to wait before trying again: the backoff, but never longer than es's
// refresh interval. The work queue's own backoff grows to 16 minutes over
// a long outage, so an ExternalSecret that refreshes every minute would
// have caught up with its provider only a quarter of an hour after the
// provider came back.
func (r *Reconciler) retryAfter(es *esv1.ExternalSecret) time.Duration {
	var n int
	r.remember(es, func(m *memo) { m.failures++; n = m.failures })
	d := retryMax
	if n <= 16 {
		d = min(retryBase<<(n-1), retryMax)
	}
	if ri := es.Spec.RefreshIntervalOrDefault(); ri > 0 {
		d = min(d, ri)
	}
	return d
}

// record writes st into es's status.
func (st *Status) record(es *esv1.ExternalSecret) {
	if st == nil {
		return
	}
	if st.Reason != "" {
		setCondition(es, corev1.ConditionTrue, st.Reason, st.Message)
	}
	es.Status.RefreshTime = metav1.NewTime(st.RefreshTime)
	es.Status.SyncedResourceVersion = st.Version
	if st.Binding != "" {
		es.Status.Binding = esv1.SecretBinding{Name: st.Binding}
	}
}

func setCondition(es *esv1.ExternalSecret, status corev1.ConditionStatus, reason, msg string) {
	cond := esv1.ExternalSecretStatusCondition{Type: esv1.ExternalSecretReady, Status: status, Reason: reason, Message: msg}
	es.Status.Conditions = syncer.SetCondition(es.Status.Conditions, cond, metav1.Now(), conditionFields)
}

// conditionFields reads an ExternalSecret condition for
// syncer.SetCondition.
func conditionFields(c *esv1.ExternalSecretStatusCondition) (string, corev1.ConditionStatus, *metav1.Time) {
	return string(c.Type), c.Status, &c.LastTransitionTime
}

// patchStatus writes es's status if it changed since before, and marks
// the write (see staleStatus).
func (r *Reconciler) patchStatus(ctx context.Context, before, es *esv1.ExternalSecret) error {
	r.metrics.observe(es)
	if equalESStatus(&before.Status, &es.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, es, client.MergeFrom(before)); err != nil {
		log.FromContext(ctx).Error(err, "patch ExternalSecret status")
		return client.IgnoreNotFound(err)
	}
	if es.Status.RefreshTime.After(before.Status.RefreshTime.Time) {
		r.remember(es, func(m *memo) { m.refresh, m.at = es.Status.RefreshTime.Time, r.now() })
	}
	return nil
}

func equalESStatus(a, b *esv1.ExternalSecretStatus) bool {
	if !a.RefreshTime.Equal(&b.RefreshTime) || a.SyncedResourceVersion != b.SyncedResourceVersion || a.Binding != b.Binding || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message {
			return false
		}
	}
	return true
}
