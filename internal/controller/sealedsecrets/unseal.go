package sealedsecrets

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/syncer"
)

const (
	// managedBySealedSecret is the value of syncer.ManagedByLabel on
	// Secrets unsealed from SealedSecrets.
	managedBySealedSecret = "sealedsecret"
	// sourceHashAnnotation records the hash of the SealedSecret a Secret
	// was unsealed from; with dataHashAnnotation it lets a reconcile that
	// changes nothing skip decryption (e.g. after a restart).
	sourceHashAnnotation = "sealsync.dev/source-hash"
	// dataHashAnnotation records the hash of the data written, so that a
	// hand edit of the data is seen as drift.
	dataHashAnnotation = "sealsync.dev/data-hash"
	// ownerUIDAnnotation records the UID of the SealedSecret a Secret was
	// written from. It keeps a Secret written without owner reference
	// (skip-set-owner-references) ours; Bitnami loses such Secrets after
	// the first write.
	ownerUIDAnnotation = "sealsync.dev/owner-uid"
)

// ownership is what a SealedSecret may do with the existing Secret of its
// name, as Bitnami decides it.
type ownership struct {
	// owned: the Secret is this SealedSecret's, by controller reference or
	// by the managed-by label and owner UID annotation this controller
	// writes.
	owned bool
	// managed: Bitnami's managed annotation hands the Secret over.
	managed bool
	// patch: Bitnami's patch annotation asks to merge into the Secret.
	patch bool
}

func ownershipOf(ss *ssv1alpha1.SealedSecret, actual *corev1.Secret) ownership {
	if actual == nil {
		return ownership{}
	}
	return ownership{
		owned: syncer.ControlledBy(actual, ss.UID) ||
			actual.Labels[syncer.ManagedByLabel] == managedBySealedSecret && actual.Annotations[ownerUIDAnnotation] == string(ss.UID),
		managed: actual.Annotations[ssv1alpha1.ManagedAnnotation] == "true",
		patch:   actual.Annotations[ssv1alpha1.PatchAnnotation] == "true",
	}
}

// mayWrite reports whether the existing Secret may be written at all.
func (o ownership) mayWrite() bool { return o.owned || o.managed || o.patch }

// sourceHashOf hashes what a SealedSecret's Secret is made from: its
// name, namespace, UID, annotations (scope among them) and spec.
func sourceHashOf(ss *ssv1alpha1.SealedSecret) string {
	return syncer.SourceHash(struct {
		Meta metav1.ObjectMeta
		Spec ssv1alpha1.SealedSecretSpec
	}{metav1.ObjectMeta{Name: ss.Name, Namespace: ss.Namespace, UID: ss.UID, Annotations: ss.Annotations}, ss.Spec})
}

// desired is the write of the Secret ss describes over actual (nil if
// none), which own says what ss may do with. When the existing Secret is
// ours, was written from this very SealedSecret (sourceHash) and its data
// is untouched, its data is reused instead of decrypting again.
func (r *Reconciler) desired(ss *ssv1alpha1.SealedSecret, actual *corev1.Secret, own ownership, sourceHash string) (syncer.Desired, error) {
	var secret *corev1.Secret
	if own.owned && !own.patch && actual.Annotations[sourceHashAnnotation] == sourceHash &&
		actual.Annotations[dataHashAnnotation] == syncer.DataHash(actual.Data) {
		secret = templateOnly(ss)
		secret.Data = actual.Data
	} else {
		s, _, err := sealing.Unseal(r.Keys.Keyring(), ss, sealing.Options{AcceptV1Data: r.AcceptV1Data})
		if err != nil {
			return syncer.Desired{}, err
		}
		secret = s
	}
	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
	secret.Labels[syncer.ManagedByLabel] = managedBySealedSecret
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[sourceHashAnnotation] = sourceHash
	secret.Annotations[ownerUIDAnnotation] = string(ss.UID)
	secret.Annotations[dataHashAnnotation] = syncer.DataHash(secret.Data)
	d := syncer.Desired{
		Secret: secret, Owners: secret.OwnerReferences,
		RecreateImmutable: actual == nil || own.owned || own.managed,
	}
	if own.patch {
		d.MergeData, d.MergeMetadata = true, true
		d.KeepOwners = !own.managed
	}
	return d, nil
}

// templateOnly is the Secret ss describes without its data: what can be
// known without decrypting.
func templateOnly(ss *ssv1alpha1.SealedSecret) *corev1.Secret {
	s := &corev1.Secret{Type: ss.Spec.Template.Type, Immutable: ss.Spec.Template.Immutable}
	ss.Spec.Template.ObjectMeta.DeepCopyInto(&s.ObjectMeta)
	s.Name, s.Namespace = ss.Name, ss.Namespace
	if ss.Spec.Template.Annotations[ssv1alpha1.SkipSetOwnerReferencesAnnotation] != "true" {
		s.OwnerReferences = []metav1.OwnerReference{sealing.OwnerReference(ss)}
	} else {
		s.OwnerReferences = nil
	}
	return s
}
