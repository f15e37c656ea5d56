package restart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sealsync/sealsync/internal/syncer"
)

// conflictRetry is how soon a workload is looked at again after its patch
// met a newer version: the cache is about to catch up.
const conflictRetry = time.Second

// Event reasons.
const (
	reasonRestarted     = "SecretsChanged"
	reasonTooManySecret = "TooManySecrets"
	reasonTooManyUsers  = "TooManyWorkloads"
)

// Setup adds one controller per workload kind to mgr; they run on the
// leader only. The manager's cache must have been built with
// [CacheByObject] and hold the managed Secrets (as controller.New builds
// it).
func Setup(mgr manager.Manager, opts Options) error {
	opts.setDefaults()
	shared := &shared{
		opts:    opts,
		idx:     newIndex(),
		digests: &digestMemo{m: map[types.NamespacedName]memoEntry{}},
		key: &digestKey{
			reader: mgr.GetAPIReader(), writer: mgr.GetClient(),
			at: types.NamespacedName{Namespace: opts.Namespace, Name: KeySecretName},
		},
		recorder: mgr.GetEventRecorder("sealsync-restart"),
	}
	for _, k := range kinds {
		r := &reconciler{shared: shared, kind: k, client: mgr.GetClient(), api: mgr.GetAPIReader()}
		err := ctrl.NewControllerManagedBy(mgr).
			Named("restart-"+strings.ToLower(k.gvk.Kind)).
			For(k.metadata(), builder.OnlyMetadata, builder.WithPredicates(workloadChanged())).
			Watches(&corev1.Secret{}, r.secretEvents()).
			WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
			Complete(r)
		if err != nil {
			return err
		}
	}
	return nil
}

// shared is what the controllers of the three kinds share.
type shared struct {
	opts     Options
	idx      *index
	digests  *digestMemo
	key      *digestKey
	recorder recorder.EventRecorder
}

// reconciler restarts the workloads of one kind.
type reconciler struct {
	*shared
	kind kind
	// client reads workload metadata and managed Secrets from the cache,
	// and patches.
	client client.Client
	// api reads a workload's pod template, once per generation.
	api client.Reader
}

// Reconcile looks at one workload: opted in, it compares the digests of
// the managed Secrets its pod template uses with those recorded, and
// records the new ones, setting the pod template annotation in the same
// patch when any changed. Opted out, it removes the record.
func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	wk := workloadKey{kind: r.kind.gvk.Kind, NamespacedName: req.NamespacedName}
	meta := r.kind.metadata()
	if err := r.client.Get(ctx, req.NamespacedName, meta); err != nil {
		if apierrors.IsNotFound(err) {
			r.idx.forget(wk)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	meta.SetGroupVersionKind(r.kind.gvk)
	raw, hasRecord := meta.Annotations[RecordAnnotation]
	if meta.Annotations[OptInAnnotation] != "true" || !meta.DeletionTimestamp.IsZero() {
		r.idx.forget(wk)
		if hasRecord && meta.DeletionTimestamp.IsZero() {
			// Opted out: without the record, opting in again is a first
			// time, which restarts nothing.
			return r.patch(ctx, meta, nil, "")
		}
		return ctrl.Result{}, nil
	}
	refs, err := r.refs(ctx, wk, meta)
	if errors.Is(err, errTooManySecrets) {
		r.recorder.Eventf(meta, nil, corev1.EventTypeWarning, reasonTooManySecret, "Restart", "%s", err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key, keyID, err := r.key.load(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	current := map[string]string{}
	for _, name := range refs {
		s := &corev1.Secret{}
		err := r.client.Get(ctx, types.NamespacedName{Namespace: req.Namespace, Name: name}, s)
		if apierrors.IsNotFound(err) {
			continue // gone, or not managed: not in the cache
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		if _, managed := s.Labels[syncer.ManagedByLabel]; managed {
			current[name] = r.digests.of(s, key, keyID)
		}
	}
	prev, perr := parseRecord(raw)
	next, changed := decide(prev, hasRecord && perr == nil, keyID, refs, current)
	if hasRecord && len(changed) == 0 && next.format() == raw {
		return ctrl.Result{}, nil
	}
	template := ""
	if len(changed) > 0 {
		template = next.templateHash()
	}
	res, err := r.patch(ctx, meta, &next, template)
	if err == nil && len(changed) > 0 {
		log.FromContext(ctx).Info("rolling restart: managed Secrets changed", "secrets", changed)
		r.recorder.Eventf(meta, nil, corev1.EventTypeNormal, reasonRestarted, "Restart",
			"rolling restart: Secret %s changed", strings.Join(changed, ", "))
	}
	return res, err
}

var errTooManySecrets = errors.New("too many Secrets")

// refs returns the Secrets the workload's pod template names: from the
// index if it holds this generation, else from the workload read whole.
func (r *reconciler) refs(ctx context.Context, wk workloadKey, meta *metav1.PartialObjectMetadata) ([]string, error) {
	if e, ok := r.idx.get(wk); ok && e.generation == meta.Generation {
		return e.secrets, nil
	}
	obj := r.kind.newObject()
	if err := r.api.Get(ctx, wk.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.idx.forget(wk)
		}
		return nil, err
	}
	refs, err := secretRefs(&r.kind.template(obj).Spec, r.opts.MaxSecrets)
	if err != nil {
		r.idx.forget(wk)
		return nil, fmt.Errorf("%w: %w", errTooManySecrets, err)
	}
	r.idx.set(wk, obj.GetGeneration(), refs)
	return refs, nil
}

// patch writes the record (nil removes it) and, when template is set, the
// pod template annotation, in one merge patch on the version read: a
// workload that changed since gets looked at again rather than patched
// from stale facts, which could restart it twice for one change.
func (r *reconciler) patch(ctx context.Context, meta *metav1.PartialObjectMetadata, rec *record, template string) (ctrl.Result, error) {
	var value any // JSON null removes the annotation
	if rec != nil {
		value = rec.format()
	}
	body := map[string]any{"metadata": map[string]any{
		"resourceVersion": meta.ResourceVersion,
		"annotations":     map[string]any{RecordAnnotation: value},
	}}
	if template != "" {
		body["spec"] = map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{TemplateAnnotation: template},
		}}}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return ctrl.Result{}, err
	}
	target := r.kind.metadata()
	target.Namespace, target.Name = meta.Namespace, meta.Name
	err = r.client.Patch(ctx, target, client.RawPatch(types.MergePatchType, data), client.FieldOwner(fieldOwner))
	switch {
	case apierrors.IsConflict(err):
		log.FromContext(ctx).V(1).Info("workload changed since read; looking again")
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("patch %s %s: %w", r.kind.gvk.Kind, client.ObjectKeyFromObject(meta), err)
	}
	return ctrl.Result{}, nil
}

// secretEvents maps a managed Secret whose data changed (or that
// appeared) to the workloads of this kind that use it, queued after the
// delay so that changes close together make one rollout. A Secret that
// goes restarts nothing; its digest is forgotten.
func (r *reconciler) secretEvents() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.enqueueUsers(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			o, ok1 := e.ObjectOld.(*corev1.Secret)
			n, ok2 := e.ObjectNew.(*corev1.Secret)
			if ok1 && ok2 && maps.EqualFunc(o.Data, n.Data, bytes.Equal) {
				return
			}
			r.enqueueUsers(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.digests.forget(client.ObjectKeyFromObject(e.Object))
		},
	}
}

func (r *reconciler) enqueueUsers(ctx context.Context, s client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if _, managed := s.GetLabels()[syncer.ManagedByLabel]; !managed {
		return
	}
	users, total := r.idx.users(client.ObjectKeyFromObject(s), r.kind.gvk.Kind, r.opts.MaxWorkloads)
	for _, u := range users {
		q.AddAfter(reconcile.Request{NamespacedName: u}, r.opts.Delay)
	}
	if total > len(users) {
		log.FromContext(ctx).Info("a Secret is used by more workloads than one change may restart", "namespace", s.GetNamespace(), "secret", s.GetName(),
			"kind", r.kind.gvk.Kind, "workloads", total, "limit", len(users))
		r.recorder.Eventf(s, nil, corev1.EventTypeWarning, reasonTooManyUsers, "Restart",
			"%d %ss use this Secret; only the first %d by name are restarted when it changes", total, r.kind.gvk.Kind, len(users))
	}
}

// workloadChanged passes the workload events that can change what the
// controller does: an opted-in workload created, deleted, or changed in
// its pod template (generation) or in this package's annotations, and
// an opted-out one that still carries a record.
func workloadChanged() predicate.Predicate {
	ours := func(o client.Object) bool {
		a := o.GetAnnotations()
		_, rec := a[RecordAnnotation]
		return a[OptInAnnotation] == "true" || rec
	}
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return ours(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if !ours(e.ObjectOld) && !ours(e.ObjectNew) {
				return false
			}
			o, n := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				o[OptInAnnotation] != n[OptInAnnotation] || o[RecordAnnotation] != n[RecordAnnotation]
		},
		DeleteFunc:  func(e event.DeleteEvent) bool { return ours(e.Object) },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// digestMemo keeps each Secret's digest until the Secret changes, so that
// a Secret used by many workloads is hashed once per change.
type digestMemo struct {
	mu sync.Mutex
	m  map[types.NamespacedName]memoEntry
}

type memoEntry struct {
	uid             types.UID
	resourceVersion string
	keyID           string
	digest          string
}

func (d *digestMemo) of(s *corev1.Secret, key []byte, keyID string) string {
	k := client.ObjectKeyFromObject(s)
	d.mu.Lock()
	e, ok := d.m[k]
	d.mu.Unlock()
	if ok && e.uid == s.UID && e.resourceVersion == s.ResourceVersion && e.keyID == keyID {
		return e.digest
	}
	e = memoEntry{uid: s.UID, resourceVersion: s.ResourceVersion, keyID: keyID, digest: digest(key, s.Data)}
	d.mu.Lock()
	d.m[k] = e
	d.mu.Unlock()
	return e.digest
}

func (d *digestMemo) forget(k types.NamespacedName) {
	d.mu.Lock()
	delete(d.m, k)
	d.mu.Unlock()
}
