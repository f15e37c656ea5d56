package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// annotationPrefix is the prefix of Bitnami's annotations.
	annotationPrefix = "sealedsecrets." + GroupName + "/"

	// ClusterWideAnnotation set to "true" on a SealedSecret's metadata seals
	// and unseals it cluster-wide. It wins over [NamespaceWideAnnotation].
	ClusterWideAnnotation = annotationPrefix + "cluster-wide"
	// NamespaceWideAnnotation set to "true" on a SealedSecret's metadata
	// seals and unseals it namespace-wide.
	NamespaceWideAnnotation = annotationPrefix + "namespace-wide"
	// ManagedAnnotation set to "true" on an existing Secret lets the
	// controller take it over.
	ManagedAnnotation = annotationPrefix + "managed"
	// PatchAnnotation set to "true" on an existing Secret makes the
	// controller merge into it instead of replacing it.
	PatchAnnotation = annotationPrefix + "patch"
	// SkipSetOwnerReferencesAnnotation set to "true" in
	// spec.template.metadata.annotations leaves the Secret without an owner
	// reference, so it outlives its SealedSecret.
	SkipSetOwnerReferencesAnnotation = annotationPrefix + "skip-set-owner-references"

	// KeyIDAnnotation names the key (its crypto.KeyID) a SealedSecret was
	// sealed with. It is a hint to find the key in O(1); the controller never
	// trusts it for anything else.
	KeyIDAnnotation = "sealsync.dev/key-id"
)

// SecretTemplateSpec describes the structure a Secret should have
// when created from a template.
//
// Its schema is Bitnami's plus two CEL rules on type: no
// kubernetes.io/service-account-token (Kubernetes would fill the Secret
// with a long-lived token for any service account of the namespace, as in
// ESO's CVE-2026-42876) and no bootstrap.kubernetes.io/token (node
// credentials). The controller refuses both again on the Secret it would
// write, which is where a type from the deprecated spec.data or from an
// existing Secret shows.
type SecretTemplateSpec struct {
	// Standard object's metadata.
	// More info: https://git.k8s.io/community/contributors/devel/api-conventions.md#metadata
	// +optional
	// +nullable
	// +kubebuilder:pruning:PreserveUnknownFields
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Used to facilitate programmatic handling of secret data.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self != 'kubernetes.io/service-account-token'",message="template.type=\"kubernetes.io/service-account-token\" is not allowed"
	// +kubebuilder:validation:XValidation:rule="self != 'bootstrap.kubernetes.io/token'",message="template.type=\"bootstrap.kubernetes.io/token\" is not allowed"
	Type corev1.SecretType `json:"type,omitempty"`

	// Immutable, if set to true, ensures that data stored in the Secret cannot
	// be updated (only object metadata can be modified).
	// If not set to true, the field can be modified at any time.
	// Defaulted to nil.
	// +optional
	Immutable *bool `json:"immutable,omitempty"`

	// Keys that should be templated using decrypted data.
	// +optional
	// +nullable
	Data map[string]string `json:"data,omitempty"`
}

// SealedSecretSpec is the specification of a SealedSecret.
type SealedSecretSpec struct {
	// Template defines the structure of the Secret that will be
	// created from this sealed secret.
	// +optional
	Template SecretTemplateSpec `json:"template,omitempty"`

	// Data is deprecated and will be removed eventually. Use per-value EncryptedData instead.
	Data []byte `json:"data,omitempty"`

	// EncryptedData maps each Secret key to its sealed value: the wire-format
	// blob in standard base64.
	EncryptedData SealedSecretEncryptedData `json:"encryptedData"`
}

// SealedSecretEncryptedData maps Secret keys to sealed values. Its schema is
// left open (as Bitnami's is) and decoding is lenient: a malformed map
// decodes as empty instead of failing the whole object, so one bad object
// cannot stop a controller's informer.
//
// +kubebuilder:pruning:PreserveUnknownFields
type SealedSecretEncryptedData map[string]string

// UnmarshalJSON decodes leniently; see [SealedSecretEncryptedData].
func (d *SealedSecretEncryptedData) UnmarshalJSON(b []byte) error {
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		m = map[string]string{}
	}
	*d = m
	return nil
}

// SealedSecretConditionType describes the type of SealedSecret condition.
type SealedSecretConditionType string

const (
	// SealedSecretSynced means the SealedSecret has been decrypted and the Secret has been updated successfully.
	SealedSecretSynced SealedSecretConditionType = "Synced"
)

// SealedSecretCondition describes the state of a sealed secret at a certain point.
type SealedSecretCondition struct {
	// Type of condition for a sealed secret.
	// Valid value: "Synced"
	Type SealedSecretConditionType `json:"type"`

	// Status of the condition for a sealed secret.
	// Valid values for "Synced": "True", "False", or "Unknown".
	Status corev1.ConditionStatus `json:"status"`

	// The last time this condition was updated.
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitempty"`

	// Last time the condition transitioned from one status to another.
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`

	// The reason for the condition's last transition.
	Reason string `json:"reason,omitempty"`

	// A human readable message indicating details about the transition.
	Message string `json:"message,omitempty"`
}

// SealedSecretStatus is the most recently observed status of the SealedSecret.
type SealedSecretStatus struct {
	// ObservedGeneration reflects the generation most recently observed by the sealed-secrets controller.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Represents the latest available observations of a sealed secret's current state.
	// +optional
	// +patchMergeKey=type
	// +patchStrategy=merge
	Conditions []SealedSecretCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// SealedSecret is the K8s representation of a "sealed Secret" - a
// regular k8s Secret that has been sealed (encrypted) using the
// controller's key.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[0].message"
// +kubebuilder:printcolumn:name="Synced",type="string",JSONPath=".status.conditions[0].status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type SealedSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// SealedSecretSpec is the specification of a SealedSecret.
	Spec SealedSecretSpec `json:"spec"`

	// SealedSecretStatus is the most recently observed status of the SealedSecret.
	// +optional
	Status *SealedSecretStatus `json:"status,omitempty"`
}

// SealedSecretList represents a list of SealedSecrets.
//
// +kubebuilder:object:root=true
type SealedSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	// Items are the SealedSecrets.
	Items []SealedSecret `json:"items"`
}
