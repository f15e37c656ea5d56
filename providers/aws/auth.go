package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

const (
	// roleARNAnnotation names the role of an IRSA ServiceAccount.
	roleARNAnnotation = "eks.amazonaws.com/role-arn"
	// audienceAnnotation overrides the audience of its tokens, as EKS's
	// pod identity webhook reads it.
	audienceAnnotation = "eks.amazonaws.com/audience"
	// stsAudience is the audience of a web identity token for STS.
	stsAudience = "sts.amazonaws.com"
	// sessionName names the role sessions the controller opens, in
	// CloudTrail and in the session's ARN.
	sessionName = "sealsync-provider-aws"
	// sessionDuration is how long an assumed role's credentials last: the
	// longest every role allows (role chaining caps it at one hour), so
	// STS is called as rarely as it can be.
	sessionDuration = time.Hour
	// expiryWindow renews credentials this long before they expire, so no
	// request is signed with credentials that expire in flight.
	expiryWindow = 2 * time.Minute
	// tokenTimeout bounds one TokenRequest for a web identity token. The
	// SDK asks for the token without a context.
	tokenTimeout = 30 * time.Second
)

// credentialChain builds the credentials of cfg: the base identity, then
// each role of the chain assumed with the credentials before it. Every
// stage is cached until shortly before it expires, so STS is called once
// per session, not per request. It also returns the digest that
// identifies the chain (see client.Identity). Nothing is sent to AWS yet.
func (p *provider) credentialChain(ctx context.Context, cfg *config, store providers.Store, kube providers.Kube) (awssdk.CredentialsProvider, string, error) {
	id := sha256.New()
	fmt.Fprintf(id, "service=%s\nregion=%s\nprefix=%s\nendpoints=%s,%s,%s\n", cfg.service, cfg.region, cfg.prefix,
		p.opts.Endpoints.SecretsManager, p.opts.Endpoints.SSM, p.opts.Endpoints.STS)
	var creds awssdk.CredentialsProvider
	var err error
	switch {
	case cfg.secretRef != nil:
		creds, err = staticCredentials(ctx, cfg, kube, id)
	case cfg.serviceAccount != nil:
		creds, err = p.webIdentity(ctx, cfg, store, kube, id)
	default:
		creds, err = p.controllerCredentials(ctx, cfg, kube, id)
	}
	if err != nil {
		return nil, "", err
	}
	for _, r := range cfg.roles {
		fmt.Fprintf(id, "role=%s\x00%s\x00", r.arn, r.externalID)
		for _, t := range r.tags {
			fmt.Fprintf(id, "%s=%s\x00", *t.Key, *t.Value)
		}
		fmt.Fprintf(id, "%s\n", strings.Join(r.transitive, ","))
		creds = cache(stscreds.NewAssumeRoleProvider(p.stsClient(cfg, creds), r.arn, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = sessionName
			o.Duration = sessionDuration
			if r.externalID != "" {
				o.ExternalID = &r.externalID
			}
			o.Tags, o.TransitiveTagKeys = r.tags, r.transitive
		}))
	}
	return creds, hex.EncodeToString(id.Sum(nil)[:16]), nil
}

func cache(p awssdk.CredentialsProvider) awssdk.CredentialsProvider {
	return awssdk.NewCredentialsCache(p, func(o *awssdk.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow })
}

// staticCredentials reads the keys of auth.secretRef. The core builds a
// new client when one of the Secrets changes.
func staticCredentials(ctx context.Context, cfg *config, kube providers.Kube, id hash.Hash) (awssdk.CredentialsProvider, error) {
	read := func(field string, ref *esmeta.SecretKeySelector) (string, error) {
		if ref == nil {
			return "", nil
		}
		v, err := kube.SecretKey(ctx, *ref)
		if err != nil {
			return "", fmt.Errorf("auth.secretRef.%s: %w", field, err)
		}
		// Keys pasted into a Secret often end with a newline.
		return strings.TrimSpace(string(v)), nil
	}
	r := cfg.secretRef
	keyID, err := read("accessKeyIDSecretRef", r.AccessKeyID)
	if err != nil {
		return nil, err
	}
	secret, err := read("secretAccessKeySecretRef", r.SecretAccessKey)
	if err != nil {
		return nil, err
	}
	token, err := read("sessionTokenSecretRef", r.SessionToken)
	if err != nil {
		return nil, err
	}
	if keyID == "" || secret == "" {
		return nil, errors.New("auth.secretRef: the access key ID or the secret access key is empty")
	}
	// The secret and the token are part of the identity, as digests: a
	// store that knows another's key ID but not its secret must not share
	// its reads.
	material := sha256.Sum256([]byte(keyID + "\x00" + secret + "\x00" + token))
	fmt.Fprintf(id, "static=%s\x00%x\n", keyID, material)
	return credentials.NewStaticCredentialsProvider(keyID, secret, token), nil
}

// webIdentity exchanges tokens of the store's ServiceAccount for
// credentials of the role its eks.amazonaws.com/role-arn annotation names,
// through AssumeRoleWithWebIdentity: IRSA without the pod identity
// webhook. Tokens are requested for sts.amazonaws.com (or the
// ServiceAccount's eks.amazonaws.com/audience) plus the store's
// audiences, each time STS is asked for credentials.
func (p *provider) webIdentity(ctx context.Context, cfg *config, store providers.Store, kube providers.Kube, id hash.Hash) (awssdk.CredentialsProvider, error) {
	ref := *cfg.serviceAccount
	reader, ok := kube.(providers.ServiceAccountReader)
	if !ok {
		return nil, errors.New("auth.jwt: this controller cannot read ServiceAccounts")
	}
	ann, err := reader.ServiceAccountAnnotations(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("auth.jwt.serviceAccountRef: %w", err)
	}
	role := ann[roleARNAnnotation]
	if role == "" {
		return nil, fmt.Errorf("auth.jwt: service account %s has no %s annotation", ref.Name, roleARNAnnotation)
	}
	if err := checkRoleARN(role); err != nil {
		return nil, fmt.Errorf("auth.jwt: service account %s: %s: %w", ref.Name, roleARNAnnotation, err)
	}
	aud := stsAudience
	if a := ann[audienceAnnotation]; a != "" {
		aud = a
	}
	audiences := slices.Compact(slices.Sorted(slices.Values(append([]string{aud}, ref.Audiences...))))
	ns := store.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = *ref.Namespace
	}
	fmt.Fprintf(id, "web-identity=%s/%s\x00%s\x00%s\n", ns, ref.Name, role, strings.Join(audiences, ","))
	tokens := tokenRetriever{kube: kube, ref: ref, audiences: audiences}
	// AssumeRoleWithWebIdentity is unsigned: its client needs no
	// credentials.
	return cache(stscreds.NewWebIdentityRoleProvider(p.stsClient(cfg, nil), role, tokens, func(o *stscreds.WebIdentityRoleOptions) {
		o.RoleSessionName = sessionName
		o.Duration = sessionDuration
	})), nil
}

// tokenRetriever requests a ServiceAccount token through the core each
// time STS needs one: a token lives ten minutes, credentials an hour.
type tokenRetriever struct {
	kube      providers.Kube
	ref       esmeta.ServiceAccountSelector
	audiences []string
}

// GetIdentityToken implements stscreds.IdentityTokenRetriever.
func (r tokenRetriever) GetIdentityToken() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	tok, err := r.kube.ServiceAccountToken(ctx, r.ref, r.audiences, providers.MinTokenExpiration)
	if err != nil {
		return nil, fmt.Errorf("token of service account %s: %w", r.ref.Name, err)
	}
	return []byte(tok), nil
}

// controllerCredentials is the AWS SDK's default credential chain: the
// controller pod's own identity (its IRSA token file, EKS Pod Identity,
// environment, instance profile). A store may use it only if the core says
// so: never a SecretStore, a ClusterSecretStore only when the operator
// allowed it. The chain is not even loaded otherwise.
func (p *provider) controllerCredentials(ctx context.Context, cfg *config, kube providers.Kube, id hash.Hash) (awssdk.CredentialsProvider, error) {
	checker, ok := kube.(providers.ControllerIdentityChecker)
	if !ok {
		return nil, fmt.Errorf("auth: %w: a store without auth uses the controller's own AWS identity", providers.ErrControllerIdentity)
	}
	if err := checker.ControllerIdentityAllowed(); err != nil {
		return nil, fmt.Errorf("auth: a store without auth uses the controller's own AWS identity: %w", err)
	}
	creds, err := p.defaultCredentials(ctx, cfg.region)
	if err != nil {
		return nil, fmt.Errorf("auth: the controller's AWS credentials: %w", err)
	}
	fmt.Fprintf(id, "controller\n")
	return creds, nil
}

// stsClient is an STS client of the store's region signing with creds
// (nil: unsigned).
func (p *provider) stsClient(cfg *config, creds awssdk.CredentialsProvider) *sts.Client {
	return sts.NewFromConfig(p.awsConfig(cfg, creds), func(o *sts.Options) {
		if p.opts.Endpoints.STS != "" {
			o.BaseEndpoint = &p.opts.Endpoints.STS
		}
	})
}
