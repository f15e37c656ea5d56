// Package controller is the in-cluster controller's wiring: it builds the
// controller-runtime manager from [Options] (filled from cmd/controller's
// Bitnami-compatible flags, [BindFlags]), with its caches, leader
// election, the key manager, the HTTP API, and the two products:
//
//   - SealedSecrets, unsealed into Secrets (package sealedsecrets);
//   - ExternalSecrets, ClusterExternalSecrets and their SecretStores and
//     ClusterSecretStores, synced from providers into Secrets (package
//     externalsecrets).
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
// scoped to the controller's namespace and the key label.
//
// # Replicas
//
// Every replica loads the keys and serves the HTTP API; only the leader
// reconciles, generates keys and writes the key backup.
//
// # Key backup
//
// With --backup-recipients the leader keeps an age-encrypted bundle of
// every key Secret (package keybackup) in the ConfigMap --backup-configmap
// of its namespace, written again within seconds of any change to the
// keys, so a backup never lags a rotation. The recipients are public keys:
// either a file, one per line as age -R reads it (mount it from a
// ConfigMap or Secret; it is read again for every backup, so edits apply
// at the next change), or a comma-separated list of age1… and ssh-…
// recipients on the command line.
package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/controller/sealedsecrets"
	"github.com/sealsync/sealsync/internal/keysecret"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/syncer"
)

// Options configure the controller; cmd/controller fills them from
// Bitnami-compatible flags.
type Options struct {
	// Keys configure key generation.
	Keys KeyOptions
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
	// SkipNameValidation is SharedProcess as an option field. Only the key
	// backup test still sets it; it goes when that test moves with the
	// keys (issue #9). Pass SharedProcess to New instead.
	SkipNameValidation bool
	// Backup configures the automatic key backup; it is off without
	// recipients.
	Backup BackupOptions
	// ES configure the ExternalSecret controllers.
	ES externalsecrets.Options
	// Server configures the HTTP API, which every replica serves.
	Server server.Options
}

// Controller is a configured manager with its key manager.
type Controller struct {
	// Manager runs everything.
	Manager manager.Manager
	// Keys is the keyring every replica serves.
	Keys *KeyManager
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
		Controller:                    config.Controller{SkipNameValidation: ptr.To(no.sharedProcess || opts.SkipNameValidation)},
	})
	if err != nil {
		return nil, err
	}

	keyCache, err := cache.New(cfg, cache.Options{
		Scheme:            manifest.Scheme,
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(mustRequirement(keysecret.Label, selection.Exists))},
		},
	})
	if err != nil {
		return nil, err
	}
	// A bare cache would start only on the leader; every replica serves
	// the keys, so it must run everywhere.
	if err := mgr.Add(everyReplica{keyCache}); err != nil {
		return nil, err
	}
	keys := NewKeyManager(opts.Keys, mgr.GetClient(), keyCache, mgr.GetAPIReader())
	keyringRequest := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "keyring"}}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("keys").
		WatchesRawSource(source.Kind(keyCache, &corev1.Secret{},
			handler.TypedEnqueueRequestsFromMapFunc(func(context.Context, *corev1.Secret) []reconcile.Request {
				return []reconcile.Request{keyringRequest}
			}))).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Complete(keys); err != nil {
		return nil, err
	}
	if err := mgr.Add(keys); err != nil {
		return nil, err
	}
	if err := mgr.Add(keys.Generator()); err != nil {
		return nil, err
	}
	if opts.Backup.Recipients != "" {
		// Fail at start, not at the first key change, on a bad flag.
		if _, _, err := ParseBackupRecipients(opts.Backup.Recipients); err != nil {
			return nil, fmt.Errorf("--backup-recipients: %w", err)
		}
		if err := mgr.Add(keys.Backup(mgr.GetClient(), opts.Backup)); err != nil {
			return nil, err
		}
	}

	if err := sealedsecrets.Setup(mgr, keys, sealedsecrets.Options{
		AcceptV1Data: opts.AcceptV1Data, UpdateStatus: opts.UpdateStatus,
		SkipRecreate: opts.SkipRecreate, DeleteOrphans: opts.OldGCBehavior,
		MaxUnsealRetries: opts.MaxUnsealRetries, Workers: opts.Workers,
	}); err != nil {
		return nil, err
	}
	if err := externalsecrets.Setup(context.Background(), mgr, opts.ES); err != nil {
		return nil, err
	}
	so := opts.Server
	// /v1/verify answers what unsealing would do.
	so.AcceptV1Data = opts.AcceptV1Data
	so.Registerer = ctrlmetrics.Registry
	so.Logger = mgr.GetLogger().WithName("server")
	srv, err := server.New(so, keys)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(srv); err != nil {
		return nil, err
	}
	return &Controller{Manager: mgr, Keys: keys}, nil
}

// everyReplica runs a runnable on every replica, leader or not.
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }

func mustRequirement(key string, op selection.Operator) labels.Requirement {
	req, err := labels.NewRequirement(key, op, nil)
	if err != nil {
		panic(err)
	}
	return *req
}
