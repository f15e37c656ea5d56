package sealedsecrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/internal/template"
)

// Event reasons, as Bitnami names them.
const (
	// EventUnsealed: the Secret was written from the SealedSecret.
	EventUnsealed = "Unsealed"
	// EventUnsealFailed: the SealedSecret could not be decrypted.
	EventUnsealFailed = "ErrUnsealFailed"
	// EventUpdateFailed: the Secret could not be written.
	EventUpdateFailed = "ErrUpdateFailed"
	// ReasonTemplateBudgetExceeded is the Synced condition's reason when
	// spec.template.data went over its render budget (the event is still
	// ErrUnsealFailed). The render fails the same way until the spec
	// changes, so a SealedSecret with this reason at its observed
	// generation is not unsealed again, not even after a restart.
	ReasonTemplateBudgetExceeded = "ErrTemplateBudgetExceeded"
)

const (
	// unmanagedRetry is how often a SealedSecret blocked by an unmanaged
	// Secret looks again: unmanaged Secrets are not watched.
	unmanagedRetry = time.Minute
	// statusPriority is the work queue priority of the status pass that
	// follows a Secret write: below every unseal still waiting, including
	// those of the initial list (handler.LowPriority), so that after a
	// restart or a restore every Secret exists before bookkeeping starts.
	statusPriority = -1000
	// statusDelay is how soon the status pass is queued.
	statusDelay = time.Millisecond
)

var errImmutable = errors.New("the Secret is immutable and not owned by this SealedSecret, so it cannot be replaced")

// Reconciler unseals SealedSecrets into Secrets.
type Reconciler struct {
	// Client reads SealedSecrets and managed Secrets from the cache and
	// writes.
	Client client.Client
	// APIReader reads Secrets the cache does not hold (unmanaged ones).
	APIReader client.Reader
	// Keys is the current keyring.
	Keys interface{ Keyring() *crypto.Keyring }
	// Recorder emits events.
	Recorder events.EventRecorder
	// AcceptV1Data accepts the deprecated spec.data field.
	AcceptV1Data bool
	// UpdateStatus writes the Synced condition (--update-status).
	UpdateStatus bool
	// DeleteOrphans deletes the Secret of a deleted SealedSecret itself
	// (--old-gc-behavior) instead of leaving it to garbage collection.
	DeleteOrphans bool
	// OmitConditionMetric leaves the condition_info metric alone
	// (--metrics-omit-secret-labels).
	OmitConditionMetric bool

	// statusUpdate writes status with an update, not a patch.
	statusUpdate bool

	metrics *ssMetrics
	// pending holds, by SealedSecret, the Secret write whose status pass
	// is queued.
	pending syncer.Memory[pending]
}

// pending is a Secret write whose Synced condition and Unsealed event are
// still to be written, by the source hash it was written from: the
// status pass announces the write only if the SealedSecret is still the
// one written.
type pending struct{ sourceHash string }

// Reconcile makes the Secret of one SealedSecret match it: read it, leave
// early what needs no work, find its Secret, and sync.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ss := &ssv1alpha1.SealedSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, ss); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		r.metrics.forget(req.Namespace, req.Name)
		r.pending.Forget(req.NamespacedName)
		if r.DeleteOrphans {
			return ctrl.Result{}, r.deleteOrphan(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, nil
	}
	if !ss.DeletionTimestamp.IsZero() {
		// The Secret goes with its owner through garbage collection.
		return ctrl.Result{}, nil
	}
	if statusOverBudget(ss) {
		r.observe(ss)
		return ctrl.Result{}, nil
	}
	r.metrics.requests.Inc()

	actual, err := syncer.GetSecret(ctx, r.Client, req.NamespacedName)
	known := actual != nil
	if _, ok := r.pending.Recall(req.NamespacedName, ss.UID); ok && actual == nil && err == nil {
		// The status pass of a write the cache has not seen yet: read the
		// Secret rather than decrypt again to find it exists.
		actual, err = syncer.GetSecret(ctx, r.APIReader, req.NamespacedName)
		known = true
	}
	if err != nil {
		r.metrics.errors.WithLabelValues(reasonFetch, ss.Namespace).Inc()
		return ctrl.Result{}, fmt.Errorf("get secret: %w", err)
	}
	return r.sync(ctx, ss, actual, known)
}

// sync makes the Secret match ss: decide whether it may be written and
// what it holds (decrypting only when needed), write it, and record the
// Synced condition once, on the way out, unless the write queued a status
// pass of its own. actual is the existing Secret or nil; known says
// whether nil means "does not exist" (read from the API) or only "not in
// the cache", in which case a create is tried first and an existing
// Secret is read only if the create finds one: for a new SealedSecret,
// the common case, that saves a GET.
func (r *Reconciler) sync(ctx context.Context, ss *ssv1alpha1.SealedSecret, actual *corev1.Secret, known bool) (res ctrl.Result, retErr error) {
	var st *syncStatus // nil: none to write in this pass
	ev := &syncer.Events{Recorder: r.Recorder, Action: "Unseal"}
	defer func() {
		if err := r.setSynced(ctx, ss, st); err != nil {
			res, retErr = ctrl.Result{}, err
		}
		ev.Emit(ss)
	}()
	own := ownershipOf(ss, actual)
	if actual != nil && !own.mayWrite() {
		msg := fmt.Sprintf("Resource %q already exists and is not managed by SealedSecret", actual.Name)
		r.metrics.errors.WithLabelValues(reasonUnmanaged, ss.Namespace).Inc()
		ev.Add(corev1.EventTypeWarning, EventUpdateFailed, msg)
		st = &syncStatus{reason: EventUpdateFailed, err: errors.New(msg)}
		return ctrl.Result{RequeueAfter: unmanagedRetry}, nil
	}

	sourceHash := sourceHashOf(ss)
	desired, err := r.desired(ss, actual, own, sourceHash)
	if err != nil {
		// Decryption fails the same way until the object or the keys
		// change, and both re-trigger this reconcile: no retry.
		st = r.unsealFailed(ctx, ev, ss, err)
		return ctrl.Result{}, reconcile.TerminalError(err)
	}

	plan := syncer.PlanApply(desired, actual)
	action, err := syncer.Apply(ctx, r.Client, plan, actual, syncer.ApplyOptions{Immutable: errImmutable})
	switch {
	case apierrors.IsAlreadyExists(err) && !known:
		// Not in the cache but there: unmanaged, or not yet labelled.
		existing, err := syncer.GetSecret(ctx, r.APIReader, client.ObjectKeyFromObject(ss))
		if existing == nil {
			return ctrl.Result{}, err
		}
		return r.sync(ctx, ss, existing, true)
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		// Someone else wrote meanwhile: read again and redo.
		return ctrl.Result{RequeueAfter: syncer.ConflictRetry}, nil
	case err != nil:
		r.metrics.errors.WithLabelValues(reasonUpdate, ss.Namespace).Inc()
		ev.Add(corev1.EventTypeWarning, EventUpdateFailed, err.Error())
		st = &syncStatus{reason: EventUpdateFailed, err: err}
		if errors.Is(err, errImmutable) || errors.Is(err, syncer.ErrTokenSecret) || apierrors.IsInvalid(err) {
			// Stays so until the SealedSecret changes, which re-triggers.
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		return ctrl.Result{}, err
	case action.Wrote():
		// The Secret is what workloads wait for; the Synced condition and
		// the event follow in a pass queued behind every pending unseal.
		log.FromContext(ctx).V(1).Info("secret written", "action", action.String())
		r.pending.Remember(client.ObjectKeyFromObject(ss), ss.UID, pending{sourceHash: sourceHash})
		return ctrl.Result{RequeueAfter: statusDelay, Priority: ptr.To(statusPriority)}, nil
	}
	if p, ok := r.pending.Take(client.ObjectKeyFromObject(ss), ss.UID); ok && p.sourceHash == sourceHash {
		ev.Add(corev1.EventTypeNormal, EventUnsealed, "SealedSecret unsealed successfully")
	}
	st = &syncStatus{}
	return ctrl.Result{}, nil
}

// unsealFailed reports that ss could not be unsealed (or its templates
// not rendered), in the log, the metrics and an event (held in ev), and
// returns the status to record.
func (r *Reconciler) unsealFailed(ctx context.Context, ev *syncer.Events, ss *ssv1alpha1.SealedSecret, err error) *syncStatus {
	log.FromContext(ctx).Info("cannot unseal", "error", err.Error())
	r.metrics.errors.WithLabelValues(reasonUnseal, ss.Namespace).Inc()
	ev.Add(corev1.EventTypeWarning, EventUnsealFailed, "Failed to unseal: "+err.Error())
	if errors.Is(err, template.ErrBudgetExceeded) {
		return &syncStatus{reason: ReasonTemplateBudgetExceeded, err: err}
	}
	return &syncStatus{reason: EventUnsealFailed, err: err}
}

// deleteOrphan deletes the Secret a deleted SealedSecret wrote, and only
// one this controller wrote from a SealedSecret.
func (r *Reconciler) deleteOrphan(ctx context.Context, key types.NamespacedName) error {
	s, err := syncer.GetSecret(ctx, r.Client, key)
	if s == nil || err != nil {
		return err
	}
	if s.Labels[syncer.ManagedByLabel] != managedBySealedSecret {
		return nil
	}
	uid := s.UID
	return client.IgnoreNotFound(r.Client.Delete(ctx, s, client.Preconditions{UID: &uid}))
}
