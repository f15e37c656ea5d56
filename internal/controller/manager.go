// Package controller is the in-cluster controller's wiring: it builds the
// controller-runtime manager from [Options] (filled from cmd/controller's
// Bitnami's and ESO's controller flags, [BindFlags]), with its caches, leader
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
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
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
}

// Controller is a configured manager with its key manager.
type Controller struct {
	// Manager runs everything.
	Manager manager.Manager
	// Keys is the keyring every replica serves.
	Keys *keys.Manager
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

	if err := sealedsecrets.Setup(mgr, keyManager, sealedsecrets.Options{
		AcceptV1Data: opts.AcceptV1Data, UpdateStatus: opts.UpdateStatus,
		SkipRecreate: opts.SkipRecreate, DeleteOrphans: opts.OldGCBehavior,
		MaxUnsealRetries: opts.MaxUnsealRetries, Workers: opts.Workers,
		OmitConditionMetric: opts.OmitConditionMetric,
	}); err != nil {
		return nil, err
	}
	if err := externalsecrets.Setup(context.Background(), mgr, opts.ES); err != nil {
		return nil, err
	}
	so := opts.Server
	if so.Addr == "0" {
		return &Controller{Manager: mgr, Keys: keyManager}, nil
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
	return &Controller{Manager: mgr, Keys: keyManager}, nil
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
