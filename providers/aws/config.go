package aws

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

// Session tags sessionTagsPolicy Simple and Custom add, with ESO's names.
const (
	tagNamespace = "esoNamespace"
	tagStoreName = "esoStoreName"
	tagStoreKind = "esoStoreKind"
)

// maxSessionTags is how many session tags STS takes in one AssumeRole.
const maxSessionTags = 50

// regionPattern is the shape of every AWS region name ("us-east-1",
// "us-gov-west-1", "eu-isoe-west-1"). The region is part of the endpoint's
// host name, and a store's author chooses it: nothing else gets in.
var regionPattern = regexp.MustCompile(`^[a-z]{2,}(-[a-z]+)+-[0-9]{1,2}$`)

// config is an aws store spec, checked. It holds references, never
// credentials: those are read when the client is built.
type config struct {
	service esv1.AWSServiceType
	region  string
	prefix  string

	// Exactly one of secretRef, serviceAccount or controller is the
	// base identity.
	secretRef      *esv1.AWSAuthSecretRef
	serviceAccount *esmeta.ServiceAccountSelector
	controller     bool

	// roles are assumed in order, each with the credentials of the one
	// before: additionalRoles, then role.
	roles []assumedRole

	// maxAttempts and retryWait come from retrySettings; zero keeps the
	// provider's defaults.
	maxAttempts int
	retryWait   time.Duration
}

// assumedRole is one AssumeRole of the chain.
type assumedRole struct {
	arn        string
	externalID string
	tags       []ststypes.Tag
	transitive []string
}

// parseConfig checks the aws provider of store. It reads nothing: its
// errors are configuration errors that retrying cannot fix.
func parseConfig(store providers.Store) (*config, error) {
	if store.Spec == nil || store.Spec.Provider == nil || store.Spec.Provider.AWS == nil {
		return nil, errors.New("store has no aws provider")
	}
	p := store.Spec.Provider.AWS
	c := &config{service: p.Service, region: p.Region, prefix: p.Prefix}
	switch p.Service {
	case esv1.AWSServiceSecretsManager, esv1.AWSServiceParameterStore:
	default:
		return nil, fmt.Errorf("service %q is not supported: want SecretsManager or ParameterStore", p.Service)
	}
	if !regionPattern.MatchString(p.Region) || len(p.Region) > 32 {
		return nil, fmt.Errorf("region %q is not an AWS region name", p.Region)
	}
	if err := c.parseAuth(p.Auth); err != nil {
		return nil, err
	}
	for i, arn := range p.AdditionalRoles {
		if err := checkRoleARN(arn); err != nil {
			return nil, fmt.Errorf("additionalRoles[%d]: %w", i, err)
		}
		c.roles = append(c.roles, assumedRole{arn: arn})
	}
	if p.Role != "" {
		if err := checkRoleARN(p.Role); err != nil {
			return nil, fmt.Errorf("role: %w", err)
		}
		tags, err := sessionTags(store, p)
		if err != nil {
			return nil, err
		}
		for _, k := range p.TransitiveTagKeys {
			if !slices.ContainsFunc(tags, func(t ststypes.Tag) bool { return *t.Key == k }) {
				return nil, fmt.Errorf("transitiveTagKeys: %q is not a session tag", k)
			}
		}
		// As in ESO, externalID and the session tags apply to role only,
		// not to additionalRoles, and are ignored without role.
		c.roles = append(c.roles, assumedRole{arn: p.Role, externalID: p.ExternalID, tags: tags, transitive: slices.Clone(p.TransitiveTagKeys)})
	}
	if p.ExternalID != "" && (len(p.ExternalID) < 2 || len(p.ExternalID) > 1224) {
		return nil, errors.New("externalID must be 2 to 1224 characters")
	}
	if sm := p.SecretsManager; sm != nil {
		// Only deletes use these; ESO's webhook refuses the same.
		if sm.ForceDeleteWithoutRecovery && sm.RecoveryWindowInDays != 0 {
			return nil, errors.New("secretsManager: forceDeleteWithoutRecovery and recoveryWindowInDays exclude each other")
		}
		if sm.RecoveryWindowInDays != 0 && (sm.RecoveryWindowInDays < 7 || sm.RecoveryWindowInDays > 30) {
			return nil, errors.New("secretsManager.recoveryWindowInDays must be 7 to 30")
		}
	}
	if rs := store.Spec.RetrySettings; rs != nil {
		if rs.MaxRetries != nil {
			if *rs.MaxRetries < 0 || *rs.MaxRetries > 100 {
				return nil, fmt.Errorf("retrySettings.maxRetries %d: want 0 to 100", *rs.MaxRetries)
			}
			c.maxAttempts = int(*rs.MaxRetries) + 1
		}
		if rs.RetryInterval != nil {
			d, err := time.ParseDuration(*rs.RetryInterval)
			if err != nil || d < 0 || d > 10*time.Minute {
				return nil, fmt.Errorf("retrySettings.retryInterval %q is not a duration up to 10m", *rs.RetryInterval)
			}
			c.retryWait = d
		}
	}
	return c, nil
}

func (c *config) parseAuth(a *esv1.AWSAuth) error {
	switch {
	case a == nil || (a.SecretRef == nil && a.JWTAuth == nil):
		c.controller = true
	case a.SecretRef != nil && a.JWTAuth != nil:
		// ESO silently prefers jwt; two identities in one store is a
		// mistake worth saying.
		return errors.New("auth: secretRef and jwt exclude each other")
	case a.SecretRef != nil:
		r := a.SecretRef
		if r.AccessKeyID == nil || r.SecretAccessKey == nil {
			return errors.New("auth.secretRef needs accessKeyIDSecretRef and secretAccessKeySecretRef")
		}
		for field, ref := range map[string]*esmeta.SecretKeySelector{
			"accessKeyIDSecretRef": r.AccessKeyID, "secretAccessKeySecretRef": r.SecretAccessKey, "sessionTokenSecretRef": r.SessionToken,
		} {
			if ref != nil && (ref.Name == "" || ref.Key == "") {
				return fmt.Errorf("auth.secretRef.%s needs a name and a key", field)
			}
		}
		c.secretRef = r
	default:
		if a.JWTAuth.ServiceAccountRef == nil || a.JWTAuth.ServiceAccountRef.Name == "" {
			return errors.New("auth.jwt needs serviceAccountRef with a name")
		}
		c.serviceAccount = a.JWTAuth.ServiceAccountRef
	}
	return nil
}

func checkRoleARN(arn string) error {
	if len(arn) < 20 || len(arn) > 2048 || !strings.HasPrefix(arn, "arn:") {
		return fmt.Errorf("%q is not a role ARN", arn)
	}
	return nil
}

// sessionTags returns the tags role is assumed with: sessionTags, plus
// under sessionTagsPolicy Simple the ExternalSecret's namespace and the
// store's name and kind, plus under Custom customSessionTags. ESO replaces
// sessionTags with the policy's tags; here they add up, and a key set
// twice (STS compares keys without case) is an error rather than a
// silent pick.
func sessionTags(store providers.Store, p *esv1.AWSProvider) ([]ststypes.Tag, error) {
	var tags []ststypes.Tag
	seen := map[string]bool{}
	add := func(k, v string) error {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return fmt.Errorf("session tag %q: a key is 1 to 128 characters, a value at most 256", k)
		}
		if seen[strings.ToLower(k)] {
			return fmt.Errorf("session tag %q is set twice", k)
		}
		seen[strings.ToLower(k)] = true
		tags = append(tags, ststypes.Tag{Key: &k, Value: &v})
		return nil
	}
	for _, t := range p.SessionTags {
		if err := add(t.Key, t.Value); err != nil {
			return nil, err
		}
	}
	policy := p.SessionTagsPolicy
	switch policy {
	case "", esv1.AWSSessionTagsPolicyNone:
		if len(p.CustomSessionTags) > 0 {
			return nil, errors.New("customSessionTags need sessionTagsPolicy Custom")
		}
	case esv1.AWSSessionTagsPolicySimple, esv1.AWSSessionTagsPolicyCustom:
		for _, kv := range [][2]string{{tagNamespace, store.Namespace}, {tagStoreName, store.Name}, {tagStoreKind, store.Kind}} {
			if err := add(kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
		if policy == esv1.AWSSessionTagsPolicySimple && len(p.CustomSessionTags) > 0 {
			return nil, errors.New("customSessionTags need sessionTagsPolicy Custom")
		}
		for _, k := range slices.Sorted(maps.Keys(p.CustomSessionTags)) {
			if err := add(k, p.CustomSessionTags[k]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("sessionTagsPolicy %q: want None, Simple or Custom", policy)
	}
	if len(tags) > maxSessionTags {
		return nil, fmt.Errorf("%d session tags: STS takes at most %d", len(tags), maxSessionTags)
	}
	return tags, nil
}
