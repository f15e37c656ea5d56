package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Kinds a secretStoreRef may name.
const (
	// SecretStoreKind is the kind of SecretStore.
	SecretStoreKind = "SecretStore"
	// ClusterSecretStoreKind is the kind of ClusterSecretStore.
	ClusterSecretStoreKind = "ClusterSecretStore"
)

// SecretStore is a provider configuration ExternalSecrets in its own
// namespace read from.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={external-secrets},shortName=ss
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Capabilities",type=string,JSONPath=`.status.capabilities`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type SecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the provider configuration. It is required because its
	// provider is.
	Spec SecretStoreSpec `json:"spec"`

	// Status is the state the controller last observed.
	// +optional
	Status SecretStoreStatus `json:"status,omitempty"`
}

// SecretStoreList is a list of SecretStores.
//
// +kubebuilder:object:root=true
type SecretStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the SecretStores.
	Items []SecretStore `json:"items"`
}

// ClusterSecretStore is a provider configuration ExternalSecrets in any
// namespace its conditions admit read from.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories={external-secrets},shortName=css
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Capabilities",type=string,JSONPath=`.status.capabilities`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type ClusterSecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the provider configuration. It is required because its
	// provider is.
	Spec SecretStoreSpec `json:"spec"`

	// Status is the state the controller last observed.
	// +optional
	Status SecretStoreStatus `json:"status,omitempty"`
}

// ClusterSecretStoreList is a list of ClusterSecretStores.
//
// +kubebuilder:object:root=true
type ClusterSecretStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the ClusterSecretStores.
	Items []ClusterSecretStore `json:"items"`
}

// SecretStoreSpec is the configuration of a SecretStore or
// ClusterSecretStore.
type SecretStoreSpec struct {
	// Controller is the class of controller that serves this store, like
	// an ingress class: a controller started with another class ignores it.
	// +optional
	Controller string `json:"controller,omitempty"`

	// Provider configures the one provider the store reads from.
	Provider *SecretStoreProvider `json:"provider"`

	// RetrySettings configures retries of failed provider calls.
	// +optional
	RetrySettings *SecretStoreRetrySettings `json:"retrySettings,omitempty"`

	// RefreshInterval is how often the store is validated again, as a
	// number of seconds or, as newer ESO also takes, a Go duration such as
	// "5m". Unset or 0 means the controller's own interval.
	// +optional
	RefreshInterval *intstr.IntOrString `json:"refreshInterval,omitempty"`

	// Conditions limit the namespaces whose ExternalSecrets may use a
	// ClusterSecretStore: a namespace is admitted when any condition matches
	// it. Without conditions every namespace is admitted. Ignored on a
	// SecretStore.
	// +optional
	Conditions []ClusterSecretStoreCondition `json:"conditions,omitempty"`
}

// SecretStoreProvider configures exactly one provider.
//
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type SecretStoreProvider struct {
	// Vault reads from the KV secrets engine of HashiCorp Vault or OpenBao.
	// +optional
	Vault *VaultProvider `json:"vault,omitempty"`

	// AWS reads from AWS Secrets Manager or Systems Manager Parameter Store.
	// +optional
	AWS *AWSProvider `json:"aws,omitempty"`

	// Fake returns the static data it is configured with, for tests.
	// +optional
	Fake *FakeProvider `json:"fake,omitempty"`
}

// SecretStoreRetrySettings configures retries of failed provider calls.
type SecretStoreRetrySettings struct {
	// MaxRetries is the number of retries after the first attempt.
	// +optional
	MaxRetries *int32 `json:"maxRetries,omitempty"`

	// RetryInterval is the Go duration to wait between attempts.
	// +optional
	RetryInterval *string `json:"retryInterval,omitempty"`
}

// ClusterSecretStoreCondition admits the namespaces matching any of its
// fields.
type ClusterSecretStoreCondition struct {
	// NamespaceSelector admits namespaces by label.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Namespaces admits namespaces by name.
	// +optional
	// +kubebuilder:validation:items:MinLength:=1
	// +kubebuilder:validation:items:MaxLength:=63
	// +kubebuilder:validation:items:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceRegexes admits namespaces whose name matches one of these
	// regular expressions (Go syntax).
	//
	// WARNING: as in ESO, an expression matches anywhere in the name
	// unless anchored: "team-a" also admits "team-a-evil" and
	// "xteam-a", whoever may create such namespaces. Write "^team-a$" to
	// admit team-a alone, "^team-a-" for its prefix.
	// +optional
	NamespaceRegexes []string `json:"namespaceRegexes,omitempty"`
}

// CAProvider points to a PEM certificate authority bundle in a Secret or
// ConfigMap.
type CAProvider struct {
	// Type of the object holding the bundle: Secret or ConfigMap.
	Type CAProviderType `json:"type"`

	// Name of the Secret or ConfigMap.
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
	Name string `json:"name"`

	// Key in the Secret or ConfigMap holding the bundle.
	// +optional
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[-._a-zA-Z0-9]+$
	Key string `json:"key,omitempty"`

	// Namespace of the Secret or ConfigMap. Only a ClusterSecretStore may
	// set it; a SecretStore always reads from its own namespace.
	// +optional
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=63
	// +kubebuilder:validation:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
	Namespace *string `json:"namespace,omitempty"`
}

// CAProviderType is the kind of object a CAProvider reads.
// +kubebuilder:validation:Enum=Secret;ConfigMap
type CAProviderType string

const (
	// CAProviderTypeSecret reads the bundle from a Secret.
	CAProviderTypeSecret CAProviderType = "Secret"
	// CAProviderTypeConfigMap reads the bundle from a ConfigMap.
	CAProviderTypeConfigMap CAProviderType = "ConfigMap"
)

// SecretStoreStatus is the state the controller last observed.
type SecretStoreStatus struct {
	// Conditions holds the Ready condition.
	// +optional
	Conditions []SecretStoreStatusCondition `json:"conditions,omitempty"`

	// Capabilities says whether the store can be read, written or both.
	// +optional
	Capabilities SecretStoreCapabilities `json:"capabilities,omitempty"`
}

// SecretStoreConditionType is the type of a store condition.
type SecretStoreConditionType string

const (
	// SecretStoreReady is True when the provider configuration is valid and
	// the provider answers.
	SecretStoreReady SecretStoreConditionType = "Ready"
)

// SecretStoreStatusCondition is one condition of a store.
type SecretStoreStatusCondition struct {
	// Type of the condition.
	Type SecretStoreConditionType `json:"type"`

	// Status of the condition: True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`

	// Reason is a CamelCase word for the last transition, such as Valid.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message explains the last transition to a human.
	// +optional
	Message string `json:"message,omitempty"`

	// LastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitzero"`
}

// SecretStoreCapabilities says what a store can do.
type SecretStoreCapabilities string

const (
	// SecretStoreReadOnly stores can be read.
	SecretStoreReadOnly SecretStoreCapabilities = "ReadOnly"
	// SecretStoreWriteOnly stores can be written (by PushSecrets).
	SecretStoreWriteOnly SecretStoreCapabilities = "WriteOnly"
	// SecretStoreReadWrite stores can be read and written.
	SecretStoreReadWrite SecretStoreCapabilities = "ReadWrite"
)
