package v1

// Labels and annotations the controller writes, and the finalizers ESO
// writes. They are ESO's, so Secrets written by ESO are adopted as they
// are, tools that select on them keep working, and objects ESO left
// finalizers on can still be deleted.
const (
	// LabelManaged, set to LabelManagedValue, marks a Secret the controller
	// manages. The controller watches only Secrets carrying it.
	LabelManaged = "reconcile.external-secrets.io/managed"
	// LabelManagedValue is the value of LabelManaged.
	LabelManagedValue = "true"
	// LabelOwner, on a Secret created with creationPolicy Owner, holds a
	// hash of "<namespace>/<name>" of the owning ExternalSecret, so Secrets
	// left behind by a renamed target can be found and deleted.
	LabelOwner = "reconcile.external-secrets.io/created-by"

	// AnnotationDataHash, on a managed Secret, holds a hash of its data as
	// last written, so the controller can tell when someone else changed
	// it.
	AnnotationDataHash = "reconcile.external-secrets.io/data-hash"
	// AnnotationForceSync: any change of this annotation's value on an
	// ExternalSecret makes it sync at once. A ClusterExternalSecret copies
	// it to the ExternalSecrets it creates.
	AnnotationForceSync = "external-secrets.io/force-sync"

	// ExternalSecretFinalizer is the finalizer ESO (since about v0.20)
	// puts on ExternalSecrets, to delete the Secret under deletionPolicy
	// Delete before the ExternalSecret is gone. The controller does not
	// add it; it does that work and removes it from ExternalSecrets being
	// deleted, so that they go once ESO is uninstalled.
	ExternalSecretFinalizer = "externalsecrets.external-secrets.io/externalsecret-cleanup"
	// ClusterExternalSecretFinalizer is the finalizer ESO puts on
	// ClusterExternalSecrets, to delete the ExternalSecrets one created and
	// its NamespaceFinalizerPrefix finalizers before it is gone. The
	// controller does the same and removes it.
	ClusterExternalSecretFinalizer = "externalsecrets.external-secrets.io/clusterexternalsecret-cleanup"
	// NamespaceFinalizerPrefix, followed by a ClusterExternalSecret's
	// name, is the finalizer ESO puts on each namespace a
	// ClusterExternalSecret provisions. ESO removes it when the namespace
	// is being deleted or the ClusterExternalSecret is; so does the
	// controller.
	NamespaceFinalizerPrefix = "externalsecrets.external-secrets.io/ces-"
)
