package v1

// Reasons of an ExternalSecret's conditions, ESO's words so dashboards and
// alerts written for ESO keep working.
const (
	// ConditionReasonSecretSynced: the Secret holds the data last read
	// (Ready=True).
	ConditionReasonSecretSynced = "SecretSynced"
	// ConditionReasonSecretSyncedError: reading the data or writing the
	// Secret failed; the Secret keeps its previous data (Ready=False).
	ConditionReasonSecretSyncedError = "SecretSyncedError"
	// ConditionReasonSecretDeleted: the Secret was deleted because its
	// provider data is gone, under deletionPolicy Delete (Deleted=True).
	ConditionReasonSecretDeleted = "SecretDeleted"
	// ConditionReasonSecretMissing: the Secret is missing and the
	// ExternalSecret will not create it, as under refreshPolicy CreatedOnce
	// after the first sync or creationPolicy Merge (Ready=False).
	ConditionReasonSecretMissing = "SecretMissing"
)

// Reasons of the events recorded on an ExternalSecret.
const (
	// ReasonCreated: the Secret was created.
	ReasonCreated = "Created"
	// ReasonUpdated: the Secret was updated.
	ReasonUpdated = "Updated"
	// ReasonDeleted: the Secret was deleted.
	ReasonDeleted = "Deleted"
	// ReasonUpdateFailed: reading the data or writing the Secret failed.
	ReasonUpdateFailed = "UpdateFailed"
	// ReasonMissingProviderSecret: a remote secret is gone and was skipped
	// under deletionPolicy Delete or Merge.
	ReasonMissingProviderSecret = "MissingProviderSecret"
	// ReasonDeprecated: the object uses a deprecated field.
	ReasonDeprecated = "ParameterDeprecated"
)

// Reasons of a store's Ready condition and events.
const (
	// ReasonStoreValid: the provider configuration is valid and the
	// provider answered (Ready=True).
	ReasonStoreValid = "Valid"
	// ReasonInvalidStore: the store names no provider the controller knows.
	ReasonInvalidStore = "InvalidStoreConfiguration"
	// ReasonInvalidProviderConfig: no client could be made from the provider
	// configuration, or the provider rejected it.
	ReasonInvalidProviderConfig = "InvalidProviderConfig"
	// ReasonValidationFailed: the provider did not answer the validation
	// call.
	ReasonValidationFailed = "ValidationFailed"
	// ReasonValidationUnknown: the provider cannot tell whether the
	// configuration is valid (it may be valid only for some keys).
	ReasonValidationUnknown = "ValidationUnknown"
)
