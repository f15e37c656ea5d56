package keys

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

// Setup adds the key lifecycle to mgr and returns the Manager whose
// keyring the controller serves. On every replica: a cache of the key
// Secrets (opts.Namespace, label [keysecret.Label]) and the Manager, which
// loads the keyring from it and reloads it on any change through the
// controller named "keys". On the leader only: the [Renewer]. The
// [Backup] is optional; add it with [Manager.Backup].
func Setup(mgr manager.Manager, opts Options) (*Manager, error) {
	keyLabel, err := labels.NewRequirement(keysecret.Label, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	keyCache, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{opts.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(*keyLabel)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("key Secret cache: %w", err)
	}
	// A bare cache would start only on the leader; every replica serves
	// the keys, so it must run everywhere.
	if err := mgr.Add(everyReplica{keyCache}); err != nil {
		return nil, err
	}
	m := newManager(opts, mgr.GetClient(), keyCache, mgr.GetAPIReader())
	keyringRequest := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: opts.Namespace, Name: "keyring"}}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("keys").
		WatchesRawSource(source.Kind(keyCache, &corev1.Secret{},
			handler.TypedEnqueueRequestsFromMapFunc(func(context.Context, *corev1.Secret) []reconcile.Request {
				return []reconcile.Request{keyringRequest}
			}))).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Complete(m); err != nil {
		return nil, err
	}
	if err := mgr.Add(m); err != nil {
		return nil, err
	}
	if err := mgr.Add(m.Renewer()); err != nil {
		return nil, err
	}
	return m, nil
}

// everyReplica runs a runnable on every replica, leader or not.
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }
