package aws

import (
	"testing"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
)

// TestSTSEndpoint: the operator's endpoint wins; otherwise the SDK's
// resolver names the region's (a store's region is tenant input, checked
// by Identity.Validate before it gets here).
func TestSTSEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name, operator, region, want string
	}{
		{"operator endpoint", "http://127.0.0.1:4566", "eu-west-1", "http://127.0.0.1:4566"},
		{"default region", "", "", "https://sts.us-east-1.amazonaws.com"},
		{"tenant region", "", "eu-west-1", "https://sts.eu-west-1.amazonaws.com"},
		{"tenant region in China", "", "cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewCredentialSource(Options{Endpoints: Endpoints{STS: tc.operator}}).STSEndpoint(t.Context(), tc.region)
			if err != nil || got != tc.want {
				t.Errorf("STSEndpoint = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestIdentityValidate checks a tenant's identity spec without reading
// anything.
func TestIdentityValidate(t *testing.T) {
	keys := &esv1.AWSAuthSecretRef{AccessKeyID: &esmeta.SecretKeySelector{Name: "a", Key: "id"}, SecretAccessKey: &esmeta.SecretKeySelector{Name: "a", Key: "secret"}}
	jwt := &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "app"}}
	for _, tc := range []struct {
		name string
		id   Identity
		ok   bool
	}{
		{"tenant static keys", Identity{Auth: &esv1.AWSAuth{SecretRef: keys}}, true},
		{"tenant IRSA and a role", Identity{Region: "eu-west-1", Auth: &esv1.AWSAuth{JWTAuth: jwt}, Role: "arn:aws:iam::123456789012:role/r", ExternalID: "ext"}, true},
		{"controller identity (checked at login)", Identity{}, true},
		{"tenant keys and IRSA together", Identity{Auth: &esv1.AWSAuth{SecretRef: keys, JWTAuth: jwt}}, false},
		{"tenant region with a host in it", Identity{Region: "evil.example.com/x", Auth: &esv1.AWSAuth{SecretRef: keys}}, false},
		{"tenant role that is no ARN", Identity{Auth: &esv1.AWSAuth{SecretRef: keys}, Role: "admin"}, false},
		{"tenant external ID too short", Identity{Auth: &esv1.AWSAuth{SecretRef: keys}, Role: "arn:aws:iam::123456789012:role/r", ExternalID: "x"}, false},
		{"tenant keys without a secret", Identity{Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{AccessKeyID: keys.AccessKeyID}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.id.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
