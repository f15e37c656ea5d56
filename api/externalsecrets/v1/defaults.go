package v1

import "time"

// Defaults ESO documents for fields left unset. The CRDs carry none of them
// (see the package documentation), so the controller applies them when it
// reads an object, for string fields with cmp.Or:
//
//	policy := cmp.Or(es.Spec.Target.CreationPolicy, DefaultCreationPolicy)
const (
	// DefaultRefreshInterval is the refreshInterval of an ExternalSecret
	// that sets none. Read it through [ExternalSecretSpec.RefreshIntervalOrDefault].
	DefaultRefreshInterval = time.Hour
	// DefaultClusterExternalSecretRefreshInterval is the refreshTime of a
	// ClusterExternalSecret that sets none. Read it through
	// [ClusterExternalSecretSpec.RefreshIntervalOrDefault].
	DefaultClusterExternalSecretRefreshInterval = time.Hour

	// DefaultSecretStoreKind is the kind of a secretStoreRef that names none.
	DefaultSecretStoreKind = SecretStoreKind
	// DefaultRefreshPolicy is the refreshPolicy of an ExternalSecret that
	// sets none.
	DefaultRefreshPolicy = RefreshPolicyPeriodic
	// DefaultCreationPolicy is the target.creationPolicy of an
	// ExternalSecret that sets none.
	DefaultCreationPolicy = CreatePolicyOwner
	// DefaultDeletionPolicy is the target.deletionPolicy of an
	// ExternalSecret that sets none.
	DefaultDeletionPolicy = DeletionPolicyRetain

	// DefaultMetadataPolicy is the metadataPolicy of a remoteRef that sets
	// none.
	DefaultMetadataPolicy = ExternalSecretMetadataPolicyNone
	// DefaultConversionStrategy is the conversionStrategy of a remoteRef or
	// find that sets none.
	DefaultConversionStrategy = ExternalSecretConversionDefault
	// DefaultDecodingStrategy is the decodingStrategy of a remoteRef or find
	// that sets none, and the valuesDecodingStrategy of a templateFrom.
	DefaultDecodingStrategy = ExternalSecretDecodeNone
	// DefaultNullBytePolicy is the nullBytePolicy of a remoteRef or find
	// that sets none.
	DefaultNullBytePolicy = ExternalSecretNullBytePolicyIgnore

	// DefaultTemplateEngineVersion is the engineVersion of a template that
	// sets none.
	DefaultTemplateEngineVersion = TemplateEngineV2
	// DefaultTemplateMergePolicy is the mergePolicy of a template that sets
	// none.
	DefaultTemplateMergePolicy = MergePolicyReplace
	// DefaultTemplateTarget is the target of a templateFrom that sets none.
	DefaultTemplateTarget = TemplateTargetData
	// DefaultTemplateScope is the templateAs of a templateFrom item that
	// sets none.
	DefaultTemplateScope = TemplateScopeValues

	// DefaultRewriteMergeConflictPolicy is the conflictPolicy of a rewrite
	// merge that sets none.
	DefaultRewriteMergeConflictPolicy = ExternalSecretRewriteMergeConflictPolicyError
	// DefaultRewriteMergePriorityPolicy is the priorityPolicy of a rewrite
	// merge that sets none.
	DefaultRewriteMergePriorityPolicy = ExternalSecretRewriteMergePriorityPolicyStrict
	// DefaultRewriteMergeStrategy is the strategy of a rewrite merge that
	// sets none.
	DefaultRewriteMergeStrategy = ExternalSecretRewriteMergeStrategyExtract

	// DefaultVaultKVVersion is the KV engine version of a vault provider
	// that sets none.
	DefaultVaultKVVersion = VaultKVStoreV2
	// DefaultVaultAppRolePath is where the AppRole method is mounted when
	// appRole.path is unset.
	DefaultVaultAppRolePath = "approle"
	// DefaultVaultKubernetesMountPath is where the Kubernetes method is
	// mounted when kubernetes.mountPath is unset.
	DefaultVaultKubernetesMountPath = "kubernetes"
	// DefaultVaultLDAPPath is where the LDAP method is mounted when
	// ldap.path is unset.
	DefaultVaultLDAPPath = "ldap"
	// DefaultVaultUserPassPath is where the userpass method is mounted when
	// userPass.path is unset.
	DefaultVaultUserPassPath = "userpass"
	// DefaultVaultJWTPath is where the JWT method is mounted when jwt.path
	// is unset.
	DefaultVaultJWTPath = "jwt"
	// DefaultVaultCertPath is where the cert method is mounted when
	// cert.path is unset.
	DefaultVaultCertPath = "cert"
	// DefaultVaultIAMPath is where the AWS method is mounted when iam.path
	// is unset.
	DefaultVaultIAMPath = "aws"
	// DefaultVaultGCPPath is where the GCP method is mounted when gcp.path
	// is unset.
	DefaultVaultGCPPath = "gcp"

	// DefaultAWSSessionTagsPolicy is the sessionTagsPolicy of an aws
	// provider that sets none.
	DefaultAWSSessionTagsPolicy = AWSSessionTagsPolicyNone
)

// RefreshIntervalOrDefault returns how long after a sync the data is read
// again: refreshInterval, or [DefaultRefreshInterval] when it is unset.
// Zero, set explicitly, means never again after the first sync.
func (s *ExternalSecretSpec) RefreshIntervalOrDefault() time.Duration {
	if s.RefreshInterval == nil {
		return DefaultRefreshInterval
	}
	return s.RefreshInterval.Duration
}

// RefreshIntervalOrDefault returns how often the namespaces are checked
// again: refreshTime, or [DefaultClusterExternalSecretRefreshInterval] when
// it is unset.
func (s *ClusterExternalSecretSpec) RefreshIntervalOrDefault() time.Duration {
	if s.RefreshInterval == nil {
		return DefaultClusterExternalSecretRefreshInterval
	}
	return s.RefreshInterval.Duration
}
