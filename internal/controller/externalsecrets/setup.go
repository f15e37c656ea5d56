package externalsecrets

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
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

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
	"github.com/sealsync/sealsync/providers"
)

// AllowControllerIdentityFlag is the flag that lends the controller's own
// ServiceAccount to ClusterSecretStores (Options.AllowControllerIdentity);
// store errors name it so the operator knows the fix.
const AllowControllerIdentityFlag = "allow-cluster-store-controller-identity"

// Options configure the ExternalSecret half of the controller.
type Options struct {
	// Providers builds clients; nil turns the ExternalSecret controllers off.
	Providers *providers.Registry
	// ControllerClass is the store class served: stores whose
	// spec.controller is empty or equal to it.
	ControllerClass string
	// FloodGate fails ExternalSecrets whose store is not Ready.
	FloodGate bool
	// StoreInterval is how often stores are validated again.
	StoreInterval time.Duration
	// DedupeTTL is how long an identical read is shared outside a
	// refresh slot, and how long an unused one is kept.
	DedupeTTL time.Duration
	// Spread is the per-object offset inside a refresh slot.
	Spread time.Duration
	// Workers is the number of concurrent ExternalSecret reconciles.
	Workers int
	// UnbatchedReads turns batching of provider reads off (each read
	// that no shared result serves is a call of its own), to measure what
	// batching saves.
	UnbatchedReads bool
	// AllowControllerIdentity lends the controller's own identity (its
	// ServiceAccount, the AWS SDK's default chain) to ClusterSecretStores
	// that name no credentials. Off, no store gets it;
	// a SecretStore never does. The controller must then run as a
	// ServiceAccount, which it finds out at start.
	AllowControllerIdentity bool
	// Recorder emits the events; nil is the manager's events.k8s.io
	// recorder.
	Recorder events.EventRecorder
	// Refresh configures POST /v1/refresh ([Refresher]).
	Refresh RefreshOptions
	// DisableClusterStores turns the ClusterSecretStore controller off and
	// skips the ExternalSecrets that use a ClusterSecretStore, nor reads or
	// watches any, as ESO's --enable-cluster-store-reconciler=false (its
	// chart's scopedRBAC grants no access to them).
	DisableClusterStores bool
	// DisableSecretStores turns the SecretStore controller off, as ESO's
	// --enable-secret-store-reconciler=false: stores get no Ready
	// condition, so with FloodGate their ExternalSecrets wait, as in ESO.
	DisableSecretStores bool
	// DisableClusterExternalSecrets turns the ClusterExternalSecret
	// controller off, with the removal of ESO's namespace finalizers and
	// the watch of namespaces, as ESO's
	// --enable-cluster-external-secret-reconciler=false.
	DisableClusterExternalSecrets bool
}

const (
	indexTarget = ".spec.target.name"
	// indexStore holds every store an ExternalSecret reads, its
	// sourceRefs' included.
	indexStore = ".spec.secretStoreRef"
)

func storeIndexValue(kind, name string) string {
	if kind == "" {
		kind = esv1.SecretStoreKind
	}
	return kind + "/" + name
}

// storesOf returns the index values of the stores es reads:
// spec.secretStoreRef and those of data and dataFrom sourceRefs, each
// once.
func storesOf(es *esv1.ExternalSecret) []string {
	var out []string
	// A set, not a scan of out: a tenant chooses how many entries there
	// are.
	seen := map[string]bool{}
	add := func(ref *esv1.SecretStoreRef) {
		if ref == nil || ref.Name == "" {
			return
		}
		if v := storeIndexValue(ref.Kind, ref.Name); !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	add(&es.Spec.SecretStoreRef)
	for i := range es.Spec.Data {
		if sr := es.Spec.Data[i].SourceRef; sr != nil {
			add(&sr.SecretStoreRef)
		}
	}
	for i := range es.Spec.DataFrom {
		if sr := es.Spec.DataFrom[i].SourceRef; sr != nil {
			add(sr.SecretStoreRef)
		}
	}
	return out
}

// Setup adds the ExternalSecret, ClusterExternalSecret, SecretStore and
// ClusterSecretStore controllers to mgr; without opts.Providers, none.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) error {
	if opts.Providers == nil {
		return nil
	}
	if opts.Recorder == nil {
		opts.Recorder = mgr.GetEventRecorder("external-secrets")
	}
	m := externalSecretMetrics()
	core, err := corev1client.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	// The controller's own ServiceAccount, if it runs as one, is lent to
	// ClusterSecretStores only when the operator allows it, but always
	// serves to learn the API server's audiences.
	own, ownErr := ownServiceAccount(ctx, mgr.GetConfig())
	var self, learnWith *types.NamespacedName
	if ownErr == nil {
		learnWith = &own
	} else {
		log.FromContext(ctx).V(1).Info("the API server's token audiences will be learned with the first ServiceAccount a store names", "reason", ownErr.Error())
	}
	if opts.AllowControllerIdentity {
		if ownErr != nil {
			return fmt.Errorf("--%s: %w", AllowControllerIdentityFlag, ownErr)
		}
		self = &own
	}
	apiAud := newAPIAudiences(core, learnWith)
	reads := esdata.NewReads(opts.DedupeTTL)
	if opts.UnbatchedReads {
		reads.Unbatched()
	}
	api := mgr.GetAPIReader()
	clients := esdata.NewClientCache(esdata.ClientCacheOptions{
		Registry:    opts.Providers,
		Kube:        func(s providers.Store) esdata.TrackingKube { return newStoreKube(api, core, s, self, apiAud) },
		Reads:       reads,
		Recheck:     30 * time.Second,
		IdleTimeout: 30 * time.Minute,
		Instrument:  m.instrument,
	})
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// Revokes the tokens the clients logged in for.
				closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				reads.Close()
				clients.Close(closeCtx)
				return nil
			case <-t.C:
				reads.Sweep()
				clients.Sweep(ctx)
			}
		}
	})); err != nil {
		return err
	}

	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &esv1.ExternalSecret{}, indexTarget, func(o client.Object) []string {
		es := o.(*esv1.ExternalSecret)
		if es.Spec.Target.Name != "" {
			return []string{es.Spec.Target.Name}
		}
		return []string{es.Name}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &esv1.ExternalSecret{}, indexStore, func(o client.Object) []string {
		return storesOf(o.(*esv1.ExternalSecret))
	}); err != nil {
		return err
	}

	r := &Reconciler{
		Client: mgr.GetClient(), APIReader: api, Clients: clients,
		Recorder:        opts.Recorder,
		ControllerClass: opts.ControllerClass, FloodGate: opts.FloodGate, Spread: opts.Spread,
		NoClusterStores: opts.DisableClusterStores,
		metrics:         m, now: time.Now,
	}
	workers := max(opts.Workers, 1)
	b := ctrl.NewControllerManagedBy(mgr).
		For(&esv1.ExternalSecret{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			finalizerPending(func(f string) bool { return f == esv1.ExternalSecretFinalizer })))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
				return o.GetLabels()[syncer.ManagedByLabel] == managedByExternalSecret
			}))).
		Watches(&esv1.SecretStore{}, handler.EnqueueRequestsFromMapFunc(r.forStore(esv1.SecretStoreKind)),
			builder.WithPredicates(storeBecameUsable()))
	if !opts.DisableClusterStores {
		b = b.Watches(&esv1.ClusterSecretStore{}, handler.EnqueueRequestsFromMapFunc(r.forStore(esv1.ClusterSecretStoreKind)),
			builder.WithPredicates(storeBecameUsable()))
	}
	if err := b.
		WithOptions(controller.Options{
			MaxConcurrentReconciles: workers,
			// New ExternalSecrets and changes jump ahead of the refresh
			// backlog (ESO #2878).
			UsePriorityQueue: ptr.To(true),
		}).
		Complete(r); err != nil {
		return err
	}
	for _, cluster := range []bool{false, true} {
		if cluster && opts.DisableClusterStores || !cluster && opts.DisableSecretStores {
			continue
		}
		sr := &StoreReconciler{
			Client: mgr.GetClient(), Clients: clients, Recorder: opts.Recorder,
			ControllerClass: opts.ControllerClass, Interval: opts.StoreInterval, Cluster: cluster,
		}
		b := ctrl.NewControllerManagedBy(mgr)
		if cluster {
			sr.metrics = clusterSecretStoreMetrics()
			b = b.For(&esv1.ClusterSecretStore{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
		} else {
			sr.metrics = secretStoreMetrics()
			b = b.For(&esv1.SecretStore{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
		}
		if err := b.Complete(sr); err != nil {
			return err
		}
	}
	if opts.DisableClusterExternalSecrets {
		return nil
	}
	cr := &ClusterReconciler{Client: mgr.GetClient()}
	if err := ctrl.NewControllerManagedBy(mgr).
		For(&esv1.ClusterExternalSecret{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			finalizerPending(func(f string) bool { return f == esv1.ClusterExternalSecretFinalizer })))).
		Owns(&esv1.ExternalSecret{}).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(cr.all),
			builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, predicate.Funcs{
				CreateFunc: func(event.CreateEvent) bool { return true },
				DeleteFunc: func(event.DeleteEvent) bool { return true },
			}))).
		Complete(cr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("namespace-eso-finalizers").
		For(&corev1.Namespace{}, builder.WithPredicates(finalizerPending(isNamespaceFinalizer))).
		Complete(&NamespaceReconciler{Client: mgr.GetClient()})
}

// forSecret maps a managed Secret to the ExternalSecrets that target it.
func (r *Reconciler) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list esv1.ExternalSecretList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexTarget: o.GetName()}); err != nil {
		return nil
	}
	return requestsFor(list.Items)
}

// forStore maps a store to the ExternalSecrets that use it (through
// spec.secretStoreRef or a sourceRef), so that a store becoming Ready
// re-triggers them at once (ESO #4340).
func (r *Reconciler) forStore(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		opts := []client.ListOption{client.MatchingFields{indexStore: storeIndexValue(kind, o.GetName())}}
		if kind == esv1.SecretStoreKind {
			opts = append(opts, client.InNamespace(o.GetNamespace()))
		}
		var list esv1.ExternalSecretList
		if err := r.Client.List(ctx, &list, opts...); err != nil {
			return nil
		}
		return requestsFor(list.Items)
	}
}

func requestsFor(items []esv1.ExternalSecret) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(items))
	for i := range items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])})
	}
	return reqs
}

// storeBecameUsable passes store events that can unblock ExternalSecrets:
// the Ready condition changed, or the spec did.
func storeBecameUsable() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
				return true
			}
			return readyOf(e.ObjectOld) != readyOf(e.ObjectNew)
		},
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func readyOf(o client.Object) bool {
	switch s := o.(type) {
	case *esv1.SecretStore:
		return isStoreReady(&s.Status)
	case *esv1.ClusterSecretStore:
		return isStoreReady(&s.Status)
	}
	return false
}

// all maps a namespace event to every ClusterExternalSecret.
func (r *ClusterReconciler) all(ctx context.Context, _ client.Object) []reconcile.Request {
	var list esv1.ClusterExternalSecretList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
