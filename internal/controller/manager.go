// Package controller is the in-cluster controller's wiring: it builds the
// controller-runtime manager from [Options] (filled from cmd/controller's
// Bitnami-compatible flags, [BindFlags]), with its caches, leader
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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

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
	// Backup configures the automatic key backup; it is off without
	// recipients.
	Backup keys.BackupOptions
	// ES configure the ExternalSecret controllers.
	ES externalsecrets.Options
	// Server configures the HTTP API, which every replica serves.
	Server server.Options
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
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        manifest.Scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        "0",
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(no.sharedProcess)},
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

	if err := sealedsecrets.Setup(mgr, keyManager, sealedsecrets.Options{
		AcceptV1Data: opts.AcceptV1Data, UpdateStatus: opts.UpdateStatus,
		SkipRecreate: opts.SkipRecreate, DeleteOrphans: opts.OldGCBehavior,
		MaxUnsealRetries: opts.MaxUnsealRetries, Workers: opts.Workers,
	}); err != nil {
		return nil, err
	}
	if err := externalsecrets.Setup(context.Background(), mgr, opts.ES); err != nil {
		return nil, err
	}
	if opts.RestartOnSecretChange {
		ro := opts.Restart
		ro.Namespace = ns
		if err := restart.Setup(mgr, ro); err != nil {
			return nil, err
		}
	}
	so := opts.Server
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

func mustRequirement(key string, op selection.Operator) labels.Requirement {
	req, err := labels.NewRequirement(key, op, nil)
	if err != nil {
		panic(err)
	}
	return *req
}
