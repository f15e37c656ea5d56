package v1

import (
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
)

// AWSProvider reads from AWS Secrets Manager or Systems Manager Parameter
// Store.
type AWSProvider struct {
	// Service is the AWS service to read from.
	Service AWSServiceType `json:"service"`

	// Auth is where the AWS credentials come from. Unset means the
	// controller's own AWS identity, the AWS SDK's default chain (its
	// environment, IRSA token file, EKS Pod Identity, instance profile):
	// only a ClusterSecretStore may use it, and only when the operator
	// allowed it (--allow-cluster-store-controller-identity). A SecretStore
	// must name its credentials.
	// +optional
	Auth *AWSAuth `json:"auth,omitempty"`

	// Role is the ARN of a role to assume before reading.
	// +optional
	Role string `json:"role,omitempty"`

	// Region is the AWS region to read from.
	Region string `json:"region"`

	// AdditionalRoles are role ARNs assumed in order, each with the
	// credentials of the one before, before role is assumed.
	// +optional
	AdditionalRoles []string `json:"additionalRoles,omitempty"`

	// ExternalID is the external ID to assume roles with.
	// +optional
	ExternalID string `json:"externalID,omitempty"`

	// SessionTags are STS session tags set when assuming role.
	// +optional
	SessionTags []Tag `json:"sessionTags,omitempty"`

	// SecretsManager configures how secrets are deleted from Secrets
	// Manager (by PushSecrets with deletionPolicy Delete).
	// +optional
	SecretsManager *SecretsManager `json:"secretsManager,omitempty"`

	// TransitiveTagKeys are the session tag keys that pass on to roles
	// assumed from the assumed role.
	// +optional
	TransitiveTagKeys []string `json:"transitiveTagKeys,omitempty"`

	// SessionTagsPolicy decides which session tags the controller adds when
	// it assumes a role: None adds none; Simple adds esoNamespace,
	// esoStoreName and esoStoreKind; Custom adds those and
	// customSessionTags. Simple and Custom need sts:TagSession on the role.
	// Unset means None.
	// +optional
	SessionTagsPolicy AWSSessionTagsPolicy `json:"sessionTagsPolicy,omitempty"`

	// CustomSessionTags are the session tags added under sessionTagsPolicy
	// Custom.
	// +optional
	CustomSessionTags map[string]string `json:"customSessionTags,omitempty"`

	// Prefix is prepended to every remote key read.
	// +optional
	Prefix string `json:"prefix,omitempty"`
}

// AWSServiceType is an AWS service a store reads from.
// +kubebuilder:validation:Enum=SecretsManager;ParameterStore
type AWSServiceType string

const (
	// AWSServiceSecretsManager is AWS Secrets Manager.
	AWSServiceSecretsManager AWSServiceType = "SecretsManager"
	// AWSServiceParameterStore is AWS Systems Manager Parameter Store.
	AWSServiceParameterStore AWSServiceType = "ParameterStore"
)

// AWSSessionTagsPolicy decides which session tags are added when a role is
// assumed.
// +kubebuilder:validation:Enum=None;Simple;Custom
type AWSSessionTagsPolicy string

const (
	// AWSSessionTagsPolicyNone adds no tags.
	AWSSessionTagsPolicyNone AWSSessionTagsPolicy = "None"
	// AWSSessionTagsPolicySimple adds esoNamespace, esoStoreName and
	// esoStoreKind.
	AWSSessionTagsPolicySimple AWSSessionTagsPolicy = "Simple"
	// AWSSessionTagsPolicyCustom adds the Simple tags and customSessionTags.
	AWSSessionTagsPolicyCustom AWSSessionTagsPolicy = "Custom"
)

// AWSAuth is where AWS credentials come from: static keys in Secrets or a
// ServiceAccount with IAM roles for service accounts (IRSA). With neither,
// the controller's own identity (the AWS SDK's default chain), which only
// a ClusterSecretStore the operator allowed may use.
type AWSAuth struct {
	// SecretRef reads static credentials from Secrets.
	// +optional
	SecretRef *AWSAuthSecretRef `json:"secretRef,omitempty"`

	// JWTAuth exchanges a token of a ServiceAccount annotated with an IAM
	// role (IRSA) for credentials.
	// +optional
	JWTAuth *AWSJWTAuth `json:"jwt,omitempty"`
}

// AWSAuthSecretRef reads static AWS credentials from Secrets. Both the
// access key ID and the secret access key are needed.
type AWSAuthSecretRef struct {
	// AccessKeyID is the access key ID.
	// +optional
	AccessKeyID *esmeta.SecretKeySelector `json:"accessKeyIDSecretRef,omitempty"`

	// SecretAccessKey is the secret access key.
	// +optional
	SecretAccessKey *esmeta.SecretKeySelector `json:"secretAccessKeySecretRef,omitempty"`

	// SessionToken is the session token, needed when the keys are
	// temporary credentials.
	// +optional
	SessionToken *esmeta.SecretKeySelector `json:"sessionTokenSecretRef,omitempty"`
}

// AWSJWTAuth exchanges a ServiceAccount token for AWS credentials (IRSA).
type AWSJWTAuth struct {
	// ServiceAccountRef is the ServiceAccount, annotated with
	// eks.amazonaws.com/role-arn.
	// +optional
	ServiceAccountRef *esmeta.ServiceAccountSelector `json:"serviceAccountRef,omitempty"`
}

// Tag is an STS session tag.
type Tag struct {
	// Key of the tag.
	Key string `json:"key"`

	// Value of the tag.
	Value string `json:"value"`
}

// SecretsManager configures how secrets are deleted from AWS Secrets
// Manager. Only PushSecrets with deletionPolicy Delete delete secrets.
type SecretsManager struct {
	// ForceDeleteWithoutRecovery deletes at once, without a recovery window.
	// It excludes recoveryWindowInDays.
	// +optional
	ForceDeleteWithoutRecovery bool `json:"forceDeleteWithoutRecovery,omitempty"`

	// RecoveryWindowInDays is how many days, 7 to 30, a deleted secret can
	// be recovered. Unset means AWS's 30.
	// +optional
	RecoveryWindowInDays int64 `json:"recoveryWindowInDays,omitempty"`
}
