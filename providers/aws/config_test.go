package aws

import (
	"strings"
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
)

// TestParseConfig checks store specs, all tenant input, without sending
// anything anywhere.
func TestParseConfig(t *testing.T) {
	keys := &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
		AccessKeyID: &esmeta.SecretKeySelector{Name: "c", Key: "id"}, SecretAccessKey: &esmeta.SecretKeySelector{Name: "c", Key: "secret"},
	}}
	role := "arn:aws:iam::123456789012:role/r"
	three, minus := int32(3), int32(-1)
	interval, bad := "2s", "soon"
	for _, tc := range []struct {
		name  string
		spec  esv1.AWSProvider
		retry *esv1.SecretStoreRetrySettings
		err   string
		check func(*testing.T, *config)
	}{
		{name: "minimal: the controller's identity", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1"}, check: func(t *testing.T, c *config) {
			if !c.controller || c.secretRef != nil || c.serviceAccount != nil {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "gov region", spec: esv1.AWSProvider{Service: "ParameterStore", Region: "us-gov-west-1", Auth: keys}},
		{name: "unknown service", spec: esv1.AWSProvider{Service: "CertificateManager", Region: "eu-central-1"}, err: "not supported"},
		{name: "region as a host name", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "evil.example/x"}, err: "not an AWS region name"},
		{name: "empty region", spec: esv1.AWSProvider{Service: "SecretsManager"}, err: "not an AWS region name"},
		{name: "both auths", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Auth: &esv1.AWSAuth{
			SecretRef: keys.SecretRef, JWTAuth: &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "sa"}},
		}}, err: "exclude each other"},
		{name: "keys without a secret", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID: keys.SecretRef.AccessKeyID,
		}}}, err: "needs accessKeyIDSecretRef and secretAccessKeySecretRef"},
		{name: "key ref without a key", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID: &esmeta.SecretKeySelector{Name: "c"}, SecretAccessKey: keys.SecretRef.SecretAccessKey,
		}}}, err: "needs a name and a key"},
		{name: "jwt without a ServiceAccount", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Auth: &esv1.AWSAuth{JWTAuth: &esv1.AWSJWTAuth{}}}, err: "needs serviceAccountRef"},
		{name: "role chain", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Auth: keys, AdditionalRoles: []string{role + "1", role + "2"}, Role: role, ExternalID: "ext"},
			check: func(t *testing.T, c *config) {
				if len(c.roles) != 3 || c.roles[0].externalID != "" || c.roles[2].arn != role || c.roles[2].externalID != "ext" {
					t.Fatalf("roles %+v: externalID belongs to role only", c.roles)
				}
			}},
		{name: "not an ARN", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Role: "admin"}, err: "is not a role ARN"},
		{name: "external ID too short", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Role: role, ExternalID: "x"}, err: "externalID"},
		{name: "tag set twice", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Role: role,
			SessionTags: []esv1.Tag{{Key: "esoNamespace", Value: "x"}}, SessionTagsPolicy: esv1.AWSSessionTagsPolicySimple}, err: "set twice"},
		{name: "custom tags without Custom", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Role: role,
			CustomSessionTags: map[string]string{"a": "b"}, SessionTagsPolicy: esv1.AWSSessionTagsPolicySimple}, err: "need sessionTagsPolicy Custom"},
		{name: "transitive key that is no tag", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Role: role,
			TransitiveTagKeys: []string{"team"}}, err: "is not a session tag"},
		{name: "policy tags", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1", Role: role,
			SessionTags: []esv1.Tag{{Key: "team", Value: "a"}}, SessionTagsPolicy: esv1.AWSSessionTagsPolicyCustom, CustomSessionTags: map[string]string{"cc": "1"}},
			check: func(t *testing.T, c *config) {
				var got []string
				for _, tg := range c.roles[0].tags {
					got = append(got, *tg.Key+"="+*tg.Value)
				}
				if strings.Join(got, ",") != "team=a,esoNamespace=tenant,esoStoreName=aws,esoStoreKind=SecretStore,cc=1" {
					t.Fatalf("tags %v", got)
				}
			}},
		{name: "retry settings", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1"}, retry: &esv1.SecretStoreRetrySettings{MaxRetries: &three, RetryInterval: &interval},
			check: func(t *testing.T, c *config) {
				if c.maxAttempts != 4 || c.retryWait.String() != "2s" {
					t.Fatalf("attempts %d wait %v", c.maxAttempts, c.retryWait)
				}
			}},
		{name: "negative retries", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1"}, retry: &esv1.SecretStoreRetrySettings{MaxRetries: &minus}, err: "maxRetries"},
		{name: "bad interval", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1"}, retry: &esv1.SecretStoreRetrySettings{RetryInterval: &bad}, err: "retryInterval"},
		{name: "delete settings", spec: esv1.AWSProvider{Service: "SecretsManager", Region: "eu-central-1",
			SecretsManager: &esv1.SecretsManager{ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7}}, err: "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := store(esv1.SecretStoreKind, &tc.spec)
			s.Spec.RetrySettings = tc.retry
			c, err := parseConfig(s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
	if _, err := parseConfig(providers.Store{Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{}}}); err == nil {
		t.Fatal("a store without an aws provider parsed")
	}
}
