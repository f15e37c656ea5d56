package externalsecrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/internal/template"
	"github.com/sealsync/sealsync/providers"
)

const (
	// managedByExternalSecret is the value of syncer.ManagedByLabel on
	// Secrets written from ExternalSecrets, next to ESO's own label.
	managedByExternalSecret = "externalsecret"
	// msgProviderError is ESO's condition message when reading failed.
	msgProviderError = "could not get secret data from provider"
	// msgTemplateBudget begins the condition message when the templates
	// went over their render budget (see overBudget).
	msgTemplateBudget = "template render budget exceeded"
	// storeNotReadyRetry bounds the wait for a store to become Ready; the
	// store's own Ready transition re-triggers sooner.
	storeNotReadyRetry = time.Minute
)

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
	Recorder recorder.EventRecorder
	// ControllerClass is the store class this controller serves.
	ControllerClass string
	// FloodGate fails ExternalSecrets whose store is not Ready instead of
	// calling the provider, as ESO's --enable-flood-gate.
	FloodGate bool
	// Spread is the per-object offset inside a refresh slot.
	Spread time.Duration

	metrics *esMetrics
	now     func() time.Time
	// desired remembers the last Secret written per ExternalSecret, so a
	// hand edit is repaired without calling the provider again.
	desired sync.Map // types.NamespacedName -> *lastWrite
	// synced remembers the last refresh whose status this controller
	// wrote per ExternalSecret, to tell a cache that has not seen it yet.
	synced sync.Map // types.NamespacedName -> statusMark
}

// statusMark is a status write: its object, the refresh time it recorded
// and when it was made.
type statusMark struct {
	uid     types.UID
	refresh time.Time
	at      time.Time
}

// staleCacheWait bounds how long a statusMark is trusted over the cache,
// and staleCacheRetry is how soon a stale object is looked at again.
const (
	staleCacheWait  = 10 * time.Second
	staleCacheRetry = 500 * time.Millisecond
)

// staleStatus reports whether es, read from the cache, predates the
// status this controller wrote last (mark): the echo of its own Secret
// write can be reconciled before the cache has the new status, and acting
// on the old one would sync again what was just synced. The mark is
// trusted for staleCacheWait only, so a status changed behind the
// controller's back cannot hold an object forever.
func staleStatus(es *esv1.ExternalSecret, mark statusMark, now time.Time) bool {
	return mark.uid == es.UID && now.Sub(mark.at) < staleCacheWait &&
		es.Status.RefreshTime.Time.Before(mark.refresh.Truncate(time.Second))
}

type lastWrite struct {
	uid     types.UID
	version string
	secret  *corev1.Secret
}

// syncedVersion is ESO's syncedResourceVersion: the generation and a hash
// of labels and annotations, so that metadata edits (force-sync) refresh.
func syncedVersion(es *esv1.ExternalSecret) string {
	return fmt.Sprintf("%d-%s", es.Generation, esdata.Hash(struct {
		Labels, Annotations map[string]string
	}{es.Labels, es.Annotations}))
}

// Reconcile syncs one ExternalSecret.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	start := r.now()
	es := &esv1.ExternalSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, es); err != nil {
		if apierrors.IsNotFound(err) {
			r.desired.Delete(req.NamespacedName)
			r.synced.Delete(req.NamespacedName)
			r.metrics.forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !es.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if m, ok := r.synced.Load(req.NamespacedName); ok && staleStatus(es, m.(statusMark), start) {
		// Status-only updates are not watched, so look again shortly.
		return ctrl.Result{RequeueAfter: staleCacheRetry}, nil
	}
	st, err := r.resolveStore(ctx, es, nil)
	if errors.Is(err, errOtherClass) {
		return ctrl.Result{}, nil
	}
	r.metrics.syncCalls.WithLabelValues(es.Name, es.Namespace).Inc()
	defer func() {
		r.metrics.duration.WithLabelValues(es.Name, es.Namespace).Set(float64(r.now().Sub(start)))
		if retErr != nil {
			r.metrics.syncErrors.WithLabelValues(es.Name, es.Namespace).Inc()
		}
	}()
	before := es.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, before, es); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if err != nil {
		return r.failed(es, err.Error(), err, !errors.Is(err, errStoreNotReady) && !errors.Is(err, errNotAllowed))
	}

	targetName := es.Spec.Target.Name
	if targetName == "" {
		targetName = es.Name
	}
	actual, err := r.getSecret(ctx, types.NamespacedName{Namespace: es.Namespace, Name: targetName})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("get target secret: %w", err)
	}

	version := syncedVersion(es)
	interval := es.Spec.RefreshIntervalOrDefault()
	identity := st.identity
	// status.refreshTime is stored to the second: the refresh it records
	// started up to a second later. Count from the end of that second, or
	// a refresh that began just after its slot did reads back as before
	// the slot, and the next one finds that served slot due again and is
	// served the reads made for it.
	last := es.Status.RefreshTime.Time
	if !last.IsZero() {
		last = last.Truncate(time.Second).Add(time.Second - time.Nanosecond)
	}
	due := esdata.NextRefresh(last, interval, identity, req.String(), r.Spread)
	refresh := r.shouldRefresh(es, version, due, start)
	valid := isSecretValid(actual, es.Spec.Target.CreationPolicy)

	if !refresh && valid {
		return r.requeueAt(due, start), nil
	}
	if !refresh && !valid {
		// Drift: the Secret changed or vanished but no refresh is due.
		// Repair it from the last write, without calling the provider.
		if lw, ok := r.desired.Load(req.NamespacedName); ok && lw.(*lastWrite).uid == es.UID && lw.(*lastWrite).version == version {
			if err := r.write(ctx, es, lw.(*lastWrite).secret, actual); err != nil {
				return r.failed(es, "could not update Secret", err, !permanentWriteError(err))
			}
			r.markSynced(es, es.Status.RefreshTime.Time, version, targetName)
			return r.requeueAt(due, start), nil
		}
		if lastOverBudget(es) {
			// Nothing to repair from, and rendering again before the
			// next refresh would fail the same way.
			return r.requeueAt(due, start), nil
		}
	}
	if es.Spec.RefreshPolicy == esv1.RefreshPolicyCreatedOnce && es.Status.SyncedResourceVersion != "" && actual != nil {
		// CreatedOnce: the Secret was written once and is left alone.
		return ctrl.Result{}, nil
	}

	f := &esFetcher{r: r, es: es, own: st}
	switch {
	case es.Status.SyncedResourceVersion == version && !due.IsZero() && !due.After(start):
		// A scheduled refresh: only reads from this slot on will do. The
		// slot begins before this object's offset in the spread, so that a
		// read made for any object of the slot serves them all.
		f.notBefore = esdata.NextRefresh(last, interval, identity, req.String(), 0)
	case es.Status.SyncedResourceVersion == version:
		// A refresh before its slot, such as a drift repair after a
		// restart: any read still within the dedupe TTL will do.
	case es.Status.SyncedResourceVersion == "":
		// A first sync: reads made since the ExternalSecret exists, which
		// ExternalSecrets created together share.
		f.notBefore = es.CreationTimestamp.Time
	default:
		// The ExternalSecret changed (ESO's force-sync annotation is such
		// a change): Vault as it is now, not a read from before.
		f.notBefore = start
	}
	d, err := esdata.BuildDesired(ctx, es, f, &templateSources{api: r.APIReader, namespace: es.Namespace})
	if errors.Is(err, template.ErrBudgetExceeded) {
		return r.overBudget(es, err, start, version, esdata.NextRefresh(start, interval, identity, req.String(), r.Spread))
	}
	if err != nil {
		return r.failed(es, msgProviderError, err, true)
	}
	for _, m := range d.Missing {
		r.event(es, corev1.EventTypeWarning, esv1.ReasonMissingProviderSecret, fmt.Sprintf("secret %v is missing in the provider", m))
	}
	switch d.Outcome {
	case esdata.DesiredRetain:
		r.markSynced(es, start, version, targetName)
		return r.requeueAt(esdata.NextRefresh(start, interval, identity, req.String(), r.Spread), start), nil
	case esdata.DesiredDelete:
		if err := r.deleteTarget(ctx, es, actual); err != nil {
			return r.failed(es, "could not delete secret", err, true)
		}
		r.desired.Delete(req.NamespacedName)
		setESCondition(es, corev1.ConditionTrue, esv1.ConditionReasonSecretDeleted, "secret deleted due to DeletionPolicy")
		es.Status.RefreshTime = metav1.NewTime(start)
		es.Status.SyncedResourceVersion = version
		return r.requeueAt(esdata.NextRefresh(start, interval, identity, req.String(), r.Spread), start), nil
	}

	secret, err := r.targetSecret(es, targetName, d, actual)
	if err != nil {
		return r.failed(es, "could not update Secret", err, false)
	}
	if secret != nil {
		if err := r.write(ctx, es, secret, actual); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
				return ctrl.Result{RequeueAfter: syncer.ConflictRetry}, nil
			}
			return r.failed(es, "could not update Secret", err, !permanentWriteError(err))
		}
		r.desired.Store(req.NamespacedName, &lastWrite{uid: es.UID, version: version, secret: secret})
	}
	r.markSynced(es, start, version, targetName)
	return r.requeueAt(esdata.NextRefresh(start, interval, identity, req.String(), r.Spread), start), nil
}

// shouldRefresh applies ESO's refresh rules, with due the aligned slot.
func (r *Reconciler) shouldRefresh(es *esv1.ExternalSecret, version string, due, now time.Time) bool {
	switch es.Spec.RefreshPolicy {
	case esv1.RefreshPolicyCreatedOnce:
		return es.Status.SyncedResourceVersion == ""
	case esv1.RefreshPolicyOnChange:
		return es.Status.SyncedResourceVersion != version
	}
	if es.Status.SyncedResourceVersion != version || es.Status.RefreshTime.IsZero() {
		return true
	}
	if es.Spec.RefreshIntervalOrDefault() <= 0 {
		return false
	}
	return !now.Before(due)
}

// requeueAt schedules the next look at the slot due, at low priority so
// that new and changed objects are served first.
func (r *Reconciler) requeueAt(due, now time.Time) ctrl.Result {
	if due.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(due.Sub(now), time.Second), Priority: ptr.To(handler.LowPriority)}
}

// isSecretValid is ESO's check that a Secret is as last written: present,
// labelled managed, and its data matching the recorded hash.
func isSecretValid(s *corev1.Secret, policy esv1.ExternalSecretCreationPolicy) bool {
	if policy == esv1.CreatePolicyNone {
		return true
	}
	if s == nil || s.Labels[esv1.LabelManaged] != esv1.LabelManagedValue {
		return false
	}
	return s.Annotations[esv1.AnnotationDataHash] == esdata.Hash(s.Data)
}

var errImmutableTarget = errors.New("the target Secret is immutable and not owned by this ExternalSecret")

// permanentWriteError reports whether a write failed in a way that stays
// so until the spec (or the target) changes, which re-triggers: an
// immutable target, a token Secret, a Secret the API server finds invalid.
func permanentWriteError(err error) bool {
	return errors.Is(err, errImmutableTarget) || errors.Is(err, syncer.ErrTokenSecret) || apierrors.IsInvalid(err)
}

// targetSecret builds the Secret to write under the creation policy, or
// nil for creationPolicy None.
func (r *Reconciler) targetSecret(es *esv1.ExternalSecret, name string, d *esdata.DesiredData, actual *corev1.Secret) (*corev1.Secret, error) {
	policy := es.Spec.Target.CreationPolicy
	if policy == "" {
		policy = esv1.DefaultCreationPolicy
	}
	merge := policy == esv1.CreatePolicyMerge || (policy == esv1.CreatePolicyCreateOrMerge && actual != nil)
	switch {
	case policy == esv1.CreatePolicyNone:
		return nil, nil
	case policy == esv1.CreatePolicyMerge && actual == nil:
		return nil, fmt.Errorf("the desired secret %s was not found. With creationPolicy=Merge the secret won't be created", name)
	case policy == esv1.CreatePolicyOwner && actual != nil:
		if ref := metav1.GetControllerOf(actual); ref != nil && ref.UID != es.UID {
			return nil, fmt.Errorf("secret %s is owned by %s %s, not by this ExternalSecret", name, ref.Kind, ref.Name)
		}
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: es.Namespace,
			Labels:      maps.Clone(d.Labels),
			Annotations: withoutLastApplied(d.Annotations),
			Finalizers:  d.Finalizers,
		},
		Type: d.Type,
		Data: d.Data,
	}
	if s.Type == "" && actual == nil {
		s.Type = corev1.SecretTypeOpaque
	}
	if d.Immutable {
		s.Immutable = ptr.To(true)
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Labels[esv1.LabelManaged] = esv1.LabelManagedValue
	s.Labels[syncer.ManagedByLabel] = managedByExternalSecret
	if policy == esv1.CreatePolicyOwner {
		s.Labels[esv1.LabelOwner] = esdata.Hash(es.Namespace + "/" + es.Name)
		t := true
		s.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ExternalSecret",
			Name: es.Name, UID: es.UID, Controller: &t, BlockOwnerDeletion: &t,
		}}
	}
	final := s.Data
	if merge {
		final = maps.Clone(actual.Data)
		if final == nil {
			final = map[string][]byte{}
		}
		for _, k := range managedDataKeys(actual, fieldOwner(es)) {
			delete(final, k)
		}
		maps.Copy(final, s.Data)
	}
	s.Annotations[esv1.AnnotationDataHash] = esdata.Hash(final)
	return s, nil
}

// withoutLastApplied drops the annotation kubectl leaves on an applied
// ExternalSecret, which ESO copies onto the Secret when there is no
// template: it describes the ExternalSecret, not the Secret.
func withoutLastApplied(a map[string]string) map[string]string {
	a = maps.Clone(a)
	delete(a, corev1.LastAppliedConfigAnnotation)
	return a
}

// write applies secret over actual under the ExternalSecret's policy. Its
// error never carries what the API server said about the Secret's content
// (syncer.Apply).
func (r *Reconciler) write(ctx context.Context, es *esv1.ExternalSecret, secret, actual *corev1.Secret) error {
	policy := es.Spec.Target.CreationPolicy
	merge := policy == esv1.CreatePolicyMerge || (policy == esv1.CreatePolicyCreateOrMerge && actual != nil)
	owned := actual != nil && syncer.ControlledBy(actual, es.UID)
	owner := fieldOwner(es)
	d := syncer.Desired{
		Secret:            secret,
		Owners:            secret.OwnerReferences,
		KeepOwners:        policy != esv1.CreatePolicyOwner && policy != "",
		MergeData:         merge,
		MergeMetadata:     true,
		RecreateImmutable: actual == nil || owned,
	}
	if merge {
		// Keys this ExternalSecret wrote before and no longer has (their
		// provider secret is gone, the template dropped them) go; others'
		// keys stay (ESO's deletionPolicy Merge).
		d.DropKeys = managedDataKeys(actual, owner)
	}
	if es.Spec.Target.Template != nil && es.Spec.Target.Template.MergePolicy == esv1.MergePolicyReplace && !merge {
		d.MergeMetadata = false
	}
	action, err := syncer.Apply(ctx, r.Client, syncer.PlanApply(d, actual), actual,
		syncer.ApplyOptions{FieldOwner: owner, Immutable: errImmutableTarget})
	if err != nil {
		return err
	}
	switch action {
	case syncer.ActionCreate:
		r.event(es, corev1.EventTypeNormal, esv1.ReasonCreated, "Created Secret")
	case syncer.ActionUpdate:
		r.event(es, corev1.EventTypeNormal, esv1.ReasonUpdated, "Updated Secret")
	case syncer.ActionRecreate:
		r.event(es, corev1.EventTypeNormal, esv1.ReasonUpdated, "Recreated immutable Secret")
	}
	return nil
}

// maxFieldManager is the API server's limit on a field manager's name.
const maxFieldManager = 128 // bytes

// fieldOwner is the field manager an ExternalSecret writes its Secret
// with, ESO's, so that managedFields tell the data keys it wrote from
// others' (and a Secret ESO wrote before keeps that meaning). A name too
// long for the limit is shortened with a hash of itself.
func fieldOwner(es *esv1.ExternalSecret) string {
	owner := "externalsecrets.external-secrets.io/" + es.Name
	if len(owner) <= maxFieldManager {
		return owner
	}
	sum := esdata.Hash(owner)[:16]
	return owner[:maxFieldManager-len(sum)-1] + "-" + sum
}

// managedDataKeys returns the data keys of s that owner last set, from
// its managedFields.
func managedDataKeys(s *corev1.Secret, owner string) []string {
	if s == nil {
		return nil
	}
	var keys []string
	for _, mf := range s.ManagedFields {
		if mf.Manager != owner || mf.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Data map[string]json.RawMessage `json:"f:data"`
		}
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			continue
		}
		for f := range fields.Data {
			if k, ok := strings.CutPrefix(f, "f:"); ok {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// deleteTarget deletes the Secret when every provider secret is gone under
// deletionPolicy Delete; like ESO, only a Secret this ExternalSecret owns.
func (r *Reconciler) deleteTarget(ctx context.Context, es *esv1.ExternalSecret, actual *corev1.Secret) error {
	if es.Spec.Target.CreationPolicy != esv1.CreatePolicyOwner && es.Spec.Target.CreationPolicy != "" {
		return fmt.Errorf("invalid creationPolicy=%s. Can not delete secret i do not own", es.Spec.Target.CreationPolicy)
	}
	if actual == nil {
		return nil
	}
	if !syncer.ControlledBy(actual, es.UID) {
		return fmt.Errorf("secret %s is not owned by this ExternalSecret", actual.Name)
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

// failed records a failure: the Secret stays as it is, Ready=False with
// ESO's reason, a Warning event, and with retry an error so the queue
// backs off exponentially. The error text comes from our own code and the
// providers, which never put secret values in errors, and from the API
// server's refusals, which write redacts.
func (r *Reconciler) failed(es *esv1.ExternalSecret, msg string, err error, retry bool) (ctrl.Result, error) {
	r.event(es, corev1.EventTypeWarning, esv1.ReasonUpdateFailed, err.Error())
	message := msg
	if msg != err.Error() {
		message = msg + ": " + err.Error()
	}
	setESCondition(es, corev1.ConditionFalse, esv1.ConditionReasonSecretSyncedError, message)
	if errors.Is(err, errStoreNotReady) {
		return ctrl.Result{RequeueAfter: storeNotReadyRetry}, nil
	}
	if !retry {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// overBudget records a render over the template budget: the Secret stays
// as it is, Ready=False, one Warning event, and no retry before the next
// refresh (next), when the provider data may have changed. The render
// counts as that refresh (refreshTime, syncedResourceVersion), so neither
// a restart nor a store becoming ready renders the same spec again
// sooner; under refreshPolicy CreatedOnce, which refreshes only before a
// first sync, nothing is recorded and a restart renders it once more.
func (r *Reconciler) overBudget(es *esv1.ExternalSecret, err error, start time.Time, version string, next time.Time) (ctrl.Result, error) {
	_, _ = r.failed(es, msgTemplateBudget, err, false)
	if es.Spec.RefreshPolicy != esv1.RefreshPolicyCreatedOnce {
		es.Status.RefreshTime = metav1.NewTime(start)
		es.Status.SyncedResourceVersion = version
	}
	return r.requeueAt(next, start), nil
}

// lastOverBudget reports whether the last refresh went over the template
// budget (see overBudget).
func lastOverBudget(es *esv1.ExternalSecret) bool {
	for _, c := range es.Status.Conditions {
		if c.Type == esv1.ExternalSecretReady {
			return c.Status == corev1.ConditionFalse &&
				(c.Message == msgTemplateBudget || strings.HasPrefix(c.Message, msgTemplateBudget+":"))
		}
	}
	return false
}

func (r *Reconciler) markSynced(es *esv1.ExternalSecret, at time.Time, version, target string) {
	setESCondition(es, corev1.ConditionTrue, esv1.ConditionReasonSecretSynced, "secret synced")
	es.Status.RefreshTime = metav1.NewTime(at)
	es.Status.SyncedResourceVersion = version
	if es.Spec.Target.CreationPolicy != esv1.CreatePolicyNone {
		es.Status.Binding = esv1.SecretBinding{Name: target}
	}
}

func setESCondition(es *esv1.ExternalSecret, status corev1.ConditionStatus, reason, msg string) {
	cond := esv1.ExternalSecretStatusCondition{Type: esv1.ExternalSecretReady, Status: status, Reason: reason, Message: msg}
	es.Status.Conditions = syncer.SetCondition(es.Status.Conditions, cond, metav1.Now(), conditionFields)
}

// conditionFields reads an ExternalSecret condition for
// syncer.SetCondition.
func conditionFields(c *esv1.ExternalSecretStatusCondition) (string, corev1.ConditionStatus, *metav1.Time) {
	return string(c.Type), c.Status, &c.LastTransitionTime
}

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
		r.synced.Store(client.ObjectKeyFromObject(es), statusMark{uid: es.UID, refresh: es.Status.RefreshTime.Time, at: r.now()})
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

func (r *Reconciler) event(es *esv1.ExternalSecret, eventType, reason, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(es, nil, eventType, reason, "Sync", "%s", note)
	}
}

// Store resolution.

var (
	errOtherClass    = errors.New("store is served by another controller class")
	errStoreNotReady = errors.New("SecretStore is not ready")
	errNotAllowed    = errors.New("namespace not allowed by the ClusterSecretStore's conditions")
)

// resolvedStore is a store an ExternalSecret may read, with its client.
type resolvedStore struct {
	store    providers.Store
	client   providers.Client
	identity string
}

// resolveStore finds the store ref names (nil: the ExternalSecret's own),
// checks class, conditions and readiness, and returns its client.
func (r *Reconciler) resolveStore(ctx context.Context, es *esv1.ExternalSecret, ref *esv1.SecretStoreRef) (*resolvedStore, error) {
	if ref == nil {
		ref = &es.Spec.SecretStoreRef
	}
	kind := ref.Kind
	if kind == "" {
		kind = esv1.SecretStoreKind
	}
	var s store
	key := types.NamespacedName{Name: ref.Name}
	switch kind {
	case esv1.SecretStoreKind:
		s, key.Namespace = namespacedStore{&esv1.SecretStore{}}, es.Namespace
	case esv1.ClusterSecretStoreKind:
		s = clusterStore{&esv1.ClusterSecretStore{}}
	default:
		return nil, fmt.Errorf("unknown store kind %q", kind)
	}
	if err := r.Client.Get(ctx, key, s.object()); err != nil {
		return nil, fmt.Errorf("could not get %s %q: %w", kind, ref.Name, err)
	}
	if c := s.spec().Controller; c != "" && c != r.ControllerClass {
		return nil, errOtherClass
	}
	if kind == esv1.ClusterSecretStoreKind {
		ok, err := r.namespaceAllowed(ctx, es.Namespace, s.spec().Conditions)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("using ClusterSecretStore %q from namespace %q: %w", ref.Name, es.Namespace, errNotAllowed)
		}
	}
	if r.FloodGate && !isStoreReady(s.status()) && !storeValidatedPerUse(s.status()) {
		return nil, fmt.Errorf("%s %q: %w", kind, ref.Name, errStoreNotReady)
	}
	ps := providers.Store{Kind: kind, Name: s.GetName(), Namespace: es.Namespace, Spec: s.spec()}
	c, id, err := r.Clients.Client(ctx, ps, storeSpecHash(s))
	if err != nil {
		return nil, fmt.Errorf("could not build a client for %s %q: %w", kind, ref.Name, err)
	}
	return &resolvedStore{store: ps, client: c, identity: id}, nil
}

// storeValidatedPerUse is true for ClusterSecretStores with referent
// authentication, which the store controller cannot validate alone.
func storeValidatedPerUse(st *esv1.SecretStoreStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == esv1.SecretStoreReady && c.Reason == esv1.ReasonValidationUnknown {
			return true
		}
	}
	return false
}

// namespaceAllowed applies ClusterSecretStore conditions: no conditions
// admit every namespace; otherwise any matching condition admits it.
func (r *Reconciler) namespaceAllowed(ctx context.Context, namespace string, conds []esv1.ClusterSecretStoreCondition) (bool, error) {
	if len(conds) == 0 {
		return true, nil
	}
	var ns *corev1.Namespace
	for _, c := range conds {
		for _, n := range c.Namespaces {
			if n == namespace {
				return true, nil
			}
		}
		for _, expr := range c.NamespaceRegexes {
			re, err := regexp.Compile(expr)
			if err != nil {
				return false, fmt.Errorf("ClusterSecretStore condition: bad namespace regex %q: %w", expr, err)
			}
			if re.MatchString(namespace) {
				return true, nil
			}
		}
		if c.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(c.NamespaceSelector)
			if err != nil {
				return false, fmt.Errorf("ClusterSecretStore condition: %w", err)
			}
			if ns == nil {
				ns = &corev1.Namespace{}
				if err := r.APIReader.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
					return false, err
				}
			}
			if sel.Matches(labels.Set(ns.Labels)) {
				return true, nil
			}
		}
	}
	return false, nil
}

// esFetcher gives BuildDesired the clients of the stores an ExternalSecret
// reads, its own and those of sourceRef.storeRef entries.
type esFetcher struct {
	r   *Reconciler
	es  *esv1.ExternalSecret
	own *resolvedStore
	// notBefore is the oldest provider read this refresh may reuse (see
	// esdata.NotBefore); zero reuses any within the dedupe TTL.
	notBefore time.Time
}

func (f *esFetcher) Client(ctx context.Context, ref *esv1.SecretStoreRef) (providers.Client, error) {
	if ref == nil || (ref.Name == f.es.Spec.SecretStoreRef.Name && ref.Kind == f.es.Spec.SecretStoreRef.Kind) {
		return esdata.NotBefore(f.own.client, f.notBefore), nil
	}
	st, err := f.r.resolveStore(ctx, f.es, ref)
	if err != nil {
		return nil, err
	}
	return esdata.NotBefore(st.client, f.notBefore), nil
}

// templateSources reads templateFrom sources in the ExternalSecret's own
// namespace only.
type templateSources struct {
	api       client.Reader
	namespace string
}

func (t *templateSources) ConfigMap(ctx context.Context, name string) (map[string]string, error) {
	cm := &corev1.ConfigMap{}
	if err := t.api.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: name}, cm); err != nil {
		return nil, fmt.Errorf("templateFrom configmap %q: %w", name, err)
	}
	return cm.Data, nil
}

func (t *templateSources) Secret(ctx context.Context, name string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	if err := t.api.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: name}, s); err != nil {
		return nil, fmt.Errorf("templateFrom secret %q: %w", name, err)
	}
	return s.Data, nil
}
