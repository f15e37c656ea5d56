package v1

// Labels, annotations and finalizers the controller writes. They are ESO's,
// so Secrets written by ESO are adopted as they are and tools that select
// on them keep working.
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

	// ExternalSecretFinalizer lets the controller clean up after an
	// ExternalSecret (the Secret under deletionPolicy Delete, metrics)
	// before it is gone.
	ExternalSecretFinalizer = "externalsecrets.external-secrets.io/externalsecret-cleanup"
	// ClusterExternalSecretFinalizer lets the controller delete the
	// ExternalSecrets a ClusterExternalSecret created before it is gone.
	ClusterExternalSecretFinalizer = "externalsecrets.external-secrets.io/clusterexternalsecret-cleanup"
)
