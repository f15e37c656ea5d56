package externalsecrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// ESO's finalizers. ESO (since about v0.20) puts one on every
// ExternalSecret and ClusterExternalSecret and one per
// ClusterExternalSecret on every namespace it provisions, and does some
// work before it removes each. Once ESO is uninstalled nobody removes
// them, and every delete of those objects (kubectl, an Argo CD prune, a
// namespace deletion) hangs for good (ESO #5426, #6677). The controller
// does ESO's work and removes them, whatever store class the objects
// use, as ESO does; it never adds them: owner references and the garbage
// collector do the rest.

// maxFinalizerWrites bounds the API writes one pass over a
// ClusterExternalSecret being deleted makes; the rest are left to the
// next pass, queued at once, so that one provisioned into thousands of
// namespaces does not hold a worker for minutes. A variable for tests.
var maxFinalizerWrites = 50

// finalizerRetry is how soon the next pass of a bounded cleanup runs.
const finalizerRetry = 100 * time.Millisecond

// finalize does what ESO does before it removes its finalizer from an
// ExternalSecret being deleted, then removes it: under deletionPolicy
// Delete, the target Secret is deleted if this ExternalSecret controls it.
// Without ESO's finalizer there is nothing to do: the garbage collector
// deletes what the ExternalSecret owns.
func (r *Reconciler) finalize(ctx context.Context, es *esv1.ExternalSecret) error {
	if !slices.Contains(es.Finalizers, esv1.ExternalSecretFinalizer) {
		return nil
	}
	if es.Spec.Target.DeletionPolicy == esv1.DeletionPolicyDelete {
		s, err := r.getSecret(ctx, targetKey(es))
		if err != nil {
			return fmt.Errorf("get target secret: %w", err)
		}
		if s != nil && metav1.IsControlledBy(s, es) {
			if err := r.deleteTarget(ctx, s); err != nil {
				return fmt.Errorf("delete target secret under deletionPolicy Delete: %w", err)
			}
		}
	}
	return removeFinalizers(ctx, r.Client, es, func(f string) bool { return f == esv1.ExternalSecretFinalizer })
}

// finalize does what ESO does before it removes its finalizer from a
// ClusterExternalSecret being deleted, then removes it: in every namespace
// of its status, it removes the namespace's finalizer for this
// ClusterExternalSecret and deletes the ExternalSecret it controls. Each
// pass makes at most maxFinalizerWrites writes and queues the next.
func (r *ClusterReconciler) finalize(ctx context.Context, ces *esv1.ClusterExternalSecret) (ctrl.Result, error) {
	if !slices.Contains(ces.Finalizers, esv1.ClusterExternalSecretFinalizer) {
		return ctrl.Result{}, nil
	}
	esName := ces.Status.ExternalSecretName
	if esName == "" {
		esName = ces.Name
	}
	nsFinalizer := esv1.NamespaceFinalizerPrefix + ces.Name
	writes := 0
	var errs []error
	for _, name := range ces.Status.ProvisionedNamespaces {
		if writes >= maxFinalizerWrites {
			return ctrl.Result{RequeueAfter: finalizerRetry}, errors.Join(errs...)
		}
		ns := &corev1.Namespace{}
		if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("namespace %s: %w", name, err))
			}
			continue
		}
		if slices.Contains(ns.Finalizers, nsFinalizer) {
			writes++
			if err := removeFinalizers(ctx, r.Client, ns, func(f string) bool { return f == nsFinalizer }); err != nil {
				errs = append(errs, fmt.Errorf("namespace %s: %w", name, err))
			}
		}
		es := &esv1.ExternalSecret{}
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: name, Name: esName}, es)
		if client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("ExternalSecret %s/%s: %w", name, esName, err))
			continue
		}
		if err == nil && metav1.IsControlledBy(es, ces) && es.DeletionTimestamp.IsZero() {
			writes++
			if err := r.Client.Delete(ctx, es); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete ExternalSecret %s/%s: %w", name, esName, err))
			}
		}
	}
	if len(errs) > 0 {
		return ctrl.Result{}, errors.Join(errs...)
	}
	return ctrl.Result{}, removeFinalizers(ctx, r.Client, ces, func(f string) bool { return f == esv1.ClusterExternalSecretFinalizer })
}

// NamespaceReconciler removes ESO's ClusterExternalSecret finalizers
// (esv1.NamespaceFinalizerPrefix) from namespaces being deleted, as ESO
// does for the namespaces of each ClusterExternalSecret; here also for
// ClusterExternalSecrets that no longer exist or no longer select the
// namespace, whose finalizers ESO itself would leave behind. The
// namespace's own deletion removes its ExternalSecrets.
type NamespaceReconciler struct {
	// Client reads namespaces from the cache and patches them.
	Client client.Client
}

// Reconcile removes ESO's finalizers from one namespace being deleted.
func (r *NamespaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, removeFinalizers(ctx, r.Client, ns, isNamespaceFinalizer)
}

func isNamespaceFinalizer(f string) bool { return strings.HasPrefix(f, esv1.NamespaceFinalizerPrefix) }

// finalizerPending passes the events of objects being deleted that still
// carry a finalizer match picks.
func finalizerPending(match func(string) bool) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		return !o.GetDeletionTimestamp().IsZero() && slices.ContainsFunc(o.GetFinalizers(), match)
	})
}

// removeFinalizers removes the finalizers match picks from obj with one
// patch, which fails with a conflict (and is retried) if obj changed
// since it was read: a merge patch replaces the whole list, so it must
// not undo a finalizer someone else added or removed meanwhile.
func removeFinalizers(ctx context.Context, c client.Client, obj client.Object, match func(string) bool) error {
	before := obj.DeepCopyObject().(client.Object)
	kept := slices.DeleteFunc(slices.Clone(obj.GetFinalizers()), match)
	if len(kept) == len(obj.GetFinalizers()) {
		return nil
	}
	obj.SetFinalizers(kept)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove ESO's finalizers: %w", err))
	}
	return nil
}
