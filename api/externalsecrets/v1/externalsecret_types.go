package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExternalSecret describes a Secret whose data is read from a SecretStore's
// provider, and how the controller keeps it in sync.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={external-secrets},shortName=es
// +kubebuilder:printcolumn:name="StoreType",type=string,JSONPath=`.spec.secretStoreRef.kind`
// +kubebuilder:printcolumn:name="Store",type=string,JSONPath=`.spec.secretStoreRef.name`
// +kubebuilder:printcolumn:name="Refresh Interval",type=string,JSONPath=`.spec.refreshInterval`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:selectablefield:JSONPath=`.spec.secretStoreRef.name`
// +kubebuilder:selectablefield:JSONPath=`.spec.secretStoreRef.kind`
// +kubebuilder:selectablefield:JSONPath=`.spec.target.name`
// +kubebuilder:selectablefield:JSONPath=`.spec.refreshInterval`
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state: where the data comes from and which Secret
	// it goes to. It is required because its data or dataFrom is (ESO's
	// webhook refuses an ExternalSecret without either).
	Spec ExternalSecretSpec `json:"spec"`

	// Status is the state the controller last observed.
	// +optional
	Status ExternalSecretStatus `json:"status,omitempty"`
}

// ExternalSecretList is a list of ExternalSecrets.
//
// +kubebuilder:object:root=true
type ExternalSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the ExternalSecrets.
	Items []ExternalSecret `json:"items"`
}

// ExternalSecretSpec is the desired state of an ExternalSecret.
//
// +kubebuilder:validation:XValidation:rule="(has(self.data) && size(self.data) > 0) || (has(self.dataFrom) && size(self.dataFrom) > 0)",message="either data or dataFrom should be specified"
type ExternalSecretSpec struct {
	// SecretStoreRef names the store to read from. It may be left out when
	// every data and dataFrom entry names its own store in sourceRef.
	// +optional
	SecretStoreRef SecretStoreRef `json:"secretStoreRef,omitzero"`

	// Target describes the Secret the controller writes.
	// +optional
	Target ExternalSecretTarget `json:"target,omitzero"`

	// RefreshPolicy decides when the data is read again:
	// - CreatedOnce: create the Secret if it is missing and never update it.
	// - Periodic: read again every refreshInterval; never after the first
	//   sync if refreshInterval is 0.
	// - OnChange: read again only when the ExternalSecret's metadata or spec
	//   changes.
	// Unset means Periodic.
	// +optional
	RefreshPolicy ExternalSecretRefreshPolicy `json:"refreshPolicy,omitempty"`

	// RefreshInterval is how long after a sync the data is read again, as a
	// Go duration ("1h", "2h30m", "10s"; units ns, us or µs, ms, s, m, h).
	// "0s" fetches once and never again. Unset means DefaultRefreshInterval
	// (1h), applied by the controller, not stored.
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`

	// Data maps keys of the Secret to single values read from the provider.
	// +optional
	Data []ExternalSecretData `json:"data,omitempty"`

	// DataFrom reads many keys at once: all properties of one remote secret
	// (extract) or all remote secrets matching a search (find). Entries are
	// merged in order, later keys overwriting earlier ones, and data is
	// applied after them.
	// +optional
	DataFrom []ExternalSecretDataFromRemoteRef `json:"dataFrom,omitempty"`
}

// SecretStoreRef names a SecretStore or ClusterSecretStore.
type SecretStoreRef struct {
	// Name of the SecretStore or ClusterSecretStore.
	// +optional
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
	Name string `json:"name,omitempty"`

	// Kind of the store: SecretStore or ClusterSecretStore. Unset means
	// SecretStore.
	// +optional
	// +kubebuilder:validation:Enum=SecretStore;ClusterSecretStore
	Kind string `json:"kind,omitempty"`
}

// ExternalSecretRefreshPolicy decides when an ExternalSecret is read again.
// +kubebuilder:validation:Enum=CreatedOnce;Periodic;OnChange
type ExternalSecretRefreshPolicy string

const (
	// RefreshPolicyCreatedOnce creates the Secret once and never updates it.
	RefreshPolicyCreatedOnce ExternalSecretRefreshPolicy = "CreatedOnce"
	// RefreshPolicyPeriodic reads the data again every refreshInterval.
	RefreshPolicyPeriodic ExternalSecretRefreshPolicy = "Periodic"
	// RefreshPolicyOnChange reads the data again only when the
	// ExternalSecret's metadata or spec changes.
	RefreshPolicyOnChange ExternalSecretRefreshPolicy = "OnChange"
)

// ExternalSecretTarget describes the one Secret an ExternalSecret writes.
//
// +kubebuilder:validation:XValidation:rule="!has(self.deletionPolicy) || self.deletionPolicy != 'Delete' || !has(self.creationPolicy) || !(self.creationPolicy in ['Merge', 'None', 'CreateOrMerge'])",message="deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner"
// +kubebuilder:validation:XValidation:rule="!has(self.deletionPolicy) || self.deletionPolicy != 'Merge' || !has(self.creationPolicy) || self.creationPolicy != 'None'",message="deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with"
type ExternalSecretTarget struct {
	// Name of the Secret. Unset means the ExternalSecret's own name.
	// +optional
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
	Name string `json:"name,omitempty"`

	// CreationPolicy decides whether the controller creates and owns the
	// Secret. Unset means Owner.
	// +optional
	CreationPolicy ExternalSecretCreationPolicy `json:"creationPolicy,omitempty"`

	// DeletionPolicy decides what happens to the Secret when the provider no
	// longer holds the data. Unset means Retain.
	// +optional
	DeletionPolicy ExternalSecretDeletionPolicy `json:"deletionPolicy,omitempty"`

	// Template shapes the Secret: its type, metadata and data rendered from
	// the fetched values.
	// +optional
	Template *ExternalSecretTemplate `json:"template,omitempty"`

	// Immutable makes the Secret immutable: once written, its data is never
	// updated again.
	// +optional
	Immutable bool `json:"immutable,omitempty"`
}

// ExternalSecretCreationPolicy decides how the Secret is created and owned.
// +kubebuilder:validation:Enum=Owner;Orphan;Merge;None;CreateOrMerge
type ExternalSecretCreationPolicy string

const (
	// CreatePolicyOwner creates the Secret with an owner reference to the
	// ExternalSecret, so deleting the ExternalSecret deletes the Secret.
	CreatePolicyOwner ExternalSecretCreationPolicy = "Owner"
	// CreatePolicyOrphan creates the Secret without an owner reference, so it
	// outlives the ExternalSecret.
	CreatePolicyOrphan ExternalSecretCreationPolicy = "Orphan"
	// CreatePolicyMerge never creates the Secret; it merges the data into an
	// existing one.
	CreatePolicyMerge ExternalSecretCreationPolicy = "Merge"
	// CreatePolicyNone writes no Secret at all.
	CreatePolicyNone ExternalSecretCreationPolicy = "None"
	// CreatePolicyCreateOrMerge creates the Secret when it is missing and
	// merges into it when it exists, without an owner reference. A deleted
	// Secret is recreated while the ExternalSecret exists and is kept when
	// the ExternalSecret is deleted.
	CreatePolicyCreateOrMerge ExternalSecretCreationPolicy = "CreateOrMerge"
)

// ExternalSecretDeletionPolicy decides what happens to the Secret when the
// provider no longer holds the data.
// +kubebuilder:validation:Enum=Delete;Merge;Retain
type ExternalSecretDeletionPolicy string

const (
	// DeletionPolicyDelete deletes the Secret once all of its provider data
	// is gone. Missing provider data is not an error.
	DeletionPolicyDelete ExternalSecretDeletionPolicy = "Delete"
	// DeletionPolicyMerge removes the keys whose provider data is gone and
	// keeps the Secret. Missing provider data is not an error.
	DeletionPolicyMerge ExternalSecretDeletionPolicy = "Merge"
	// DeletionPolicyRetain keeps the Secret as it is when provider data is
	// gone, and reports the missing data as a sync error.
	DeletionPolicyRetain ExternalSecretDeletionPolicy = "Retain"
)

// ExternalSecretTemplate is the blueprint of the Secret. It is not a
// corev1.Secret because an embedded ObjectMeta would not keep its fields in
// the CRD schema (controller-tools #448).
//
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type != 'bootstrap.kubernetes.io/token'",message="template.type=\"bootstrap.kubernetes.io/token\" is not allowed"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type != 'kubernetes.io/service-account-token' || !has(self.metadata) || !has(self.metadata.annotations) || !('kubernetes.io/service-account.name' in self.metadata.annotations)",message="template.type=\"kubernetes.io/service-account-token\" with annotation \"kubernetes.io/service-account.name\" is not allowed"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type != 'kubernetes.io/service-account-token' || !has(self.templateFrom) || !self.templateFrom.exists(t, has(t.target) && t.target == 'Annotations')",message="template.type=\"kubernetes.io/service-account-token\" with templateFrom target=\"Annotations\" is not allowed"
type ExternalSecretTemplate struct {
	// Type of the Secret, such as Opaque or kubernetes.io/tls.
	// +optional
	Type corev1.SecretType `json:"type,omitempty"`

	// EngineVersion is the template engine that renders data and
	// templateFrom. Only v2 exists; unset means v2.
	// +optional
	EngineVersion TemplateEngineVersion `json:"engineVersion,omitempty"`

	// Metadata is the labels, annotations and finalizers of the Secret.
	// +optional
	Metadata ExternalSecretTemplateMetadata `json:"metadata,omitzero"`

	// MergePolicy decides whether the rendered templates replace the fetched
	// data (Replace) or are merged with it (Merge). Unset means Replace.
	// +optional
	MergePolicy TemplateMergePolicy `json:"mergePolicy,omitempty"`

	// Data maps keys of the Secret to templates rendered with the fetched
	// values.
	// +optional
	Data map[string]string `json:"data,omitempty"`

	// TemplateFrom reads templates from ConfigMaps, Secrets or literals.
	// +optional
	TemplateFrom []TemplateFrom `json:"templateFrom,omitempty"`
}

// ExternalSecretTemplateMetadata is the metadata of the Secret.
type ExternalSecretTemplateMetadata struct {
	// Annotations of the Secret. Values are templates.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels of the Secret. Values are templates.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Finalizers added to the Secret, for another tool to remove when it is
	// done with the Secret.
	// +optional
	Finalizers []string `json:"finalizers,omitempty"`
}

// TemplateEngineVersion names a template engine.
// +kubebuilder:validation:Enum=v2
type TemplateEngineVersion string

const (
	// TemplateEngineV2 is Go text/template with ESO's v2 function set.
	TemplateEngineV2 TemplateEngineVersion = "v2"
)

// TemplateMergePolicy decides how rendered templates combine with the
// fetched data.
// +kubebuilder:validation:Enum=Replace;Merge
type TemplateMergePolicy string

const (
	// MergePolicyReplace makes the rendered templates the whole Secret data.
	MergePolicyReplace TemplateMergePolicy = "Replace"
	// MergePolicyMerge adds the rendered templates to the fetched data.
	MergePolicyMerge TemplateMergePolicy = "Merge"
)

// TemplateFrom is one source of templates: a ConfigMap, a Secret or a
// literal.
type TemplateFrom struct {
	// ConfigMap reads templates from keys of a ConfigMap in the
	// ExternalSecret's namespace.
	// +optional
	ConfigMap *TemplateRef `json:"configMap,omitempty"`

	// Secret reads templates from keys of a Secret in the ExternalSecret's
	// namespace.
	// +optional
	Secret *TemplateRef `json:"secret,omitempty"`

	// Target is the part of the Secret the rendered templates go to: Data,
	// Annotations or Labels. Unset means Data.
	// +optional
	Target TemplateTarget `json:"target,omitempty"`

	// Literal is a template given inline. It renders to a YAML map whose
	// entries go to target.
	// +optional
	Literal *string `json:"literal,omitempty"`

	// ValuesDecodingStrategy decodes the rendered values before they are
	// written. Unset means None.
	// +optional
	ValuesDecodingStrategy ExternalSecretDecodingStrategy `json:"valuesDecodingStrategy,omitempty"`
}

// TemplateRef names a ConfigMap or Secret holding templates.
type TemplateRef struct {
	// Name of the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
	Name string `json:"name"`

	// Items are the keys whose values are templates.
	Items []TemplateRefItem `json:"items"`
}

// TemplateRefItem is one key of a ConfigMap or Secret holding a template.
type TemplateRefItem struct {
	// Key in the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[-._a-zA-Z0-9]+$
	Key string `json:"key"`

	// TemplateAs decides whether only the value is a template (Values) or
	// the value renders to a YAML map of keys and values (KeysAndValues).
	// Unset means Values.
	// +optional
	TemplateAs TemplateScope `json:"templateAs,omitempty"`
}

// TemplateScope decides what of a templateFrom item is rendered.
// +kubebuilder:validation:Enum=Values;KeysAndValues
type TemplateScope string

const (
	// TemplateScopeValues renders the value; the key is kept as it is.
	TemplateScopeValues TemplateScope = "Values"
	// TemplateScopeKeysAndValues renders the value to a YAML map of keys and
	// values.
	TemplateScopeKeysAndValues TemplateScope = "KeysAndValues"
)

// TemplateTarget is the part of the Secret rendered templates go to.
// +kubebuilder:validation:Enum=Data;Annotations;Labels
type TemplateTarget string

const (
	// TemplateTargetData writes to the Secret's data.
	TemplateTargetData TemplateTarget = "Data"
	// TemplateTargetAnnotations writes to the Secret's annotations.
	TemplateTargetAnnotations TemplateTarget = "Annotations"
	// TemplateTargetLabels writes to the Secret's labels.
	TemplateTargetLabels TemplateTarget = "Labels"
)

// ExternalSecretData maps one key of the Secret to one provider value.
type ExternalSecretData struct {
	// SecretKey is the key in the Secret.
	// +kubebuilder:validation:MinLength:=1
	// +kubebuilder:validation:MaxLength:=253
	// +kubebuilder:validation:Pattern:=^[-._a-zA-Z0-9]+$
	SecretKey string `json:"secretKey"`

	// RemoteRef locates the value in the provider.
	RemoteRef ExternalSecretDataRemoteRef `json:"remoteRef"`

	// SourceRef reads this entry from another store than
	// spec.secretStoreRef.
	// +optional
	SourceRef *StoreSourceRef `json:"sourceRef,omitempty"`
}

// ExternalSecretDataRemoteRef locates a value in the provider.
type ExternalSecretDataRemoteRef struct {
	// Key is the name or path of the remote secret.
	Key string `json:"key"`

	// MetadataPolicy Fetch reads the remote secret's metadata (tags or
	// labels) instead of its value. Unset means None.
	// +optional
	MetadataPolicy ExternalSecretMetadataPolicy `json:"metadataPolicy,omitempty"`

	// Property selects one property of a structured remote value, where the
	// provider supports it (a gjson path for JSON values).
	// +optional
	Property string `json:"property,omitempty"`

	// Version selects a version of the remote value, where the provider
	// supports it.
	// +optional
	Version string `json:"version,omitempty"`

	// ConversionStrategy converts the keys read. Unset means Default.
	// +optional
	ConversionStrategy ExternalSecretConversionStrategy `json:"conversionStrategy,omitempty"`

	// DecodingStrategy decodes the values read. Unset means None.
	// +optional
	DecodingStrategy ExternalSecretDecodingStrategy `json:"decodingStrategy,omitempty"`

	// NullBytePolicy decides whether values holding NUL bytes are accepted
	// (Ignore) or fail the sync (Fail). Unset means Ignore.
	// +optional
	NullBytePolicy ExternalSecretNullBytePolicy `json:"nullBytePolicy,omitempty"`
}

// ExternalSecretMetadataPolicy decides whether the value or the metadata of
// a remote secret is read.
// +kubebuilder:validation:Enum=None;Fetch
type ExternalSecretMetadataPolicy string

const (
	// ExternalSecretMetadataPolicyNone reads the value.
	ExternalSecretMetadataPolicyNone ExternalSecretMetadataPolicy = "None"
	// ExternalSecretMetadataPolicyFetch reads the metadata.
	ExternalSecretMetadataPolicyFetch ExternalSecretMetadataPolicy = "Fetch"
)

// ExternalSecretConversionStrategy converts the keys read from a provider.
// +kubebuilder:validation:Enum=Default;Unicode
type ExternalSecretConversionStrategy string

const (
	// ExternalSecretConversionDefault keeps keys as they are.
	ExternalSecretConversionDefault ExternalSecretConversionStrategy = "Default"
	// ExternalSecretConversionUnicode replaces characters not allowed in a
	// Secret key by their Unicode code point.
	ExternalSecretConversionUnicode ExternalSecretConversionStrategy = "Unicode"
)

// ExternalSecretDecodingStrategy decodes the values read from a provider.
// +kubebuilder:validation:Enum=Auto;Base64;Base64URL;None
type ExternalSecretDecodingStrategy string

const (
	// ExternalSecretDecodeAuto decodes base64 or base64url when the value is
	// one, and keeps it as it is otherwise.
	ExternalSecretDecodeAuto ExternalSecretDecodingStrategy = "Auto"
	// ExternalSecretDecodeBase64 decodes standard base64.
	ExternalSecretDecodeBase64 ExternalSecretDecodingStrategy = "Base64"
	// ExternalSecretDecodeBase64URL decodes URL-safe base64.
	ExternalSecretDecodeBase64URL ExternalSecretDecodingStrategy = "Base64URL"
	// ExternalSecretDecodeNone keeps values as they are.
	ExternalSecretDecodeNone ExternalSecretDecodingStrategy = "None"
)

// ExternalSecretNullBytePolicy decides what happens to values holding NUL
// bytes.
// +kubebuilder:validation:Enum=Ignore;Fail
type ExternalSecretNullBytePolicy string

const (
	// ExternalSecretNullBytePolicyIgnore accepts values holding NUL bytes.
	ExternalSecretNullBytePolicyIgnore ExternalSecretNullBytePolicy = "Ignore"
	// ExternalSecretNullBytePolicyFail fails the sync on a value holding a
	// NUL byte.
	ExternalSecretNullBytePolicyFail ExternalSecretNullBytePolicy = "Fail"
)

// StoreSourceRef reads a data entry from another store.
//
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type StoreSourceRef struct {
	// SecretStoreRef names the store.
	// +optional
	SecretStoreRef SecretStoreRef `json:"storeRef,omitzero"`
}

// ExternalSecretDataFromRemoteRef reads many keys at once: the properties
// of one remote secret (extract) or the remote secrets matching a search
// (find), with their keys optionally rewritten.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.extract) && has(self.find))",message="extract, find, or generatorRef cannot be set at the same time"
// +kubebuilder:validation:XValidation:rule="has(self.extract) || has(self.find) || has(self.sourceRef)",message="either extract, find, or sourceRef must be set to dataFrom"
type ExternalSecretDataFromRemoteRef struct {
	// Extract reads every property of one remote secret as a key of its own.
	// +optional
	Extract *ExternalSecretDataRemoteRef `json:"extract,omitempty"`

	// Find reads every remote secret whose name or tags match, each as a
	// key of its own.
	// +optional
	Find *ExternalSecretFind `json:"find,omitempty"`

	// Rewrite renames the keys read, applying each entry in order.
	// +optional
	Rewrite []ExternalSecretRewrite `json:"rewrite,omitempty"`

	// SourceRef reads this entry from another store than
	// spec.secretStoreRef.
	// +optional
	SourceRef *StoreGeneratorSourceRef `json:"sourceRef,omitempty"`
}

// StoreGeneratorSourceRef reads a dataFrom entry from another store. ESO
// also allows a generator here; sealsync has no generators.
//
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type StoreGeneratorSourceRef struct {
	// SecretStoreRef names the store.
	// +optional
	SecretStoreRef *SecretStoreRef `json:"storeRef,omitempty"`
}

// ExternalSecretFind searches the provider for remote secrets.
type ExternalSecretFind struct {
	// Path is the root the search starts from.
	// +optional
	Path *string `json:"path,omitempty"`

	// Name matches remote secrets by name.
	// +optional
	Name *FindName `json:"name,omitempty"`

	// Tags matches remote secrets carrying all of these tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// ConversionStrategy converts the keys read. Unset means Default.
	// +optional
	ConversionStrategy ExternalSecretConversionStrategy `json:"conversionStrategy,omitempty"`

	// DecodingStrategy decodes the values read. Unset means None.
	// +optional
	DecodingStrategy ExternalSecretDecodingStrategy `json:"decodingStrategy,omitempty"`

	// NullBytePolicy decides whether values holding NUL bytes are accepted
	// (Ignore) or fail the sync (Fail). Unset means Ignore.
	// +optional
	NullBytePolicy ExternalSecretNullBytePolicy `json:"nullBytePolicy,omitempty"`
}

// FindName matches remote secrets by name.
type FindName struct {
	// RegExp is a regular expression (Go syntax) the name must match.
	// +optional
	RegExp string `json:"regexp,omitempty"`
}

// ExternalSecretRewrite is one rewrite of the keys read by a dataFrom entry.
//
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type ExternalSecretRewrite struct {
	// Merge merges the values read, JSON maps, into one set of keys.
	// +optional
	Merge *ExternalSecretRewriteMerge `json:"merge,omitempty"`

	// Regexp renames keys with a regular expression replacement
	// (regexp.ReplaceAllString).
	// +optional
	Regexp *ExternalSecretRewriteRegexp `json:"regexp,omitempty"`

	// Transform renames keys with a template.
	// +optional
	Transform *ExternalSecretRewriteTransform `json:"transform,omitempty"`
}

// ExternalSecretRewriteMerge merges the values read, JSON maps, into one set
// of keys.
type ExternalSecretRewriteMerge struct {
	// Into is the key the merged map is written to as JSON. Required with
	// strategy JSON, ignored otherwise.
	// +optional
	Into string `json:"into,omitempty"`

	// Priority lists the keys whose values win conflicts, highest last.
	// +optional
	Priority []string `json:"priority,omitempty"`

	// PriorityPolicy decides whether a key in priority that was not read is
	// an error (Strict) or skipped (IgnoreNotFound). Unset means Strict.
	// +optional
	PriorityPolicy ExternalSecretRewriteMergePriorityPolicy `json:"priorityPolicy,omitempty"`

	// ConflictPolicy decides whether two values for the same key are an
	// error (Error) or the later one wins (Ignore). Unset means Error.
	// +optional
	ConflictPolicy ExternalSecretRewriteMergeConflictPolicy `json:"conflictPolicy,omitempty"`

	// Strategy Extract writes each merged property as a key of its own; JSON
	// writes the merged map to the key into. Unset means Extract.
	// +optional
	Strategy ExternalSecretRewriteMergeStrategy `json:"strategy,omitempty"`
}

// ExternalSecretRewriteMergeConflictPolicy decides what two values for the
// same key do in a merge.
// +kubebuilder:validation:Enum=Ignore;Error
type ExternalSecretRewriteMergeConflictPolicy string

const (
	// ExternalSecretRewriteMergeConflictPolicyIgnore lets the later value
	// win.
	ExternalSecretRewriteMergeConflictPolicyIgnore ExternalSecretRewriteMergeConflictPolicy = "Ignore"
	// ExternalSecretRewriteMergeConflictPolicyError fails the sync.
	ExternalSecretRewriteMergeConflictPolicyError ExternalSecretRewriteMergeConflictPolicy = "Error"
)

// ExternalSecretRewriteMergePriorityPolicy decides what a key in priority
// that was not read does in a merge.
// +kubebuilder:validation:Enum=IgnoreNotFound;Strict
type ExternalSecretRewriteMergePriorityPolicy string

const (
	// ExternalSecretRewriteMergePriorityPolicyIgnoreNotFound skips it.
	ExternalSecretRewriteMergePriorityPolicyIgnoreNotFound ExternalSecretRewriteMergePriorityPolicy = "IgnoreNotFound"
	// ExternalSecretRewriteMergePriorityPolicyStrict fails the sync.
	ExternalSecretRewriteMergePriorityPolicyStrict ExternalSecretRewriteMergePriorityPolicy = "Strict"
)

// ExternalSecretRewriteMergeStrategy decides where merged values go.
// +kubebuilder:validation:Enum=Extract;JSON
type ExternalSecretRewriteMergeStrategy string

const (
	// ExternalSecretRewriteMergeStrategyExtract writes each merged property
	// as a key of its own.
	ExternalSecretRewriteMergeStrategyExtract ExternalSecretRewriteMergeStrategy = "Extract"
	// ExternalSecretRewriteMergeStrategyJSON writes the merged map as JSON to
	// one key.
	ExternalSecretRewriteMergeStrategyJSON ExternalSecretRewriteMergeStrategy = "JSON"
)

// ExternalSecretRewriteRegexp renames keys with a regular expression.
type ExternalSecretRewriteRegexp struct {
	// Source is the regular expression (Go syntax) matched against each key.
	Source string `json:"source"`

	// Target is the replacement; $1 and ${name} refer to capture groups.
	Target string `json:"target"`
}

// ExternalSecretRewriteTransform renames keys with a template.
type ExternalSecretRewriteTransform struct {
	// Template renders the new key; .value is the old one.
	Template string `json:"template"`
}

// ExternalSecretStatus is the state the controller last observed.
type ExternalSecretStatus struct {
	// RefreshTime is when the data was last read and the Secret written.
	// +optional
	// +nullable
	RefreshTime metav1.Time `json:"refreshTime,omitzero"`

	// SyncedResourceVersion identifies the ExternalSecret as of the last
	// sync: its generation and a hash of its labels and annotations.
	// +optional
	SyncedResourceVersion string `json:"syncedResourceVersion,omitempty"`

	// Conditions are the Ready and Deleted conditions.
	// +optional
	Conditions []ExternalSecretStatusCondition `json:"conditions,omitempty"`

	// Binding names the Secret, as a servicebinding.io Provisioned Service.
	// +optional
	Binding SecretBinding `json:"binding,omitzero"`
}

// SecretBinding names the Secret an ExternalSecret writes.
// +structType=atomic
type SecretBinding struct {
	// Name of the Secret.
	// +optional
	Name string `json:"name,omitempty"`
}

// ExternalSecretConditionType is the type of an ExternalSecret condition.
// +kubebuilder:validation:Enum=Ready;Deleted
type ExternalSecretConditionType string

const (
	// ExternalSecretReady is True when the Secret holds the data last read.
	ExternalSecretReady ExternalSecretConditionType = "Ready"
	// ExternalSecretDeleted is True when the Secret was deleted because its
	// provider data is gone (deletionPolicy Delete).
	ExternalSecretDeleted ExternalSecretConditionType = "Deleted"
)

// ExternalSecretStatusCondition is one condition of an ExternalSecret.
type ExternalSecretStatusCondition struct {
	// Type of the condition.
	Type ExternalSecretConditionType `json:"type"`

	// Status of the condition: True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`

	// Reason is a CamelCase word for the last transition, such as
	// SecretSynced.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message explains the last transition to a human. It never holds
	// secret values.
	// +optional
	Message string `json:"message,omitempty"`

	// LastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitzero"`
}
