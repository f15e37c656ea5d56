package vault

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers/aws"
)

const (
	// iamServerIDHeader carries vaultAwsIamServerID inside the signed
	// request, so a request signed for one Vault cannot log in to another
	// that requires its own value (iam_server_id_header_value).
	iamServerIDHeader = "X-Vault-AWS-IAM-Server-ID"
	// getCallerIdentityBody is the STS request Vault's AWS method forwards
	// to STS, as Vault's own client writes it.
	getCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15"
	// maxServerIDLength bounds vaultAwsIamServerID, a header value.
	maxServerIDLength = 1024
)

// iamLogin is the AWS method with the iam type: Vault forwards an
// sts:GetCallerIdentity request signed with the store's AWS credentials
// to STS and logs in the identity STS names.
type iamLogin struct {
	mount     string
	vaultRole string
	serverID  string
	identity  aws.Identity
}

func (m *iamLogin) String() string { return "iam at auth/" + m.mount }

func parseIAM(a *esv1.VaultIamAuth) (*iamLogin, error) {
	m := &iamLogin{
		mount:     mountOr(a.Path, esv1.DefaultVaultIAMPath),
		vaultRole: strings.TrimSpace(a.VaultRole),
		serverID:  a.VaultAWSIAMServerID,
		identity: aws.Identity{
			Region:     a.Region,
			Role:       a.AWSIAMRole,
			ExternalID: a.ExternalID,
		},
	}
	if m.vaultRole == "" {
		return nil, errors.New("auth.iam.vaultRole is required")
	}
	if a.SecretRef != nil || a.JWTAuth != nil {
		m.identity.Auth = &esv1.AWSAuth{SecretRef: a.SecretRef, JWTAuth: a.JWTAuth}
	}
	if len(m.serverID) > maxServerIDLength || strings.ContainsFunc(m.serverID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("auth.iam.vaultAwsIamServerID must be at most %d characters without control characters", maxServerIDLength)
	}
	if err := m.identity.Validate(); err != nil {
		return nil, fmt.Errorf("auth.iam: %w", err)
	}
	return m, nil
}

func (m *iamLogin) login(ctx context.Context, api *vaultapi.Client, env loginEnv) (*vaultapi.SecretAuth, error) {
	// The credentials are built anew for every login, as every method
	// here reads its credentials anew: a rotated key is picked up, and an
	// assumed role costs one STS call per login, not per read.
	creds, err := env.aws.Credentials(ctx, m.identity, env.store, env.kube)
	if err != nil {
		return nil, fmt.Errorf("auth.iam: %w", err)
	}
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth.iam: AWS credentials: %w", err)
	}
	region := m.identity.Region
	if region == "" {
		region = aws.DefaultRegion
	}
	url, err := env.aws.STSEndpoint(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("auth.iam: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(getCallerIdentityBody))
	if err != nil {
		return nil, fmt.Errorf("auth.iam: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if m.serverID != "" {
		req.Header.Set(iamServerIDHeader, m.serverID)
	}
	sum := sha256.Sum256([]byte(getCallerIdentityBody))
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "sts", region, env.now()); err != nil {
		return nil, fmt.Errorf("auth.iam: sign the STS request: %w", err)
	}
	headers, err := json.Marshal(req.Header)
	if err != nil {
		return nil, fmt.Errorf("auth.iam: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return writeLogin(ctx, api, "auth/"+m.mount+"/login", map[string]any{
		"role":                    m.vaultRole,
		"iam_http_request_method": http.MethodPost,
		"iam_request_url":         b64([]byte(url)),
		"iam_request_body":        b64([]byte(getCallerIdentityBody)),
		"iam_request_headers":     b64(headers),
	})
}
