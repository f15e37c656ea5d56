package sealedsecrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/sealing"
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
	// managedBySealedSecret is the value of syncer.ManagedByLabel on
	// Secrets unsealed from SealedSecrets.
	managedBySealedSecret = "sealedsecret"
	// sourceHashAnnotation records the hash of the SealedSecret a Secret
	// was unsealed from; with dataHashAnnotation it lets a reconcile that
	// changes nothing skip decryption (e.g. after a restart).
	sourceHashAnnotation = "sealsync.dev/source-hash"
	// dataHashAnnotation records the hash of the data written, so that a
	// hand edit of the data is seen as drift.
	dataHashAnnotation = "sealsync.dev/data-hash"
	// ownerUIDAnnotation records the UID of the SealedSecret a Secret was
	// written from. It keeps a Secret written without owner reference
	// (skip-set-owner-references) ours; Bitnami loses such Secrets after
	// the first write.
	ownerUIDAnnotation = "sealsync.dev/owner-uid"
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
	Recorder recorder.EventRecorder
	// AcceptV1Data accepts the deprecated spec.data field.
	AcceptV1Data bool
	// UpdateStatus writes the Synced condition (--update-status).
	UpdateStatus bool
	// DeleteOrphans deletes the Secret of a deleted SealedSecret itself
	// (--old-gc-behavior) instead of leaving it to garbage collection.
	DeleteOrphans bool

	metrics *ssMetrics
	// written holds, by SealedSecret, the write whose status pass is
	// queued (a *pendingStatus).
	written sync.Map
}

// pendingStatus is a Secret write whose Synced condition and Unsealed
// event are still to be written.
type pendingStatus struct {
	uid        types.UID
	sourceHash string
}

// Reconcile makes the Secret of one SealedSecret match it.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ss := &ssv1alpha1.SealedSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, ss); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		r.metrics.forget(req.Namespace, req.Name)
		r.written.Delete(req.NamespacedName)
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
		r.metrics.observe(ss)
		return ctrl.Result{}, nil
	}
	r.metrics.requests.Inc()

	actual, err := syncer.GetSecret(ctx, r.Client, req.NamespacedName)
	if err != nil {
		r.metrics.errors.WithLabelValues(reasonFetch, ss.Namespace).Inc()
		return ctrl.Result{}, fmt.Errorf("get secret: %w", err)
	}
	known := actual != nil
	if p, ok := r.written.Load(req.NamespacedName); ok && actual == nil && p.(*pendingStatus).uid == ss.UID {
		// The status pass of a write the cache has not seen yet: read the
		// Secret rather than decrypt again to find it exists.
		if actual, err = syncer.GetSecret(ctx, r.APIReader, req.NamespacedName); err != nil {
			r.metrics.errors.WithLabelValues(reasonFetch, ss.Namespace).Inc()
			return ctrl.Result{}, fmt.Errorf("get secret: %w", err)
		}
		known = true
	}
	return r.sync(ctx, ss, actual, known)
}

// sync makes the Secret match ss. actual is the existing Secret or nil;
// known says whether nil means "does not exist" (read from the API) or
// only "not in the cache", in which case a create is tried first and an
// existing Secret is read only if the create finds one: for a new
// SealedSecret, the common case, that saves a GET.
func (r *Reconciler) sync(ctx context.Context, ss *ssv1alpha1.SealedSecret, actual *corev1.Secret, known bool) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	owned := actual != nil && (syncer.ControlledBy(actual, ss.UID) ||
		actual.Labels[syncer.ManagedByLabel] == managedBySealedSecret && actual.Annotations[ownerUIDAnnotation] == string(ss.UID))
	managed := actual != nil && actual.Annotations[ssv1alpha1.ManagedAnnotation] == "true"
	patch := actual != nil && actual.Annotations[ssv1alpha1.PatchAnnotation] == "true"
	if actual != nil && !owned && !managed && !patch {
		msg := fmt.Sprintf("Resource %q already exists and is not managed by SealedSecret", actual.Name)
		r.metrics.errors.WithLabelValues(reasonUnmanaged, ss.Namespace).Inc()
		r.event(ss, corev1.EventTypeWarning, EventUpdateFailed, msg)
		return ctrl.Result{RequeueAfter: unmanagedRetry}, r.setSynced(ctx, ss, EventUpdateFailed, errors.New(msg))
	}

	sourceHash := syncer.SourceHash(struct {
		Meta metav1.ObjectMeta
		Spec ssv1alpha1.SealedSecretSpec
	}{metav1.ObjectMeta{Name: ss.Name, Namespace: ss.Namespace, UID: ss.UID, Annotations: ss.Annotations}, ss.Spec})

	desired, err := r.desired(ss, actual, owned && !patch, sourceHash)
	if err != nil {
		logger.Info("cannot unseal", "error", err.Error())
		r.metrics.errors.WithLabelValues(reasonUnseal, ss.Namespace).Inc()
		r.event(ss, corev1.EventTypeWarning, EventUnsealFailed, "Failed to unseal: "+err.Error())
		// Decryption fails the same way until the object or the keys
		// change, and both re-trigger this reconcile: no retry.
		reason := EventUnsealFailed
		if errors.Is(err, template.ErrBudgetExceeded) {
			reason = ReasonTemplateBudgetExceeded
		}
		return ctrl.Result{}, r.setSynced(ctx, ss, reason, err)
	}
	if patch {
		desired.MergeData, desired.MergeMetadata = true, true
		desired.KeepOwners = !managed
	}
	desired.RecreateImmutable = actual == nil || owned || managed

	plan := syncer.PlanApply(desired, actual)
	action, err := syncer.Apply(ctx, r.Client, plan, actual, syncer.ApplyOptions{Immutable: errImmutable})
	if apierrors.IsAlreadyExists(err) && !known {
		// Not in the cache but there: unmanaged, or not yet labelled.
		existing := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ss), existing); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		return r.sync(ctx, ss, existing, true)
	}
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// Someone else wrote meanwhile: read again and redo.
			return ctrl.Result{RequeueAfter: syncer.ConflictRetry}, nil
		}
		r.metrics.errors.WithLabelValues(reasonUpdate, ss.Namespace).Inc()
		r.event(ss, corev1.EventTypeWarning, EventUpdateFailed, err.Error())
		if serr := r.setSynced(ctx, ss, EventUpdateFailed, err); serr != nil {
			return ctrl.Result{}, serr
		}
		if errors.Is(err, errImmutable) || errors.Is(err, syncer.ErrTokenSecret) || apierrors.IsInvalid(err) {
			// Stays so until the SealedSecret changes, which re-triggers.
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if action.Wrote() {
		// The Secret is what workloads wait for; the Synced condition and
		// the event follow in a pass queued behind every pending unseal.
		logger.V(1).Info("secret written", "action", plan.Action.String())
		r.written.Store(client.ObjectKeyFromObject(ss), &pendingStatus{uid: ss.UID, sourceHash: sourceHash})
		return ctrl.Result{RequeueAfter: statusDelay, Priority: ptr.To(statusPriority)}, nil
	}
	if p, ok := r.written.LoadAndDelete(client.ObjectKeyFromObject(ss)); ok &&
		p.(*pendingStatus).uid == ss.UID && p.(*pendingStatus).sourceHash == sourceHash {
		r.event(ss, corev1.EventTypeNormal, EventUnsealed, "SealedSecret unsealed successfully")
	}
	return ctrl.Result{}, r.setSynced(ctx, ss, "", nil)
}

// desired builds the Secret ss describes. When the existing Secret is ours,
// was written from this very SealedSecret and its data is untouched, its
// data is reused instead of decrypting again.
func (r *Reconciler) desired(ss *ssv1alpha1.SealedSecret, actual *corev1.Secret, ownedReplace bool, sourceHash string) (syncer.Desired, error) {
	var secret *corev1.Secret
	if ownedReplace && actual.Annotations[sourceHashAnnotation] == sourceHash &&
		actual.Annotations[dataHashAnnotation] == syncer.DataHash(actual.Data) {
		secret = templateOnly(ss)
		secret.Data = actual.Data
	} else {
		s, _, err := sealing.Unseal(r.Keys.Keyring(), ss, sealing.Options{AcceptV1Data: r.AcceptV1Data})
		if err != nil {
			return syncer.Desired{}, err
		}
		secret = s
	}
	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
	secret.Labels[syncer.ManagedByLabel] = managedBySealedSecret
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[sourceHashAnnotation] = sourceHash
	secret.Annotations[ownerUIDAnnotation] = string(ss.UID)
	secret.Annotations[dataHashAnnotation] = syncer.DataHash(secret.Data)
	return syncer.Desired{Secret: secret, Owners: secret.OwnerReferences}, nil
}

// templateOnly is the Secret ss describes without its data: what can be
// known without decrypting.
func templateOnly(ss *ssv1alpha1.SealedSecret) *corev1.Secret {
	s := &corev1.Secret{Type: ss.Spec.Template.Type, Immutable: ss.Spec.Template.Immutable}
	ss.Spec.Template.ObjectMeta.DeepCopyInto(&s.ObjectMeta)
	s.Name, s.Namespace = ss.Name, ss.Namespace
	if ss.Spec.Template.Annotations[ssv1alpha1.SkipSetOwnerReferencesAnnotation] != "true" {
		s.OwnerReferences = []metav1.OwnerReference{sealing.OwnerReference(ss)}
	} else {
		s.OwnerReferences = nil
	}
	return s
}

var errImmutable = errors.New("the Secret is immutable and not owned by this SealedSecret, so it cannot be replaced")

func (r *Reconciler) event(ss *ssv1alpha1.SealedSecret, eventType, reason, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(ss, nil, eventType, reason, "Unseal", "%s", note)
	}
}

// setSynced writes Bitnami's Synced condition and observedGeneration when
// they changed. The message is the error text, which by construction
// carries no secret bytes (package crypto's errors are vague, template
// errors are scrubbed, the API server's refusals are redacted).
func (r *Reconciler) setSynced(ctx context.Context, ss *ssv1alpha1.SealedSecret, reason string, cause error) error {
	defer r.metrics.observe(ss)
	if !r.UpdateStatus {
		return nil
	}
	status, message := corev1.ConditionTrue, ""
	if cause != nil {
		status, message = corev1.ConditionFalse, cause.Error()
	}
	var prev *ssv1alpha1.SealedSecretCondition
	if ss.Status != nil {
		for i := range ss.Status.Conditions {
			if ss.Status.Conditions[i].Type == ssv1alpha1.SealedSecretSynced {
				prev = &ss.Status.Conditions[i]
			}
		}
	}
	if prev != nil && prev.Status == status && prev.Message == message && prev.Reason == reason &&
		ss.Status.ObservedGeneration == ss.Generation {
		return nil
	}
	now := metav1.Now()
	cond := ssv1alpha1.SealedSecretCondition{
		Type: ssv1alpha1.SealedSecretSynced, Status: status, Reason: reason, Message: message, LastUpdateTime: now,
	}
	before := ss.DeepCopy()
	var conds []ssv1alpha1.SealedSecretCondition
	if ss.Status != nil {
		conds = ss.Status.Conditions
	}
	ss.Status = &ssv1alpha1.SealedSecretStatus{ObservedGeneration: ss.Generation, Conditions: syncer.SetCondition(conds, cond, now, conditionFields)}
	if err := r.Client.Status().Patch(ctx, ss, client.MergeFrom(before)); err != nil {
		r.metrics.errors.WithLabelValues(reasonStatus, ss.Namespace).Inc()
		return client.IgnoreNotFound(err)
	}
	return nil
}

// conditionFields reads a SealedSecret condition for syncer.SetCondition.
func conditionFields(c *ssv1alpha1.SealedSecretCondition) (string, corev1.ConditionStatus, *metav1.Time) {
	return string(c.Type), c.Status, &c.LastTransitionTime
}

// statusOverBudget reports whether the status says the templates of ss,
// at its current generation, went over their render budget.
func statusOverBudget(ss *ssv1alpha1.SealedSecret) bool {
	if ss.Status == nil || ss.Status.ObservedGeneration != ss.Generation {
		return false
	}
	for _, c := range ss.Status.Conditions {
		if c.Type == ssv1alpha1.SealedSecretSynced {
			return c.Status == corev1.ConditionFalse && c.Reason == ReasonTemplateBudgetExceeded
		}
	}
	return false
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
