package vault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/aws"
)

// startSTS starts an in-memory STS (internal/awstest) for the test.
func startSTS(tb testing.TB) *awstest.Server {
	tb.Helper()
	s := awstest.New(awstest.Options{})
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// iamMount enables the real Vault's AWS method at a fresh mount and
// configures it as an operator would, to send the GetCallerIdentity
// requests it is given to sts (its sts_endpoint), requiring serverID
// when set. Its role "reader" logs in the IAM principal principalARN with
// policy. Vault needs no AWS credentials of its own for iam logins whose
// role does not resolve unique IDs.
func iamMount(tb testing.TB, v *testkit.Vault, sts *awstest.Server, serverID, principalARN, policy string) string {
	tb.Helper()
	mount := enableAuth(tb, v, "aws")
	cfg := map[string]any{"sts_endpoint": sts.URL(), "sts_region": sts.Region()}
	if serverID != "" {
		cfg["iam_server_id_header_value"] = serverID
	}
	write(tb, v, "auth/"+mount+"/config/client", cfg)
	write(tb, v, "auth/"+mount+"/role/reader", map[string]any{
		"auth_type":               "iam",
		"bound_iam_principal_arn": principalARN,
		"resolve_aws_unique_ids":  false,
		"token_policies":          policy,
		"token_ttl":               "10m",
	})
	return mount
}

// awsKeys puts creds into the tenant's Secret "aws" and returns the
// secretRef naming them.
func awsKeys(kube *mapKube, creds awstest.Credentials) *esv1.AWSAuthSecretRef {
	kube.setSecret("aws", "id", creds.AccessKeyID)
	kube.setSecret("aws", "secret", creds.SecretAccessKey+"\n")
	ref := &esv1.AWSAuthSecretRef{AccessKeyID: ptr(sel("aws", "id")), SecretAccessKey: ptr(sel("aws", "secret"))}
	if creds.SessionToken != "" {
		kube.setSecret("aws", "token", creds.SessionToken)
		ref.SessionToken = ptr(sel("aws", "token"))
	}
	return ref
}

func iamStore(v *testkit.Vault, iam esv1.VaultIamAuth) providers.Store {
	return storeFor(v, func(p *esv1.VaultProvider) {
		p.Version = "v2"
		p.Auth = &esv1.VaultAuth{IAM: &iam}
	})
}

// TestAuthIAM logs in with the AWS method (iam type) of the real Vault dev
// server. Vault, its AWS method's config and role, and the STS server are
// the operator's; the store and its Secrets (AWS keys, server ID) are the
// tenant's. Vault forwards the request our client signed to the in-memory
// STS, which checks its SigV4 signature and names the caller.
func TestAuthIAM(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	sts := startSTS(t)
	user := "vault-reader-" + suffix(t)
	keys := sts.AddUser(awstest.User{Name: user})
	key, policy := seedApp(t, v, "iam-pw")
	plain := iamMount(t, v, sts, "", sts.UserARN(user), policy)
	guarded := iamMount(t, v, sts, "vault.example.com", sts.UserARN(user), policy)

	t.Run("tenant static keys log in and read", func(t *testing.T) {
		kube := newMapKube()
		before := auditLog(t)
		c := newClient(t, iamStore(v, esv1.VaultIamAuth{Path: plain, VaultRole: "reader", SecretRef: awsKeys(kube, keys)}), kube)
		mustRead(t, c, key, "iam-pw")
		if n := auditSince(t, before).Count("update", "auth/"+plain+"/login"); n != 1 {
			t.Errorf("%d logins, want 1", n)
		}
		if n := sts.Count(awstest.STS, "GetCallerIdentity"); n < 1 {
			t.Errorf("STS saw %d GetCallerIdentity calls, want the one Vault forwarded", n)
		}
	})

	t.Run("tenant server ID matches the operator's", func(t *testing.T) {
		kube := newMapKube()
		c := newClient(t, iamStore(v, esv1.VaultIamAuth{Path: guarded, VaultRole: "reader", VaultAWSIAMServerID: "vault.example.com", SecretRef: awsKeys(kube, keys)}), kube)
		mustRead(t, c, key, "iam-pw")
	})

	refused := []struct {
		name string
		iam  func(kube *mapKube) esv1.VaultIamAuth
		want string
	}{
		{"tenant wrong secret key", func(kube *mapKube) esv1.VaultIamAuth {
			bad := keys
			bad.SecretAccessKey = "wrong" + keys.SecretAccessKey[5:]
			return esv1.VaultIamAuth{Path: plain, VaultRole: "reader", SecretRef: awsKeys(kube, bad)}
		}, "SignatureDoesNotMatch"},
		{"tenant unknown access key", func(kube *mapKube) esv1.VaultIamAuth {
			return esv1.VaultIamAuth{Path: plain, VaultRole: "reader", SecretRef: awsKeys(kube, awstest.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x" + keys.SecretAccessKey[1:]})}
		}, "InvalidClientTokenId"},
		{"tenant wrong server ID", func(kube *mapKube) esv1.VaultIamAuth {
			return esv1.VaultIamAuth{Path: guarded, VaultRole: "reader", VaultAWSIAMServerID: "other.example.com", SecretRef: awsKeys(kube, keys)}
		}, "X-Vault-AWS-IAM-Server-ID"},
		{"tenant no server ID where the operator requires one", func(kube *mapKube) esv1.VaultIamAuth {
			return esv1.VaultIamAuth{Path: guarded, VaultRole: "reader", SecretRef: awsKeys(kube, keys)}
		}, `missing header "X-Vault-AWS-IAM-Server-ID"`},
		{"tenant keys of a principal the role does not bind", func(kube *mapKube) esv1.VaultIamAuth {
			return esv1.VaultIamAuth{Path: plain, VaultRole: "reader", SecretRef: awsKeys(kube, sts.AddUser(awstest.User{Name: "stranger-" + suffix(t)}))}
		}, "does not belong to the role"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			kube := newMapKube()
			iam := tc.iam(kube)
			_, err := New().NewClient(t.Context(), iamStore(v, iam), kube)
			if err == nil {
				t.Fatal("NewClient succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			for _, secret := range [][]byte{kube.secrets["apps/aws"]["secret"], []byte(keys.SecretAccessKey)} {
				if s := strings.TrimSpace(string(secret)); s != "" && strings.Contains(msg, s) {
					t.Errorf("error holds a secret key: %q", msg)
				}
			}
		})
	}
}

// TestAuthIAMControllerIdentity: a tenant's SecretStore naming neither
// secretRef nor jwt would use the controller's own AWS identity; it is
// refused before any request to AWS or Vault (the core's rule).
func TestAuthIAMControllerIdentity(t *testing.T) {
	kube := newMapKube()
	s := vaultStore(func(p *esv1.VaultProvider) {
		p.Auth = &esv1.VaultAuth{IAM: &esv1.VaultIamAuth{VaultRole: "reader"}}
	})
	_, err := New().NewClient(t.Context(), s, kube)
	if err == nil || !strings.Contains(err.Error(), providers.ErrControllerIdentity.Error()) {
		t.Fatalf("NewClient: %v, want the controller's identity refused", err)
	}
}

// iamKube is the Kubernetes access the core gives a store, with the
// abilities the AWS credentials need: ServiceAccount tokens signed by an
// OIDC issuer STS trusts, ServiceAccount annotations, and the core's
// answer on the controller's identity (the operator's flag).
type iamKube struct {
	*mapKube
	annotations map[string]map[string]string // "ns/name" → annotations
	controller  error
}

var (
	_ providers.ServiceAccountReader      = (*iamKube)(nil)
	_ providers.ControllerIdentityChecker = (*iamKube)(nil)
)

func newIAMKube(iss *awstest.Issuer) *iamKube {
	k := &iamKube{mapKube: newMapKube(), annotations: map[string]map[string]string{},
		controller: fmt.Errorf("%w: a SecretStore must name its own credentials", providers.ErrControllerIdentity)}
	k.saToken = func(ref esmeta.ServiceAccountSelector, audiences []string, _ int64) (string, error) {
		return iss.Token(awstest.TokenClaims{Subject: "system:serviceaccount:apps:" + ref.Name, Audience: audiences})
	}
	return k
}

func (k *iamKube) ServiceAccountAnnotations(_ context.Context, ref esmeta.ServiceAccountSelector) (map[string]string, error) {
	a, ok := k.annotations["apps/"+ref.Name]
	if !ok {
		return nil, fmt.Errorf("serviceaccounts %q not found", ref.Name)
	}
	return a, nil
}

func (k *iamKube) ControllerIdentityAllowed() error { return k.controller }

// TestAuthIAMRoles logs in to the real Vault with AWS identities that take
// STS calls of our own first: IRSA (a tenant's ServiceAccount annotated
// with a role, its token exchanged through AssumeRoleWithWebIdentity),
// static keys with an assumed role and external ID, and the controller's
// own identity, which only a ClusterSecretStore the operator allowed gets.
// The stores, Secrets and ServiceAccount annotations are the tenant's; the
// roles, trust policies, Vault's config and the controller-identity answer
// are the operator's.
func TestAuthIAMRoles(t *testing.T) {
	v := testkit.RequireVault(t, vault)
	sts := startSTS(t)
	iss, err := awstest.NewIssuer("https://oidc.test/cluster")
	if err != nil {
		t.Fatal(err)
	}
	sts.AddOIDCProvider(iss.Provider())
	user := "base-" + suffix(t)
	keys := sts.AddUser(awstest.User{Name: user})
	irsa := sts.AddRole(awstest.Role{Name: "irsa-" + suffix(t), WebIdentity: []awstest.WebIdentityTrust{
		{Issuer: iss.URL(), Subject: "system:serviceaccount:apps:app"},
	}})
	assumed := sts.AddRole(awstest.Role{Name: "assumed-" + suffix(t), TrustedPrincipals: []string{sts.UserARN(user)}, ExternalID: "ext-123"})
	key, policy := seedApp(t, v, "role-pw")
	p := NewWithOptions(Options{AWS: aws.Options{Endpoints: aws.Endpoints{STS: sts.URL()}}})

	mounts := map[string]string{}
	for _, arn := range []string{irsa, assumed, sts.UserARN(user)} {
		mounts[arn] = iamMount(t, v, sts, "", arn, policy)
	}

	for _, tc := range []struct {
		name  string
		kind  string
		bound string
		iam   func(k *iamKube) esv1.VaultIamAuth
		// allowed is the operator's --allow-cluster-store-controller-identity.
		allowed bool
		want    string // error; empty for a login that reads
	}{
		{name: "tenant IRSA ServiceAccount", kind: esv1.SecretStoreKind, bound: irsa, iam: func(k *iamKube) esv1.VaultIamAuth {
			k.annotations["apps/app"] = map[string]string{"eks.amazonaws.com/role-arn": irsa}
			return esv1.VaultIamAuth{VaultRole: "reader", JWTAuth: &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "app"}}}
		}},
		{name: "tenant IRSA ServiceAccount the role does not trust", kind: esv1.SecretStoreKind, bound: irsa, iam: func(k *iamKube) esv1.VaultIamAuth {
			k.annotations["apps/other"] = map[string]string{"eks.amazonaws.com/role-arn": irsa}
			return esv1.VaultIamAuth{VaultRole: "reader", JWTAuth: &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "other"}}}
		}, want: "AccessDenied"},
		{name: "tenant keys assume a role with its external ID", kind: esv1.SecretStoreKind, bound: assumed, iam: func(k *iamKube) esv1.VaultIamAuth {
			return esv1.VaultIamAuth{VaultRole: "reader", AWSIAMRole: assumed, ExternalID: "ext-123", SecretRef: awsKeys(k.mapKube, keys)}
		}},
		{name: "tenant keys assume a role with a wrong external ID", kind: esv1.SecretStoreKind, bound: assumed, iam: func(k *iamKube) esv1.VaultIamAuth {
			return esv1.VaultIamAuth{VaultRole: "reader", AWSIAMRole: assumed, ExternalID: "ext-999", SecretRef: awsKeys(k.mapKube, keys)}
		}, want: "AccessDenied"},
		{name: "operator-allowed ClusterSecretStore uses the controller's identity", kind: esv1.ClusterSecretStoreKind, bound: sts.UserARN(user), allowed: true,
			iam: func(*iamKube) esv1.VaultIamAuth { return esv1.VaultIamAuth{VaultRole: "reader"} }},
		{name: "ClusterSecretStore without the operator's flag", kind: esv1.ClusterSecretStoreKind, bound: sts.UserARN(user),
			iam: func(*iamKube) esv1.VaultIamAuth { return esv1.VaultIamAuth{VaultRole: "reader"} }, want: providers.ErrControllerIdentity.Error()},
		{name: "tenant SecretStore never gets the controller's identity", kind: esv1.SecretStoreKind, bound: sts.UserARN(user), allowed: true,
			iam: func(*iamKube) esv1.VaultIamAuth { return esv1.VaultIamAuth{VaultRole: "reader"} }, want: providers.ErrControllerIdentity.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The controller's own identity is the SDK's default chain: here
			// the keys in its environment.
			t.Setenv("AWS_ACCESS_KEY_ID", keys.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", keys.SecretAccessKey)
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			t.Setenv("AWS_CONFIG_FILE", os.DevNull)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
			k := newIAMKube(iss)
			if tc.allowed && tc.kind == esv1.ClusterSecretStoreKind {
				// The core's rule: only a ClusterSecretStore, only when allowed.
				k.controller = nil
			}
			iam := tc.iam(k)
			iam.Path = mounts[tc.bound]
			s := iamStore(v, iam)
			s.Kind = tc.kind
			before := sts.Count(awstest.STS, "GetCallerIdentity")
			pc, err := p.NewClient(t.Context(), s, k)
			if tc.want != "" {
				if err == nil {
					_ = pc.Close(t.Context())
					t.Fatal("NewClient succeeded")
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
				if strings.Contains(err.Error(), keys.SecretAccessKey) {
					t.Errorf("error holds the secret key: %q", err)
				}
				if tc.want == providers.ErrControllerIdentity.Error() && sts.Count(awstest.STS, "GetCallerIdentity") != before {
					t.Error("a refused identity still reached STS")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			t.Cleanup(func() { _ = pc.Close(context.Background()) })
			mustRead(t, pc.(*client), key, "role-pw")
		})
	}
}

// TestParseIAM checks a tenant's auth.iam without reading anything.
func TestParseIAM(t *testing.T) {
	keys := &esv1.AWSAuthSecretRef{AccessKeyID: ptr(sel("aws", "id")), SecretAccessKey: ptr(sel("aws", "secret"))}
	for _, tc := range []struct {
		name string
		iam  esv1.VaultIamAuth
		want string // error; empty for a valid spec
	}{
		{"tenant ESO example", esv1.VaultIamAuth{Region: "eu-west-1", VaultRole: "reader", VaultAWSIAMServerID: "vault.example.com", SecretRef: keys}, ""},
		{"tenant without vaultRole", esv1.VaultIamAuth{SecretRef: keys}, "vaultRole is required"},
		{"tenant server ID with a newline", esv1.VaultIamAuth{VaultRole: "r", VaultAWSIAMServerID: "a\r\nX-Evil: 1", SecretRef: keys}, "vaultAwsIamServerID"},
		{"tenant keys and IRSA together", esv1.VaultIamAuth{VaultRole: "r", SecretRef: keys, JWTAuth: &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: "app"}}}, "exclude each other"},
		{"tenant region that is no region", esv1.VaultIamAuth{VaultRole: "r", Region: "127.0.0.1", SecretRef: keys}, "not an AWS region"},
		{"tenant role that is no ARN", esv1.VaultIamAuth{VaultRole: "r", AWSIAMRole: "admin", SecretRef: keys}, "not a role ARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iam := tc.iam
			_, err := parseConfig(vaultStore(func(p *esv1.VaultProvider) { p.Auth = &esv1.VaultAuth{IAM: &iam} }))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("parseConfig: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("parseConfig: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestParseIAMESOExamples parses ESO's documented auth.iam stores (tenant
// input, as ESO v1.3.2's docs write them): IRSA, the controller's pod
// identity, and static keys with an assumed role.
func TestParseIAMESOExamples(t *testing.T) {
	files, err := filepath.Glob("../../test/crd/testdata/externalsecrets/valid/vault-iam-*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("ESO's examples: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var s esv1.SecretStore
			if err := yaml.UnmarshalStrict(b, &s); err != nil {
				t.Fatal(err)
			}
			cfg, err := parseConfig(providers.Store{Kind: esv1.SecretStoreKind, Name: s.Name, Namespace: "apps", Spec: &s.Spec})
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			m, ok := cfg.login.(*iamLogin)
			if !ok || m.mount != "aws" || m.vaultRole != "vault-role-for-aws-iam-auth" || m.serverID != "example-vaultAwsIamServerID" {
				t.Fatalf("login = %#v", cfg.login)
			}
		})
	}
}
