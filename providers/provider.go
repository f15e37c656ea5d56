// Package providers is the interface between the ExternalSecret core and
// the backends secrets come from (Vault, AWS Secrets Manager, the fake
// provider), plus what every backend shares: the registry, property
// extraction and the decoding and conversion strategies.
//
// # Shape
//
// A [Provider] is a constructor: for one SecretStore it authenticates and
// returns a [Client], which reads. The core caches Clients per store and
// reuses them until the store's spec or credentials change, so a Provider
// must not assume one Client per reconcile. Optional abilities are found by
// type assertion on the Client ([Validator], [Identifier],
// [PropertyExtractor]).
//
// # Kubernetes access
//
// Providers never hold a Kubernetes client. What they may read, the
// Secrets and ConfigMaps a store references and service-account tokens,
// they ask of [Kube], which the core implements with the namespace rules
// enforced: a SecretStore reaches only its own namespace.
//
// # The controller's own identity
//
// A store's spec is written by whoever may create it, and it names the
// server credentials are sent to. So a provider never uses an identity it
// finds around the controller process: not the mounted ServiceAccount
// token, not the environment, not an SDK's default credential chain,
// instance metadata or a workload-identity token file (AWS IRSA, GCP
// Workload Identity). The controller's own identity is reachable only
// through the core, [Kube.ControllerToken] today, and the core lends it to
// a ClusterSecretStore only, and only when the operator allowed it; a
// SecretStore never gets it. A provider that needs another form of the
// controller's identity (the AWS default chain, say) adds a method to
// [Kube] that the core guards the same way, rather than reading it itself.
//
// ServiceAccount tokens are always requested for an audience, never one
// the API server accepts (which an empty list means, and which a store
// may not name either: the core learns the API server's audiences and
// refuses them), and for the shortest lifetime that serves one login, so
// a token that reaches the store's server cannot be replayed against the
// Kubernetes API and soon expires.
package providers

import (
	"context"
	"errors"
	"fmt"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
)

// Store is what a provider learns of the store it serves.
type Store struct {
	// Kind is "SecretStore" or "ClusterSecretStore".
	Kind string
	// Name is the store's name.
	Name string
	// Namespace is the SecretStore's namespace; for a ClusterSecretStore,
	// the namespace of the ExternalSecret the client is built for.
	Namespace string
	// Spec is the store's spec. Providers must not modify it.
	Spec *esv1.SecretStoreSpec
}

// Kube is the Kubernetes access a provider gets, scoped to one store.
// Implementations refuse references outside the namespaces the store may
// reach; errors never carry secret values.
type Kube interface {
	// SecretKey returns one key of a referenced Secret.
	SecretKey(ctx context.Context, ref esmeta.SecretKeySelector) ([]byte, error)
	// ConfigMapKey returns one key of a ConfigMap in namespace (empty:
	// the store's).
	ConfigMapKey(ctx context.Context, namespace, name, key string) ([]byte, error)
	// ServiceAccountToken returns a token for the service account ref
	// names, through the TokenRequest API. audiences is the token's whole
	// audience list (ref.Audiences is not added to it) and must not be
	// empty: an empty list would ask for the API server's own audience, a
	// token that works against the Kubernetes API. For the same reason it
	// fails with [ErrAPIServerAudience], before any token is requested,
	// when one of audiences is an audience the API server accepts.
	// expirationSeconds 0 asks for [MinTokenExpiration].
	ServiceAccountToken(ctx context.Context, ref esmeta.ServiceAccountSelector, audiences []string, expirationSeconds int64) (string, error)
	// ControllerToken returns a token of the controller's own
	// ServiceAccount for audiences (not empty), valid for
	// [MinTokenExpiration], for a store that names no credentials of its
	// own. It fails with [ErrControllerIdentity], before any request, for
	// every SecretStore, and for a ClusterSecretStore unless the operator
	// allowed it; and with [ErrAPIServerAudience] as ServiceAccountToken
	// does.
	ControllerToken(ctx context.Context, audiences []string) (string, error)
}

// MinTokenExpiration is the shortest lifetime, in seconds, the
// TokenRequest API grants a ServiceAccount token: 10 minutes. A token only
// has to outlive the login it is sent with.
const MinTokenExpiration = 600

// ErrControllerIdentity is wrapped by [Kube.ControllerToken] when the
// store may not use the controller's own identity; the error says why.
var ErrControllerIdentity = errors.New("the controller's own identity is refused")

// ErrAPIServerAudience is wrapped by [Kube.ServiceAccountToken] and
// [Kube.ControllerToken] when a requested audience is one the Kubernetes
// API server accepts; the error names the audience.
var ErrAPIServerAudience = errors.New("the Kubernetes API server accepts it")

// Provider builds clients for one kind of backend.
type Provider interface {
	// NewClient authenticates against the backend the store describes.
	NewClient(ctx context.Context, store Store, kube Kube) (Client, error)
}

// Client reads secrets from one store's backend. It must be safe for
// concurrent use: the core shares one Client among ExternalSecrets.
type Client interface {
	// GetSecret returns one value: the secret at ref.Key, or the property
	// ref.Property of it.
	GetSecret(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) ([]byte, error)
	// GetSecretMap returns every key of the secret at ref.Key (dataFrom
	// extract).
	GetSecretMap(ctx context.Context, ref esv1.ExternalSecretDataRemoteRef) (map[string][]byte, error)
	// GetAllSecrets returns the secrets find matches, keyed by name
	// (dataFrom find).
	GetAllSecrets(ctx context.Context, find esv1.ExternalSecretFind) (map[string][]byte, error)
	// Close releases the client (revokes tokens it owns).
	Close(ctx context.Context) error
}

// Validator is implemented by clients that can check their store's
// configuration and credentials cheaply; the SecretStore controller uses it
// to report Ready.
type Validator interface {
	Validate(ctx context.Context) error
}

// Identifier is implemented by clients that can name exactly what they may
// read: two clients with the same identity have the same rights on the same
// backend. The core shares reads between clients only when their
// identities are equal, so an identity must change whenever rights could
// differ. Clients that cannot tell return "", and the core falls back to
// comparing their configuration and credentials byte for byte.
type Identifier interface {
	Identity() string
}

// PropertyExtractor is implemented by clients whose GetSecret reads the
// whole secret at ref.Key, whatever ref.Property names, and picks the
// property out locally. The core then reads a secret once for every
// property ExternalSecrets ask of it: it calls GetSecret with Property
// cleared, shares that read among all refs that differ only in their
// Property, and extracts each property from the shared result.
//
// For every ref with a Property, GetSecret(ref) must answer what
// ExtractProperty(ref, GetSecret(ref with Property "")) answers; an error
// of the whole read is returned as it is.
type PropertyExtractor interface {
	// ExtractProperty returns ref.Property of whole, the value GetSecret
	// returned for ref without its Property. It never calls the backend.
	ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error)
}

// ErrSecretNotFound is wrapped by clients when a referenced secret or
// property does not exist. It drives deletionPolicy and is the one error
// the core treats as "gone" rather than "failed".
var ErrSecretNotFound = errors.New("secret not found")

// NotFound returns an error wrapping [ErrSecretNotFound] naming what is
// missing (a key or path, never a value).
func NotFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSecretNotFound, fmt.Sprintf(format, args...))
}

// Name identifies a provider: the JSON name of its field in the store's
// provider one-of.
type Name string

const (
	// Vault is HashiCorp Vault (and OpenBao).
	Vault Name = "vault"
	// AWS is AWS Secrets Manager and Parameter Store.
	AWS Name = "aws"
	// Fake is the static test provider.
	Fake Name = "fake"
)

// NameOf picks the provider a store spec configures by an explicit switch
// on the one-of; exactly one field must be set.
func NameOf(spec *esv1.SecretStoreSpec) (Name, error) {
	if spec == nil || spec.Provider == nil {
		return "", errors.New("store has no provider")
	}
	p := spec.Provider
	var names []Name
	if p.Vault != nil {
		names = append(names, Vault)
	}
	if p.AWS != nil {
		names = append(names, AWS)
	}
	if p.Fake != nil {
		names = append(names, Fake)
	}
	switch len(names) {
	case 0:
		return "", errors.New("store configures no known provider")
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("store configures %d providers (%v); exactly one is allowed", len(names), names)
}

// Registry maps provider names to providers. It is filled once, in
// cmd/controller, and read concurrently afterwards.
type Registry struct {
	providers map[Name]Provider
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{providers: map[Name]Provider{}} }

// Register adds p under name. Registering a name twice is a programming
// error and panics.
func (r *Registry) Register(name Name, p Provider) {
	if _, dup := r.providers[name]; dup {
		panic(fmt.Sprintf("providers: %q registered twice", name))
	}
	r.providers[name] = p
}

// ErrNotRegistered is returned by [Registry.For] for a provider this build
// does not include.
var ErrNotRegistered = errors.New("provider not available in this build")

// For returns the provider a store spec configures.
func (r *Registry) For(spec *esv1.SecretStoreSpec) (Name, Provider, error) {
	name, err := NameOf(spec)
	if err != nil {
		return "", nil, err
	}
	p, ok := r.providers[name]
	if !ok {
		return name, nil, fmt.Errorf("%s: %w", name, ErrNotRegistered)
	}
	return name, p, nil
}
