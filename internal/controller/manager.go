// Package controller is the in-cluster controller's wiring: it builds the
// controller-runtime manager from [Options] (filled from cmd/controller's
// Bitnami's and ESO's controller flags, [BindFlags]), with its caches, leader
// election, the key manager, the HTTP API, and the two products:
//
//   - SealedSecrets, unsealed into Secrets (package sealedsecrets);
//   - ExternalSecrets, ClusterExternalSecrets and their SecretStores and
//     ClusterSecretStores, synced from providers into Secrets (package
//     externalsecrets);
//
// and, around both, the rolling restart of workloads whose managed
// Secrets change (package restart, --enable-restart-on-secret-change).
//
// Both products write Secrets through package syncer. The logger, the
// API server connection and the controller's namespace are found here
// too ([NewLogger], [RESTConfig], [ControllerNamespace]).
//
// # Memory
//
// The informer cache holds only Secrets that carry
// [syncer.ManagedByLabel], so memory does not grow with the cluster's other
// Secrets; any other Secret is read with a direct GET when a SealedSecret
// or an ExternalSecret names it. Key Secrets have their own small cache,
// scoped to the controller's namespace and the key label. Deployments,
// StatefulSets and DaemonSets, watched for restarts, are cached as
// metadata stripped to a few fields (restart.CacheByObject).
//
// # Replicas
//
// Every replica loads the keys and serves the HTTP API; only the leader
// reconciles, generates keys and writes the key backup. A refresh asked
// for through the API (POST /v1/refresh) is an annotation on the
// ExternalSecret, which reaches the leader through its watch whichever
// replica took the request.
//
// # Keys
//
// The key lifecycle (loading the keyring, key renewal, the key backup with
// --backup-recipients) is package keys; New wires it in.
package controller

import (
	"context"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/controller/restart"
	"github.com/sealsync/sealsync/internal/controller/sealedsecrets"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/syncer"
)

// Options configure the controller; cmd/controller fills them from
// Bitnami's and ESO's flags.
type Options struct {
	// Keys configure key generation.
	Keys keys.Options
	// MetricsAddr serves /metrics ("0" turns it off).
	MetricsAddr string
	// Metrics secures /metrics: TLS, authorization (ESO's flags).
	Metrics MetricsOptions
	// HealthAddr serves /healthz and /readyz, as ESO's --live-addr; ""
	// or "0" serves none (the HTTP API serves /healthz anyway).
	HealthAddr string
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
	// OmitConditionMetric keeps SealedSecret names out of /metrics
	// (Bitnami's --metrics-omit-secret-labels).
	OmitConditionMetric bool
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
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election;
	// zero keeps controller-runtime's defaults (15s, 10s, 2s, as ESO's).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Backup configures the automatic key backup; it is off without
	// recipients.
	Backup keys.BackupOptions
	// ES configure the ExternalSecret controllers.
	ES externalsecrets.Options
	// Server configures the HTTP API, which every replica serves; address
	// "0" serves none.
	Server server.Options
	// Recheck is how often a product that cannot run yet, for want of
	// its CRDs or of rights to watch them, is looked at again; zero is
	// 30 s.
	Recheck time.Duration
	// RestartOnSecretChange rolls the Deployments, StatefulSets and
	// DaemonSets that opt in when a managed Secret they use changes
	// (package restart).
	RestartOnSecretChange bool
	// Restart tunes it; its Namespace is the controller's.
	Restart restart.Options
}

// Controller is a configured manager with its key manager.
type Controller struct {
	// Manager runs everything.
	Manager manager.Manager
	// Keys is the keyring every replica serves.
	Keys *keys.Manager
	// Server is the HTTP API every replica serves.
	Server *server.Server
}

// NewOption adjusts how New builds the controller, for a process other
// than cmd/controller's.
type NewOption func(*newOptions)

type newOptions struct {
	sharedProcess bool
}

// SharedProcess lets the process build more than one controller, as tests
// do: controller-runtime refuses a second controller of a name it has
// seen in the process, since their metrics would mix, unless told that
// this is meant.
func SharedProcess() NewOption {
	return func(o *newOptions) { o.sharedProcess = true }
}

// New builds the manager, the caches and the controllers.
func New(cfg *rest.Config, opts Options, more ...NewOption) (*Controller, error) {
	var no newOptions
	for _, f := range more {
		f(&no)
	}
	ns := opts.Keys.Namespace
	watched := []string{""}
	if !opts.AllNamespaces {
		watched = append([]string{ns}, opts.AdditionalNamespaces...)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	acc := can{client: cs}
	log := ctrl.Log.WithName("access")
	probe, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if opts.LeaderElection {
		ok, err := acc.all(probe, []string{"get", "create", "update"}, "coordination.k8s.io", "leases", ns)
		if err != nil {
			return nil, err
		}
		if !ok {
			log.Info("no right to get, create and update Leases in the controller's namespace: running as the only replica, without leader election", "namespace", ns)
			opts.LeaderElection = false
		}
	}
	_, eventsV1, err := acc.everywhere(probe, []string{"create"}, "events.k8s.io", "events", watched)
	if err != nil {
		return nil, err
	}
	_, statusPatch, err := acc.everywhere(probe, []string{"patch"}, ssv1alpha1.SchemeGroupVersion.Group, "sealedsecrets/status", watched)
	if err != nil {
		return nil, err
	}
	cacheOpts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(mustRequirement(syncer.ManagedByLabel, selection.Exists))},
		},
	}
	if opts.RestartOnSecretChange {
		maps.Copy(cacheOpts.ByObject, restart.CacheByObject())
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
	health := opts.HealthAddr
	if health == "" {
		health = "0"
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        manifest.Scheme,
		Cache:                         cacheOpts,
		Metrics:                       opts.Metrics.server(opts.MetricsAddr),
		HealthProbeBindAddress:        health,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 nonZero(opts.LeaseDuration),
		RenewDeadline:                 nonZero(opts.RenewDeadline),
		RetryPeriod:                   nonZero(opts.RetryPeriod),
		Controller:                    config.Controller{SkipNameValidation: ptr.To(no.sharedProcess)},
	})
	if err != nil {
		return nil, err
	}
	if health != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, err
		}
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

	recorder := func(name string) events.EventRecorder {
		if eventsV1 {
			return mgr.GetEventRecorder(name)
		}
		//lint:ignore SA1019 the core/v1 Events API is what Bitnami's chart grants.
		return coreEvents{mgr.GetEventRecorderFor(name)}
	}
	if !eventsV1 {
		log.Info("no right to create events.k8s.io Events: writing core/v1 Events")
	}
	if !statusPatch {
		log.Info("no right to patch SealedSecret status: updating it instead")
	}
	ssOpts := sealedsecrets.Options{
		AcceptV1Data: opts.AcceptV1Data, UpdateStatus: opts.UpdateStatus,
		SkipRecreate: opts.SkipRecreate, DeleteOrphans: opts.OldGCBehavior,
		MaxUnsealRetries: opts.MaxUnsealRetries, Workers: opts.Workers,
		Recorder: recorder("sealed-secrets"), StatusByUpdate: !statusPatch,
		OmitConditionMetric: opts.OmitConditionMetric,
	}
	esOpts := opts.ES
	esOpts.Recorder = recorder("external-secrets")
	restartOpts := opts.Restart
	restartOpts.Namespace = ns
	recheck := opts.Recheck
	if recheck <= 0 {
		recheck = 30 * time.Second
	}
	products := []struct {
		product
		on    bool
		setup func(context.Context) error
	}{
		{product{name: "SealedSecrets", gv: ssv1alpha1.SchemeGroupVersion, resources: []string{"sealedsecrets"}, watch: []string{"sealedsecrets"}},
			true, func(context.Context) error { return sealedsecrets.Setup(mgr, keyManager, ssOpts) }},
		{product{name: "ExternalSecrets", gv: esv1.SchemeGroupVersion,
			resources:    []string{"externalsecrets", "secretstores", "clustersecretstores", "clusterexternalsecrets"},
			watch:        []string{"externalsecrets", "secretstores"},
			watchCluster: []string{"clustersecretstores", "clusterexternalsecrets"}},
			opts.ES.Providers != nil, func(ctx context.Context) error { return externalsecrets.Setup(ctx, mgr, esOpts) }},
		{product{name: "Restarts on Secret change", gv: appsv1.SchemeGroupVersion,
			resources: []string{"deployments", "statefulsets", "daemonsets"},
			watch:     []string{"deployments", "statefulsets", "daemonsets"}},
			opts.RestartOnSecretChange, func(context.Context) error { return restart.Setup(mgr, restartOpts) }},
	}
	for _, p := range products {
		if !p.on {
			continue
		}
		why, err := acc.missing(probe, p.product, watched)
		if err != nil {
			return nil, err
		}
		if why == "" {
			if err := p.setup(context.Background()); err != nil {
				return nil, err
			}
			continue
		}
		// Started later, by whenAvailable, once the API server offers it.
		if err := mgr.Add(&whenAvailable{can: acc, p: p.product, namespaces: watched, interval: recheck, setup: p.setup,
			log: func(msg string, kv ...any) { log.Info(msg, kv...) }}); err != nil {
			return nil, err
		}
	}
	so := opts.Server
	if so.Addr == "0" {
		return &Controller{Manager: mgr, Keys: keyManager}, nil
	}
	if opts.ES.Providers != nil {
		ro := opts.ES.Refresh
		if !opts.AllNamespaces {
			ro.Namespaces = append([]string{ns}, opts.AdditionalNamespaces...)
		}
		so.Refresher = externalsecrets.NewRefresher(mgr.GetClient(), ro)
	}
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
	return &Controller{Manager: mgr, Keys: keyManager, Server: srv}, nil
}

// nonZero is d as the manager's options take it: nil for its default.
func nonZero(d time.Duration) *time.Duration {
	if d == 0 {
		return nil
	}
	return &d
}

func mustRequirement(key string, op selection.Operator) labels.Requirement {
	req, err := labels.NewRequirement(key, op, nil)
	if err != nil {
		panic(err)
	}
	return *req
}
