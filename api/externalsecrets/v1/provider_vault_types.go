package v1

import (
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
)

// VaultProvider reads from the KV secrets engine of HashiCorp Vault (or
// OpenBao).
type VaultProvider struct {
	// Auth is how the controller logs in to Vault.
	// +optional
	Auth *VaultAuth `json:"auth,omitempty"`

	// Server is the address of Vault, such as
	// "https://vault.example.com:8200".
	Server string `json:"server"`

	// Path is the mount path of the KV engine, such as "secret". With
	// version v2 the "/data" segment is added when it is missing.
	// +optional
	Path *string `json:"path,omitempty"`

	// Version of the KV engine: v1 or v2. Unset means v2.
	// +optional
	Version VaultKVStoreVersion `json:"version,omitempty"`

	// Namespace is the Vault Enterprise namespace to read from, such as
	// "ns1".
	// +optional
	Namespace *string `json:"namespace,omitempty"`

	// CABundle is the PEM bundle of authorities that sign Vault's server
	// certificate, for an https server. Unset means the system roots.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`

	// TLS is the client certificate and key for a Vault that requires
	// mutual TLS on every request. It is not the cert login method (see
	// auth.cert).
	// +optional
	ClientTLS *VaultClientTLS `json:"tls,omitempty"`

	// CAProvider reads the bundle of authorities from a Secret or ConfigMap
	// instead of caBundle.
	// +optional
	CAProvider *CAProvider `json:"caProvider,omitempty"`

	// ReadYourWrites sends the replication state Vault returned with each
	// request, so a performance standby answers only once it has caught up.
	// +optional
	ReadYourWrites bool `json:"readYourWrites,omitempty"`

	// ForwardInconsistent asks a performance standby that has not caught up
	// to forward the request to the active node instead of failing it.
	// +optional
	ForwardInconsistent bool `json:"forwardInconsistent,omitempty"`

	// Headers are added to every request to Vault.
	// +optional
	Headers map[string]string `json:"headers,omitempty"`

	// CheckAndSet configures check-and-set writes to a KV v2 engine (for
	// PushSecrets).
	// +optional
	CheckAndSet *VaultCheckAndSet `json:"checkAndSet,omitempty"`
}

// VaultKVStoreVersion is the version of a Vault KV engine.
// +kubebuilder:validation:Enum=v1;v2
type VaultKVStoreVersion string

const (
	// VaultKVStoreV1 is KV version 1: unversioned secrets.
	VaultKVStoreV1 VaultKVStoreVersion = "v1"
	// VaultKVStoreV2 is KV version 2: versioned secrets with metadata.
	VaultKVStoreV2 VaultKVStoreVersion = "v2"
)

// VaultCheckAndSet configures check-and-set writes.
type VaultCheckAndSet struct {
	// Required makes every write carry the version it replaces.
	// +optional
	Required bool `json:"required,omitempty"`
}

// VaultClientTLS is the client certificate for mutual TLS with Vault.
type VaultClientTLS struct {
	// CertSecretRef is the PEM client certificate. Without a key,
	// "tls.crt" is read.
	// +optional
	CertSecretRef *esmeta.SecretKeySelector `json:"certSecretRef,omitempty"`

	// KeySecretRef is the PEM private key of the certificate. Without a
	// key, "tls.key" is read.
	// +optional
	KeySecretRef *esmeta.SecretKeySelector `json:"keySecretRef,omitempty"`
}

// VaultAuth is how the controller logs in to Vault: one of the methods,
// optionally in another Vault namespace than the one read from.
type VaultAuth struct {
	// Namespace is the Vault Enterprise namespace to log in to, when it
	// differs from the one read from. Unset means the provider's namespace.
	// +optional
	Namespace *string `json:"namespace,omitempty"`

	// TokenSecretRef logs in with a token held in a Secret.
	// +optional
	TokenSecretRef *esmeta.SecretKeySelector `json:"tokenSecretRef,omitempty"`

	// AppRole logs in with the AppRole method.
	// +optional
	AppRole *VaultAppRole `json:"appRole,omitempty"`

	// Kubernetes logs in with the Kubernetes method, presenting a
	// ServiceAccount token.
	// +optional
	Kubernetes *VaultKubernetesAuth `json:"kubernetes,omitempty"`

	// LDAP logs in with the LDAP method.
	// +optional
	LDAP *VaultLdapAuth `json:"ldap,omitempty"`

	// JWT logs in with the JWT/OIDC method.
	// +optional
	JWT *VaultJwtAuth `json:"jwt,omitempty"`

	// Cert logs in with the TLS certificate method.
	// +optional
	Cert *VaultCertAuth `json:"cert,omitempty"`

	// IAM logs in with the AWS method, signing a request with AWS
	// credentials.
	// +optional
	IAM *VaultIamAuth `json:"iam,omitempty"`

	// UserPass logs in with the userpass method.
	// +optional
	UserPass *VaultUserPassAuth `json:"userPass,omitempty"`

	// GCP logs in with the Google Cloud method.
	// +optional
	GCP *VaultGCPAuth `json:"gcp,omitempty"`
}

// VaultAppRole logs in with the AppRole method.
type VaultAppRole struct {
	// Path is where the AppRole method is mounted. Unset means "approle".
	// +optional
	Path string `json:"path,omitempty"`

	// RoleID is the role ID, given inline.
	// +optional
	RoleID string `json:"roleId,omitempty"`

	// RoleRef is the role ID, read from a Secret.
	// +optional
	RoleRef *esmeta.SecretKeySelector `json:"roleRef,omitempty"`

	// SecretRef is the secret ID, read from a Secret.
	SecretRef esmeta.SecretKeySelector `json:"secretRef"`
}

// VaultKubernetesAuth logs in with the Kubernetes method.
type VaultKubernetesAuth struct {
	// Path is where the Kubernetes method is mounted. Unset means
	// "kubernetes".
	// +optional
	Path string `json:"mountPath,omitempty"`

	// ServiceAccountRef requests a token for this ServiceAccount with the
	// TokenRequest API, for its audiences or "vault" when it names none
	// (a Vault role's audience, if set, must be one of them), valid for 10
	// minutes.
	// +optional
	ServiceAccountRef *esmeta.ServiceAccountSelector `json:"serviceAccountRef,omitempty"`

	// SecretRef reads a ServiceAccount token from a Secret (key "token"
	// when none is given). Without serviceAccountRef or secretRef a
	// SecretStore is refused; a ClusterSecretStore logs in as the
	// controller's own ServiceAccount (audience "vault") only when the
	// controller runs with --allow-cluster-store-controller-identity.
	// +optional
	SecretRef *esmeta.SecretKeySelector `json:"secretRef,omitempty"`

	// Role is the Vault role to log in as; it binds ServiceAccounts to
	// policies.
	Role string `json:"role"`
}

// VaultLdapAuth logs in with the LDAP method.
type VaultLdapAuth struct {
	// Path is where the LDAP method is mounted. Unset means "ldap".
	// +optional
	Path string `json:"path,omitempty"`

	// Username is the LDAP user.
	Username string `json:"username"`

	// SecretRef is the user's password, read from a Secret.
	// +optional
	SecretRef *esmeta.SecretKeySelector `json:"secretRef,omitempty"`
}

// VaultUserPassAuth logs in with the userpass method.
type VaultUserPassAuth struct {
	// Path is where the userpass method is mounted. Unset means "userpass".
	// +optional
	Path string `json:"path,omitempty"`

	// Username is the user.
	Username string `json:"username"`

	// SecretRef is the user's password, read from a Secret.
	// +optional
	SecretRef *esmeta.SecretKeySelector `json:"secretRef,omitempty"`
}

// VaultJwtAuth logs in with the JWT/OIDC method.
type VaultJwtAuth struct {
	// Path is where the JWT method is mounted. Unset means "jwt".
	// +optional
	Path string `json:"path,omitempty"`

	// Role is the JWT role to log in as.
	// +optional
	Role string `json:"role,omitempty"`

	// SecretRef reads the JWT from a Secret.
	// +optional
	SecretRef *esmeta.SecretKeySelector `json:"secretRef,omitempty"`

	// KubernetesServiceAccountToken requests a ServiceAccount token with the
	// TokenRequest API and presents it as the JWT.
	// +optional
	KubernetesServiceAccountToken *VaultKubernetesServiceAccountTokenAuth `json:"kubernetesServiceAccountToken,omitempty"`
}

// VaultKubernetesServiceAccountTokenAuth requests a short-lived
// ServiceAccount token with the TokenRequest API.
type VaultKubernetesServiceAccountTokenAuth struct {
	// ServiceAccountRef is the ServiceAccount to request the token for.
	ServiceAccountRef esmeta.ServiceAccountSelector `json:"serviceAccountRef"`

	// Audiences of the token. Unset means ["vault"]. An audience the
	// Kubernetes API server accepts is refused.
	//
	// Deprecated: set serviceAccountRef.audiences instead.
	// +optional
	Audiences []string `json:"audiences,omitempty"`

	// ExpirationSeconds is how long the token is valid. Unset means 600.
	//
	// Deprecated: ESO plans to remove it.
	// +optional
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
}

// VaultCertAuth logs in with the TLS certificate method.
type VaultCertAuth struct {
	// Path is where the cert method is mounted. Unset means "cert".
	// +optional
	Path string `json:"path,omitempty"`

	// VaultRole is the certificate role to log in as.
	// +optional
	VaultRole string `json:"vaultRole,omitempty"`

	// ClientCert is the PEM client certificate, read from a Secret.
	// +optional
	ClientCert *esmeta.SecretKeySelector `json:"clientCert,omitempty"`

	// SecretRef is the PEM private key of the certificate, read from a
	// Secret.
	// +optional
	SecretRef *esmeta.SecretKeySelector `json:"secretRef,omitempty"`
}

// VaultIamAuth logs in with the AWS method, signing an STS
// GetCallerIdentity request with AWS credentials.
type VaultIamAuth struct {
	// Path is where the AWS method is mounted. Unset means "aws".
	// +optional
	Path string `json:"path,omitempty"`

	// Region is the AWS region of the STS endpoint. Unset means us-east-1.
	// +optional
	Region string `json:"region,omitempty"`

	// AWSIAMRole is an AWS role to assume before signing.
	// +optional
	AWSIAMRole string `json:"role,omitempty"`

	// VaultRole is the Vault role to log in as.
	VaultRole string `json:"vaultRole"`

	// ExternalID is the external ID to assume the AWS role with.
	// +optional
	ExternalID string `json:"externalID,omitempty"`

	// VaultAWSIAMServerID is sent as the X-Vault-AWS-IAM-Server-ID header,
	// which Vault can require to stop replayed requests.
	// +optional
	VaultAWSIAMServerID string `json:"vaultAwsIamServerID,omitempty"`

	// SecretRef reads static AWS credentials from Secrets.
	// +optional
	SecretRef *AWSAuthSecretRef `json:"secretRef,omitempty"`

	// JWTAuth uses a ServiceAccount with IAM roles for service accounts
	// (IRSA). Without secretRef or jwt the controller's own AWS credentials
	// are used.
	// +optional
	JWTAuth *AWSJWTAuth `json:"jwt,omitempty"`
}

// VaultGCPAuth logs in with the Google Cloud method.
type VaultGCPAuth struct {
	// Path is where the GCP method is mounted. Unset means "gcp".
	// +optional
	Path string `json:"path,omitempty"`

	// Role is the Vault role to log in as.
	Role string `json:"role"`

	// ProjectID is the Google Cloud project.
	// +optional
	ProjectID string `json:"projectID,omitempty"`

	// Location is the Google Cloud location (region).
	// +optional
	Location string `json:"location,omitempty"`

	// SecretRef reads a service account key from a Secret.
	// +optional
	SecretRef *VaultGCPAuthSecretRef `json:"secretRef,omitempty"`

	// WorkloadIdentity uses GKE Workload Identity.
	// +optional
	WorkloadIdentity *VaultGCPWorkloadIdentity `json:"workloadIdentity,omitempty"`

	// ServiceAccountRef is a Kubernetes ServiceAccount to impersonate.
	// Without secretRef, workloadIdentity or serviceAccountRef the
	// controller's own credentials are used.
	// +optional
	ServiceAccountRef *esmeta.ServiceAccountSelector `json:"serviceAccountRef,omitempty"`
}

// VaultGCPAuthSecretRef reads a Google Cloud service account key.
type VaultGCPAuthSecretRef struct {
	// SecretAccessKey is the JSON service account key, read from a Secret.
	// +optional
	SecretAccessKey *esmeta.SecretKeySelector `json:"secretAccessKeySecretRef,omitempty"`
}

// VaultGCPWorkloadIdentity exchanges a Kubernetes ServiceAccount token for
// Google Cloud credentials with GKE Workload Identity.
type VaultGCPWorkloadIdentity struct {
	// ServiceAccountRef is the Kubernetes ServiceAccount bound to a Google
	// service account.
	ServiceAccountRef esmeta.ServiceAccountSelector `json:"serviceAccountRef"`

	// ClusterLocation is the location of the GKE cluster.
	// +optional
	ClusterLocation string `json:"clusterLocation,omitempty"`

	// ClusterName is the name of the GKE cluster.
	// +optional
	ClusterName string `json:"clusterName,omitempty"`

	// ClusterProjectID is the project of the GKE cluster.
	// +optional
	ClusterProjectID string `json:"clusterProjectID,omitempty"`
}
