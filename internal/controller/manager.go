// Package controller is the in-cluster controller: it unseals SealedSecrets
// into Secrets and keeps the sealing keys, built on controller-runtime.
//
// # Memory
//
// The informer cache holds only Secrets that carry
// [syncer.ManagedByLabel], so memory does not grow with the cluster's other
// Secrets; any other Secret is read with a direct GET when a SealedSecret
// names it. Key Secrets have their own small cache, scoped to the
// controller's namespace and the key label.
//
// # Replicas
//
// Every replica loads the keys and serves the HTTP API; only the leader
// reconciles, generates keys and writes the key backup.
//
// # Keys
//
// The key lifecycle (loading the keyring, key renewal, the key backup with
// --backup-recipients) is package keys; New wires it in.
package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/syncer"
)

// Options configure the controller; cmd/controller fills them from
// Bitnami-compatible flags.
type Options struct {
	// Keys configure key generation.
	Keys keys.Options
	// MetricsAddr serves /metrics ("0" turns it off).
	MetricsAddr string
	// AllNamespaces watches every namespace; otherwise only the
	// controller's and AdditionalNamespaces.
	AllNamespaces bool
	// AdditionalNamespaces are watched besides the controller's own when
	// AllNamespaces is off.
	AdditionalNamespaces []string
	// LabelSelector restricts the SealedSecrets handled.
	LabelSelector string
	// AcceptV1Data accepts the deprecated spec.data field.
	AcceptV1Data bool
	// UpdateStatus writes the Synced condition.
	UpdateStatus bool
	// SkipRecreate stops watching managed Secrets (no drift repair).
	SkipRecreate bool
	// OldGCBehavior deletes a SealedSecret's Secret when the SealedSecret
	// is deleted, instead of leaving it to garbage collection.
	OldGCBehavior bool
	// MaxUnsealRetries is how many quick retries a failing write gets
	// before backing off to minutes; retries never stop, so a transient
	// failure cannot lose a Secret for good (Bitnami #1599).
	MaxUnsealRetries int
	// Workers is the number of concurrent reconciles.
	Workers int
	// LeaderElection makes replicas elect one leader.
	LeaderElection bool
	// LeaderElectionID names the lease.
	LeaderElectionID string
	// SkipNameValidation lets one process run several controllers, as
	// tests do.
	SkipNameValidation bool
	// Backup configures the automatic key backup; it is off without
	// recipients.
	Backup keys.BackupOptions
	// ES configure the ExternalSecret controllers.
	ES ESOptions
	// Server configures the HTTP API; nil serves none (tests).
	Server *server.Options
}

// Controller is a configured manager with its key manager.
type Controller struct {
	// Manager runs everything.
	Manager manager.Manager
	// Keys is the keyring every replica serves.
	Keys *keys.Manager
}

// New builds the manager, the caches and the controllers.
func New(cfg *rest.Config, opts Options) (*Controller, error) {
	ns := opts.Keys.Namespace
	cacheOpts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(mustRequirement(syncer.ManagedByLabel, selection.Exists))},
		},
	}
	if !opts.AllNamespaces {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}}
		for _, n := range opts.AdditionalNamespaces {
			cacheOpts.DefaultNamespaces[n] = cache.Config{}
		}
	}
	if opts.LabelSelector != "" {
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("--label-selector: %w", err)
		}
		cacheOpts.ByObject[&ssv1alpha1.SealedSecret{}] = cache.ByObject{Label: sel}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        manifest.Scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        "0",
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(opts.SkipNameValidation)},
	})
	if err != nil {
		return nil, err
	}

	keyManager, err := keys.Setup(mgr, opts.Keys)
	if err != nil {
		return nil, err
	}
	if opts.Backup.Recipients != "" {
		// Fail at start, not at the first key change, on a bad flag.
		if _, _, err := keys.ParseBackupRecipients(opts.Backup.Recipients); err != nil {
			return nil, fmt.Errorf("--backup-recipients: %w", err)
		}
		if err := mgr.Add(keyManager.Backup(mgr.GetClient(), opts.Backup)); err != nil {
			return nil, err
		}
	}

	r := &SealedSecretReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Keys:          keyManager,
		Recorder:      mgr.GetEventRecorder("sealed-secrets"),
		AcceptV1Data:  opts.AcceptV1Data,
		UpdateStatus:  opts.UpdateStatus,
		DeleteOrphans: opts.OldGCBehavior,
		metrics:       sealedSecretMetrics(),
	}
	if err := r.setupWithManager(mgr, keyManager, opts); err != nil {
		return nil, err
	}
	if err := setupExternalSecrets(context.Background(), mgr, opts.ES); err != nil {
		return nil, err
	}
	if opts.Server != nil {
		so := *opts.Server
		// /v1/verify answers what unsealing would do.
		so.AcceptV1Data = opts.AcceptV1Data
		so.Registerer = ctrlmetrics.Registry
		so.Logger = mgr.GetLogger().WithName("server")
		srv, err := server.New(so, keyManager)
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(srv); err != nil {
			return nil, err
		}
	}
	return &Controller{Manager: mgr, Keys: keyManager}, nil
}

func mustRequirement(key string, op selection.Operator) labels.Requirement {
	req, err := labels.NewRequirement(key, op, nil)
	if err != nil {
		panic(err)
	}
	return *req
}

func (r *SealedSecretReconciler) setupWithManager(mgr manager.Manager, keys *keys.Manager, opts Options) error {
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
func (r *SealedSecretReconciler) unsynced(ctx context.Context, _ client.Object) []reconcile.Request {
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
