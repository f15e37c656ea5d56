package aws

import (
	"context"
	"errors"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

// Identity is an AWS identity that another provider's store names, the
// way ESO names one there (Vault's auth.iam): static keys or IRSA (or, under
// the core's rule, the controller's own identity), then optionally one role
// assumed on top.
type Identity struct {
	// Region is the region of STS. Empty means us-east-1.
	Region string
	// Auth is the base identity: secretRef or jwt. Nil, or neither set,
	// is the controller's own identity, which the core lends only to
	// ClusterSecretStores the operator allowed.
	Auth *esv1.AWSAuth
	// Role is assumed with the base identity's credentials when set, with
	// ExternalID.
	Role       string
	ExternalID string
}

// DefaultRegion is the region of an [Identity] that names none, as in ESO.
const DefaultRegion = "us-east-1"

// Validate checks id without reading anything: its errors are
// configuration errors that retrying cannot fix.
func (id Identity) Validate() error {
	_, err := id.config()
	return err
}

func (id Identity) config() (*config, error) {
	cfg := &config{region: id.Region}
	if cfg.region == "" {
		cfg.region = DefaultRegion
	}
	if !regionPattern.MatchString(cfg.region) || len(cfg.region) > 32 {
		return nil, fmt.Errorf("region %q is not an AWS region name", id.Region)
	}
	if err := cfg.parseAuth(id.Auth); err != nil {
		return nil, err
	}
	if id.ExternalID != "" && (len(id.ExternalID) < 2 || len(id.ExternalID) > 1224) {
		return nil, errors.New("externalID must be 2 to 1224 characters")
	}
	if id.Role != "" {
		if err := checkRoleARN(id.Role); err != nil {
			return nil, fmt.Errorf("role: %w", err)
		}
		cfg.roles = []assumedRole{{arn: id.Role, externalID: id.ExternalID}}
	}
	return cfg, nil
}

// CredentialSource builds AWS credentials for other providers with this
// provider's own rules and code: the same Secrets read, the same IRSA
// exchange, the same controller-identity rule, the same caching.
type CredentialSource struct {
	p *provider
}

// NewCredentialSource returns a source whose STS calls go to the
// operator's endpoints in opts.
func NewCredentialSource(opts Options) *CredentialSource {
	p, ok := New(opts).(*provider)
	if !ok {
		panic("aws: New returned an unexpected type")
	}
	return &CredentialSource{p: p}
}

// Credentials checks id and builds its credentials for store, reading
// what kube hands out. Nothing is sent to AWS yet: roles are assumed when
// the credentials are first retrieved, and cached until shortly before they
// expire. The returned credentials are cached.
func (s *CredentialSource) Credentials(ctx context.Context, id Identity, store providers.Store, kube providers.Kube) (awssdk.CredentialsProvider, error) {
	cfg, err := id.config()
	if err != nil {
		return nil, err
	}
	creds, _, err := s.p.credentialChain(ctx, cfg, store, kube)
	if err != nil {
		return nil, err
	}
	return creds, nil
}

// STSEndpoint is the URL of STS for region: the operator's endpoint when
// one is set, otherwise the one the SDK's STS endpoint resolver names (so
// partitions and new regions resolve as the SDK resolves them).
func (s *CredentialSource) STSEndpoint(ctx context.Context, region string) (string, error) {
	if s.p.opts.Endpoints.STS != "" {
		return s.p.opts.Endpoints.STS, nil
	}
	if region == "" {
		region = DefaultRegion
	}
	e, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, sts.EndpointParameters{Region: &region})
	if err != nil {
		return "", fmt.Errorf("resolve the STS endpoint of %s: %w", region, err)
	}
	return e.URI.String(), nil
}
