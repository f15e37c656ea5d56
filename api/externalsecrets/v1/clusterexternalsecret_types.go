package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterExternalSecret creates the same ExternalSecret in every namespace
// its selectors match.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories={external-secrets},shortName=ces
// +kubebuilder:printcolumn:name="Store",type=string,JSONPath=`.spec.externalSecretSpec.secretStoreRef.name`
// +kubebuilder:printcolumn:name="Refresh Interval",type=string,JSONPath=`.spec.refreshTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type ClusterExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the ExternalSecret to create and where. It is required
	// because its externalSecretSpec is.
	Spec ClusterExternalSecretSpec `json:"spec"`

	// Status is the state the controller last observed.
	// +optional
	Status ClusterExternalSecretStatus `json:"status,omitempty"`
}

// ClusterExternalSecretList is a list of ClusterExternalSecrets.
//
// +kubebuilder:object:root=true
type ClusterExternalSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the ClusterExternalSecrets.
	Items []ClusterExternalSecret `json:"items"`
}

// ClusterExternalSecretSpec is the ExternalSecret a ClusterExternalSecret
// creates and the namespaces it creates it in. A namespace is selected when
// namespaceSelectors, namespaceSelector or namespaces selects it.
type ClusterExternalSecretSpec struct {
	// ExternalSecretSpec is the spec of the ExternalSecrets created.
	ExternalSecretSpec ExternalSecretSpec `json:"externalSecretSpec"`

	// ExternalSecretName is the name of the ExternalSecrets created. Unset
	// means the ClusterExternalSecret's own name.
	// +optional
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
	ExternalSecretName string `json:"externalSecretName,omitempty"`

	// ExternalSecretMetadata is the labels and annotations of the
	// ExternalSecrets created.
	// +optional
	ExternalSecretMetadata ExternalSecretMetadata `json:"externalSecretMetadata,omitzero"`

	// NamespaceSelector selects namespaces by label.
	//
	// Deprecated: use namespaceSelectors.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// NamespaceSelectors select namespaces by label; a namespace matching
	// any of them is selected.
	// +optional
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`

	// Namespaces selects namespaces by name.
	//
	// Deprecated: use namespaceSelectors.
	// +optional
	// +kubebuilder:validation:items:MinLength:=1
	// +kubebuilder:validation:items:MaxLength:=63
	// +kubebuilder:validation:items:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
	Namespaces []string `json:"namespaces,omitempty"`

	// RefreshInterval is how often the controller checks the namespaces
	// again and repairs the ExternalSecrets, as a Go duration. Unset means
	// DefaultClusterExternalSecretRefreshInterval (1h), applied by the
	// controller, not stored.
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshTime,omitempty"`
}

// ExternalSecretMetadata is the metadata of an ExternalSecret created by a
// ClusterExternalSecret.
type ExternalSecretMetadata struct {
	// Annotations of the ExternalSecret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels of the ExternalSecret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// ClusterExternalSecretStatus is the state the controller last observed.
type ClusterExternalSecretStatus struct {
	// ExternalSecretName is the name of the ExternalSecrets created.
	// +optional
	ExternalSecretName string `json:"externalSecretName,omitempty"`

	// FailedNamespaces are the namespaces the ExternalSecret could not be
	// created or updated in, with why. Problems of the ExternalSecrets
	// themselves show in their own status.
	// +optional
	FailedNamespaces []ClusterExternalSecretNamespaceFailure `json:"failedNamespaces,omitempty"`

	// ProvisionedNamespaces are the namespaces holding the ExternalSecret.
	// +optional
	ProvisionedNamespaces []string `json:"provisionedNamespaces,omitempty"`

	// Conditions holds the Ready condition.
	// +optional
	Conditions []ClusterExternalSecretStatusCondition `json:"conditions,omitempty"`
}

// ClusterExternalSecretNamespaceFailure is a namespace the ExternalSecret
// could not be created or updated in.
type ClusterExternalSecretNamespaceFailure struct {
	// Namespace that failed.
	Namespace string `json:"namespace"`

	// Reason it failed.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ClusterExternalSecretConditionType is the type of a ClusterExternalSecret
// condition.
type ClusterExternalSecretConditionType string

const (
	// ClusterExternalSecretReady is True when the ExternalSecret exists in
	// every selected namespace.
	ClusterExternalSecretReady ClusterExternalSecretConditionType = "Ready"
)

// ClusterExternalSecretStatusCondition is one condition of a
// ClusterExternalSecret.
type ClusterExternalSecretStatusCondition struct {
	// Type of the condition.
	Type ClusterExternalSecretConditionType `json:"type"`

	// Status of the condition: True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`

	// Message explains the status to a human.
	// +optional
	Message string `json:"message,omitempty"`
}
