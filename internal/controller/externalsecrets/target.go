package externalsecrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/internal/syncer"
)

// managedByExternalSecret is the value of syncer.ManagedByLabel on
// Secrets written from ExternalSecrets, next to ESO's own label.
const managedByExternalSecret = "externalsecret"

var errImmutableTarget = errors.New("the target Secret is immutable and not owned by this ExternalSecret")

// targetName is the name of an ExternalSecret's Secret.
func targetName(es *esv1.ExternalSecret) string {
	if es.Spec.Target.Name != "" {
		return es.Spec.Target.Name
	}
	return es.Name
}

// targetKey is the name and namespace of an ExternalSecret's Secret.
func targetKey(es *esv1.ExternalSecret) types.NamespacedName {
	return types.NamespacedName{Namespace: es.Namespace, Name: targetName(es)}
}

// targetWrite is the write of the Secret d describes under the creation
// policy: nil for creationPolicy None, an error where the policy forbids
// writing (Merge into no Secret, Owner of a Secret another owns).
func targetWrite(es *esv1.ExternalSecret, d *esdata.DesiredData, actual *corev1.Secret) (*syncer.Desired, error) {
	name := targetName(es)
	policy := es.Spec.Target.CreationPolicy
	if policy == "" {
		policy = esv1.DefaultCreationPolicy
	}
	switch {
	case policy == esv1.CreatePolicyNone:
		return nil, nil
	case policy == esv1.CreatePolicyMerge && actual == nil:
		return nil, fmt.Errorf("the desired secret %s was not found. With creationPolicy=Merge the secret won't be created", name)
	case policy == esv1.CreatePolicyOwner && actual != nil:
		if ref := metav1.GetControllerOf(actual); ref != nil && ref.UID != es.UID {
			return nil, fmt.Errorf("secret %s is owned by %s %s, not by this ExternalSecret", name, ref.Kind, ref.Name)
		}
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: es.Namespace,
			Labels:      maps.Clone(d.Labels),
			Annotations: withoutLastApplied(d.Annotations),
			Finalizers:  d.Finalizers,
		},
		Type: d.Type,
		Data: d.Data,
	}
	if s.Type == "" && actual == nil {
		s.Type = corev1.SecretTypeOpaque
	}
	if d.Immutable {
		s.Immutable = ptr.To(true)
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Labels[esv1.LabelManaged] = esv1.LabelManagedValue
	s.Labels[syncer.ManagedByLabel] = managedByExternalSecret
	if policy == esv1.CreatePolicyOwner {
		s.Labels[esv1.LabelOwner] = esdata.Hash(es.Namespace + "/" + es.Name)
		s.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ExternalSecret",
			Name: es.Name, UID: es.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}
	}
	w := desiredWrite(es, s, actual)
	// The hash is of the data as it will be, merged: what isSecretValid
	// compares at the next reconcile.
	s.Annotations[esv1.AnnotationDataHash] = esdata.Hash(w.DataOver(actual))
	return &w, nil
}

// desiredWrite is how secret is written over actual under the creation
// policy: merged into it (Merge, CreateOrMerge over an existing Secret),
// dropping the data keys this ExternalSecret wrote before and no longer
// has; owned (Owner) or leaving owners alone; and recreated when
// immutable only if the Secret is this ExternalSecret's.
func desiredWrite(es *esv1.ExternalSecret, secret, actual *corev1.Secret) syncer.Desired {
	policy := es.Spec.Target.CreationPolicy
	merge := policy == esv1.CreatePolicyMerge || (policy == esv1.CreatePolicyCreateOrMerge && actual != nil)
	d := syncer.Desired{
		Secret:            secret,
		Owners:            secret.OwnerReferences,
		KeepOwners:        policy != esv1.CreatePolicyOwner && policy != "",
		MergeData:         merge,
		MergeMetadata:     true,
		RecreateImmutable: actual == nil || syncer.ControlledBy(actual, es.UID),
	}
	if merge {
		// Keys this ExternalSecret wrote before and no longer has (their
		// provider secret is gone, the template dropped them) go; others'
		// keys stay (ESO's deletionPolicy Merge).
		d.DropKeys = managedDataKeys(actual, fieldOwner(es))
	}
	if es.Spec.Target.Template != nil && es.Spec.Target.Template.MergePolicy == esv1.MergePolicyReplace && !merge {
		d.MergeMetadata = false
	}
	return d
}

// withoutLastApplied drops the annotation kubectl leaves on an applied
// ExternalSecret, which ESO copies onto the Secret when there is no
// template: it describes the ExternalSecret, not the Secret.
func withoutLastApplied(a map[string]string) map[string]string {
	a = maps.Clone(a)
	delete(a, corev1.LastAppliedConfigAnnotation)
	return a
}

// maxFieldManager is the API server's limit on a field manager's name.
const maxFieldManager = 128 // bytes

// fieldOwner is the field manager an ExternalSecret writes its Secret
// with, ESO's, so that managedFields tell the data keys it wrote from
// others' (and a Secret ESO wrote before keeps that meaning). A name too
// long for the limit is shortened with a hash of itself.
func fieldOwner(es *esv1.ExternalSecret) string {
	owner := "externalsecrets.external-secrets.io/" + es.Name
	if len(owner) <= maxFieldManager {
		return owner
	}
	sum := esdata.Hash(owner)[:16]
	return owner[:maxFieldManager-len(sum)-1] + "-" + sum
}

// managedDataKeys returns the data keys of s that owner last set, from
// its managedFields.
func managedDataKeys(s *corev1.Secret, owner string) []string {
	if s == nil {
		return nil
	}
	var keys []string
	for _, mf := range s.ManagedFields {
		if mf.Manager != owner || mf.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Data map[string]json.RawMessage `json:"f:data"`
		}
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			continue
		}
		for f := range fields.Data {
			if k, ok := strings.CutPrefix(f, "f:"); ok {
				keys = append(keys, k)
			}
		}
	}
	return keys
}
