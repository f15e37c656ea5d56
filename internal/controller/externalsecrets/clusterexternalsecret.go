package externalsecrets

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/syncer"
)

// cesNameLabel marks the ExternalSecrets a ClusterExternalSecret created.
const cesNameLabel = "external-secrets.io/cluster-external-secret-name"

// ClusterReconciler keeps one ExternalSecret in each namespace a
// ClusterExternalSecret selects, and removes those of namespaces that no
// longer match.
type ClusterReconciler struct {
	// Client reads and writes.
	Client client.Client
}

// Reconcile provisions one ClusterExternalSecret.
func (r *ClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ces := &esv1.ClusterExternalSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, ces); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ces.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, ces)
	}
	before := ces.DeepCopy()
	esName := ces.Spec.ExternalSecretName
	if esName == "" {
		esName = ces.Name
	}
	wanted, err := r.namespaces(ctx, ces)
	if err != nil {
		return ctrl.Result{}, err
	}

	var failed []esv1.ClusterExternalSecretNamespaceFailure
	var provisioned []string
	for _, ns := range wanted {
		if err := r.provision(ctx, ces, ns, esName); err != nil {
			failed = append(failed, esv1.ClusterExternalSecretNamespaceFailure{Namespace: ns, Reason: err.Error()})
			continue
		}
		provisioned = append(provisioned, ns)
	}
	// Remove what this ClusterExternalSecret created elsewhere.
	var existing esv1.ExternalSecretList
	if err := r.Client.List(ctx, &existing, client.MatchingLabels{cesNameLabel: ces.Name}); err != nil {
		return ctrl.Result{}, err
	}
	for i := range existing.Items {
		es := &existing.Items[i]
		if metav1.IsControlledBy(es, ces) && (!slices.Contains(wanted, es.Namespace) || es.Name != esName) {
			if err := r.Client.Delete(ctx, es); client.IgnoreNotFound(err) != nil {
				failed = append(failed, esv1.ClusterExternalSecretNamespaceFailure{Namespace: es.Namespace, Reason: "could not delete: " + err.Error()})
			}
		}
	}

	ces.Status.ExternalSecretName = esName
	ces.Status.ProvisionedNamespaces = provisioned
	ces.Status.FailedNamespaces = failed
	cond := esv1.ClusterExternalSecretStatusCondition{Type: esv1.ClusterExternalSecretReady, Status: corev1.ConditionTrue}
	if len(failed) > 0 {
		cond.Status, cond.Message = corev1.ConditionFalse, "one or more namespaces failed"
	}
	ces.Status.Conditions = []esv1.ClusterExternalSecretStatusCondition{cond}
	if err := r.Client.Status().Patch(ctx, ces, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{RequeueAfter: ces.Spec.RefreshIntervalOrDefault()}, nil
}

// namespaces lists the namespaces the selectors pick: namespaceSelectors
// ORed, plus the deprecated namespaceSelector and namespaces.
func (r *ClusterReconciler) namespaces(ctx context.Context, ces *esv1.ClusterExternalSecret) ([]string, error) {
	selectors := slices.Clone(ces.Spec.NamespaceSelectors)
	//lint:ignore SA1019 deprecated fields still select namespaces, as in ESO.
	if legacy := ces.Spec.NamespaceSelector; legacy != nil {
		selectors = append(selectors, *legacy)
	}
	set := map[string]bool{}
	//lint:ignore SA1019 deprecated fields still select namespaces, as in ESO.
	for _, n := range ces.Spec.Namespaces {
		set[n] = true
	}
	if len(selectors) > 0 {
		var list corev1.NamespaceList
		if err := r.Client.List(ctx, &list); err != nil {
			return nil, err
		}
		for _, ls := range selectors {
			sel, err := metav1.LabelSelectorAsSelector(&ls)
			if err != nil {
				return nil, fmt.Errorf("namespace selector: %w", err)
			}
			for _, ns := range list.Items {
				if ns.DeletionTimestamp.IsZero() && sel.Matches(labels.Set(ns.Labels)) {
					set[ns.Name] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// provision creates or updates the ExternalSecret in ns; one that exists
// and belongs to someone else is a failure for that namespace.
func (r *ClusterReconciler) provision(ctx context.Context, ces *esv1.ClusterExternalSecret, ns, name string) error {
	es := &esv1.ExternalSecret{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, es)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	exists := err == nil
	if exists && !metav1.IsControlledBy(es, ces) {
		return fmt.Errorf("ExternalSecret %s/%s already exists and is not managed by this ClusterExternalSecret", ns, name)
	}
	want := es.DeepCopy()
	want.Name, want.Namespace = name, ns
	want.Labels = maps.Clone(ces.Spec.ExternalSecretMetadata.Labels)
	if want.Labels == nil {
		want.Labels = map[string]string{}
	}
	want.Labels[cesNameLabel] = ces.Name
	want.Annotations = maps.Clone(ces.Spec.ExternalSecretMetadata.Annotations)
	// Propagated so that a force-sync on the ClusterExternalSecret reaches
	// every ExternalSecret (ESO #5156).
	if v, ok := ces.Annotations[esv1.AnnotationForceSync]; ok {
		if want.Annotations == nil {
			want.Annotations = map[string]string{}
		}
		want.Annotations[esv1.AnnotationForceSync] = v
	}
	// Kept, or a refresh requested through the HTTP API would be undone
	// at once, and the undoing would refresh the ExternalSecret again.
	if v, ok := es.Annotations[RefreshRequestedAnnotation]; exists && ok {
		if want.Annotations == nil {
			want.Annotations = map[string]string{}
		}
		want.Annotations[RefreshRequestedAnnotation] = v
	}
	ces.Spec.ExternalSecretSpec.DeepCopyInto(&want.Spec)
	t := true
	want.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ClusterExternalSecret",
		Name: ces.Name, UID: ces.UID, Controller: &t, BlockOwnerDeletion: &t,
	}}
	if !exists {
		return r.Client.Create(ctx, want)
	}
	if equalES(es, want) {
		return nil
	}
	return r.Client.Update(ctx, want)
}

func equalES(a, b *esv1.ExternalSecret) bool {
	return maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) &&
		equalJSON(a.Spec, b.Spec)
}

func equalJSON(a, b any) bool {
	return syncer.SourceHash(a) == syncer.SourceHash(b)
}
