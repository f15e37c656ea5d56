package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/providers"
)

// readPolicy lets a principal read every secret.
var readPolicy = awstest.Allow([]string{"secretsmanager:GetSecretValue"}, "*")

// TestAuthModes reads one secret with every way a store (tenant input)
// can name its credentials; the users, roles and trust policies are the
// operator's (AWS account) setup.
func TestAuthModes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.secret(t, "app/db", "v")
	srv := e.srv
	user := srv.UserARN("user-" + t.Name())
	base := srv.AddRole(awstest.Role{Name: "base", TrustedPrincipals: []string{user}, AllowTagSession: true})
	reader := srv.AddRole(awstest.Role{Name: "reader", Policy: readPolicy, TrustedPrincipals: []string{user}})
	chained := srv.AddRole(awstest.Role{Name: "chained", Policy: readPolicy, TrustedPrincipals: []string{base}, AllowTagSession: true})
	external := srv.AddRole(awstest.Role{Name: "external", Policy: readPolicy, TrustedPrincipals: []string{user}, ExternalID: "ext-42"})
	abac := srv.AddRole(awstest.Role{Name: "abac", TrustedPrincipals: []string{user}, AllowTagSession: true, Policy: awstest.Policy{
		{Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{"*"}, PrincipalTags: map[string]string{"team": "a", "esoNamespace": testNamespace}},
	}})
	irsa := srv.AddRole(awstest.Role{Name: "irsa", Policy: readPolicy, WebIdentity: []awstest.WebIdentityTrust{
		{Issuer: e.issuer.URL(), Subject: "system:serviceaccount:" + testNamespace + ":app"},
	}})
	irsaAud := srv.AddRole(awstest.Role{Name: "irsa-aud", Policy: readPolicy, WebIdentity: []awstest.WebIdentityTrust{
		{Issuer: e.issuer.URL(), Audience: "custom-aud"},
	}})
	srv.AddOIDCProvider(awstest.OIDCProvider{Issuer: e.issuer.URL(), ClientIDs: []string{awstest.STSAudience, "custom-aud"}, Keys: e.issuer.Provider().Keys})

	// The static keys of a user who may do nothing but assume roles.
	kube, keysSpec := e.keys(t, esv1.AWSServiceSecretsManager, nil)
	kube.serviceAccounts["tenant/app"] = map[string]string{roleARNAnnotation: irsa}
	kube.serviceAccounts["tenant/other"] = map[string]string{roleARNAnnotation: irsa}
	kube.serviceAccounts["tenant/custom"] = map[string]string{roleARNAnnotation: irsaAud, audienceAnnotation: "custom-aud"}
	kube.serviceAccounts["tenant/bare"] = map[string]string{}
	sessionKeys := func(role string) {
		c := e.srv.AddUser(awstest.User{Name: "temp", Policy: awstest.AllowAll})
		out, err := sts.NewFromConfig(awssdk.Config{Region: srv.Region(), BaseEndpoint: awssdk.String(srv.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}).
			AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: &role, RoleSessionName: awssdk.String("handmade")})
		if err != nil {
			t.Fatal(err)
		}
		kube.secrets["tenant/temp/id"] = []byte(*out.Credentials.AccessKeyId)
		kube.secrets["tenant/temp/secret"] = []byte(*out.Credentials.SecretAccessKey)
		kube.secrets["tenant/temp/token"] = []byte(*out.Credentials.SessionToken)
	}
	srv.AddRole(awstest.Role{Name: "temp-role", Policy: readPolicy, TrustedPrincipals: []string{srv.UserARN("temp")}})
	sessionKeys(srv.RoleARN("temp-role"))
	sel := func(name, key string) *esmeta.SecretKeySelector {
		return &esmeta.SecretKeySelector{Name: name, Key: key}
	}
	withKeys := func(f func(*esv1.AWSProvider)) *esv1.AWSProvider {
		s := *keysSpec
		f(&s)
		return &s
	}
	jwt := func(name string, aud ...string) *esv1.AWSProvider {
		return &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: srv.Region(), Auth: &esv1.AWSAuth{JWTAuth: &esv1.AWSJWTAuth{
			ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: name, Audiences: aud},
		}}}
	}

	for _, tc := range []struct {
		name       string
		spec       *esv1.AWSProvider
		newErr     string // NewClient fails
		readErr    string // the read fails
		sessionARN string // the last STS session opened
		tags       map[string]string
	}{
		{name: "static keys without rights", spec: keysSpec, readErr: "AccessDeniedException"},
		{name: "assumed role", spec: withKeys(func(s *esv1.AWSProvider) { s.Role = reader }), sessionARN: "assumed-role/reader/sealsync-provider-aws"},
		{name: "chained roles", spec: withKeys(func(s *esv1.AWSProvider) { s.AdditionalRoles = []string{base}; s.Role = chained }), sessionARN: "assumed-role/chained/"},
		{name: "external ID", spec: withKeys(func(s *esv1.AWSProvider) { s.Role = external; s.ExternalID = "ext-42" }), sessionARN: "assumed-role/external/"},
		{name: "wrong external ID", spec: withKeys(func(s *esv1.AWSProvider) { s.Role = external; s.ExternalID = "ext-43" }), readErr: "AccessDenied"},
		{name: "session tags grant ABAC rights", spec: withKeys(func(s *esv1.AWSProvider) {
			s.Role = abac
			s.SessionTags = []esv1.Tag{{Key: "team", Value: "a"}}
			s.SessionTagsPolicy = esv1.AWSSessionTagsPolicySimple
		}), sessionARN: "assumed-role/abac/", tags: map[string]string{"team": "a", "esoNamespace": testNamespace, "esoStoreName": "aws", "esoStoreKind": "SecretStore"}},
		{name: "wrong session tag", spec: withKeys(func(s *esv1.AWSProvider) {
			s.Role = abac
			s.SessionTags = []esv1.Tag{{Key: "team", Value: "b"}}
			s.SessionTagsPolicy = esv1.AWSSessionTagsPolicySimple
		}), readErr: "AccessDeniedException"},
		{name: "custom session tags, transitive through a chain", spec: withKeys(func(s *esv1.AWSProvider) {
			s.AdditionalRoles = []string{base}
			s.Role = chained
			s.SessionTagsPolicy = esv1.AWSSessionTagsPolicyCustom
			s.CustomSessionTags = map[string]string{"cost-center": "42"}
			s.TransitiveTagKeys = []string{"cost-center"}
		}), sessionARN: "assumed-role/chained/", tags: map[string]string{"cost-center": "42", "esoNamespace": testNamespace, "esoStoreName": "aws", "esoStoreKind": "SecretStore"}},
		{name: "session tags on a role without sts:TagSession", spec: withKeys(func(s *esv1.AWSProvider) {
			s.Role = reader
			s.SessionTags = []esv1.Tag{{Key: "team", Value: "a"}}
		}), readErr: "sts:TagSession"},
		{name: "role that does not trust the keys", spec: withKeys(func(s *esv1.AWSProvider) { s.Role = chained }), readErr: "AccessDenied"},
		{name: "temporary keys with their session token", spec: &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: srv.Region(), Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID: sel("temp", "id"), SecretAccessKey: sel("temp", "secret"), SessionToken: sel("temp", "token"),
		}}}},
		{name: "temporary keys without their session token", spec: &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: srv.Region(), Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID: sel("temp", "id"), SecretAccessKey: sel("temp", "secret"),
		}}}, readErr: "UnrecognizedClientException"},
		{name: "wrong secret key", spec: &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: srv.Region(), Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID: sel("temp", "id"), SecretAccessKey: sel("aws-creds", "secret"), SessionToken: sel("temp", "token"),
		}}}, readErr: "InvalidSignatureException"},
		{name: "missing credentials Secret", spec: &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: srv.Region(), Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID: sel("nope", "id"), SecretAccessKey: sel("nope", "secret"),
		}}}, newErr: "auth.secretRef.accessKeyIDSecretRef: secret nope has no key"},
		{name: "IRSA", spec: jwt("app"), sessionARN: "assumed-role/irsa/"},
		{name: "IRSA of a ServiceAccount the role does not trust", spec: jwt("other"), readErr: "AccessDenied"},
		{name: "IRSA with the audience annotation", spec: jwt("custom"), sessionARN: "assumed-role/irsa-aud/"},
		{name: "IRSA and a role on top", spec: func() *esv1.AWSProvider { s := jwt("app"); s.Role = reader; return s }(), readErr: "AccessDenied"},
		{name: "IRSA without the role annotation", spec: jwt("bare"), newErr: "has no eks.amazonaws.com/role-arn annotation"},
		{name: "IRSA of a missing ServiceAccount", spec: jwt("ghost"), newErr: `serviceaccounts "ghost" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Sessions())
			c, err := e.provider.NewClient(ctx, store(esv1.SecretStoreKind, tc.spec), kube)
			if tc.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.newErr) {
					t.Fatalf("NewClient: %v, want %q", err, tc.newErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := len(srv.Sessions()); n != before {
				t.Fatalf("NewClient opened %d STS sessions: it should send nothing", n-before)
			}
			got, err := c.GetSecret(ctx, ref("app/db"))
			if tc.readErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.readErr) || errors.Is(err, providers.ErrSecretNotFound) {
					t.Fatalf("read: %q, %v; want %q", got, err, tc.readErr)
				}
				return
			}
			if err != nil || string(got) != "v" {
				t.Fatalf("read: %q, %v", got, err)
			}
			sessions := srv.Sessions()[before:]
			if tc.sessionARN == "" {
				if len(sessions) != 0 {
					t.Fatalf("%d sessions opened, want none", len(sessions))
				}
				return
			}
			last := sessions[len(sessions)-1]
			if !strings.Contains(last.ARN, tc.sessionARN) {
				t.Fatalf("last session %s, want %s", last.ARN, tc.sessionARN)
			}
			if tc.tags != nil && !maps.Equal(last.Tags, tc.tags) {
				t.Fatalf("session tags %v, want %v", last.Tags, tc.tags)
			}
		})
	}
	t.Run("IRSA token audiences", func(t *testing.T) {
		reqs := kube.tokenRequests()
		for _, aud := range reqs {
			if slices.Contains(aud, "https://kubernetes.default.svc") || len(aud) == 0 {
				t.Fatalf("token requested for %v", aud)
			}
		}
		before := len(kube.tokenRequests())
		c := e.client(t, kube, jwt("app", "extra"))
		if _, err := c.GetSecret(ctx, ref("app/db")); err != nil {
			t.Fatal(err)
		}
		if got := kube.tokenRequests()[before:]; len(got) != 1 || !slices.Equal(got[0], []string{"extra", "sts.amazonaws.com"}) {
			t.Fatalf("tokens requested for %v, want one for [extra sts.amazonaws.com]", got)
		}
	})
	t.Run("IRSA with a core that cannot read ServiceAccounts", func(t *testing.T) {
		_, err := e.provider.NewClient(ctx, store(esv1.SecretStoreKind, jwt("app")), plainKube{kube})
		if err == nil || !strings.Contains(err.Error(), "cannot read ServiceAccounts") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestDefaultChainFollowsControllerIdentityRule: a store without auth
// (tenant input) gets the SDK's default chain, the controller's own
// identity, only as the core's rule (operator flag) allows; otherwise the
// chain is never loaded.
func TestDefaultChainFollowsControllerIdentityRule(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "app/db", "v")
	controllerKeys := e.srv.AddUser(awstest.User{Name: "controller", Policy: readPolicy})
	var loads atomic.Int32
	e.provider.defaultCredentials = func(context.Context, string) (awssdk.CredentialsProvider, error) {
		loads.Add(1)
		return credentials.NewStaticCredentialsProvider(controllerKeys.AccessKeyID, controllerKeys.SecretAccessKey, ""), nil
	}
	noAuth := &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: e.srv.Region()}
	refused := fmt.Errorf("%w: the operator has not started the controller with --allow-cluster-store-controller-identity", providers.ErrControllerIdentity)
	for _, tc := range []struct {
		name    string
		kind    string
		kube    func(*fakeKube) providers.Kube
		allowed error
		ok      bool
	}{
		{"SecretStore", esv1.SecretStoreKind, func(k *fakeKube) providers.Kube { return k }, errors.New("unused"), false},
		{"ClusterSecretStore, operator off", esv1.ClusterSecretStoreKind, func(k *fakeKube) providers.Kube { return k }, refused, false},
		{"ClusterSecretStore, operator on", esv1.ClusterSecretStoreKind, func(k *fakeKube) providers.Kube { return k }, nil, true},
		{"a core that cannot tell", esv1.ClusterSecretStoreKind, func(k *fakeKube) providers.Kube { return plainKube{k} }, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := e.kube()
			if tc.kind == esv1.ClusterSecretStoreKind {
				k.controller = tc.allowed
			}
			before := loads.Load()
			c, err := e.provider.NewClient(context.Background(), store(tc.kind, noAuth), tc.kube(k))
			if !tc.ok {
				if !errors.Is(err, providers.ErrControllerIdentity) {
					t.Fatalf("got %v, want ErrControllerIdentity", err)
				}
				if loads.Load() != before {
					t.Fatal("the default chain was loaded for a store that may not use it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, err := c.GetSecret(context.Background(), ref("app/db")); err != nil || string(v) != "v" {
				t.Fatalf("got %q, %v", v, err)
			}
		})
	}
}

// TestCredentialsCached: STS is called once per role of the chain, however
// many reads and validations follow, and the identity does not change.
func TestCredentialsCached(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "app/db", "v")
	user := e.srv.UserARN("user-" + t.Name())
	base := e.srv.AddRole(awstest.Role{Name: "base", TrustedPrincipals: []string{user}})
	reader := e.srv.AddRole(awstest.Role{Name: "reader", Policy: readPolicy, TrustedPrincipals: []string{base}})
	kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, nil)
	spec.AdditionalRoles, spec.Role = []string{base}, reader
	c := e.client(t, kube, spec)
	id := c.(providers.Identifier).Identity()
	for range 20 {
		if _, err := c.GetSecret(context.Background(), ref("app/db")); err != nil {
			t.Fatal(err)
		}
		if err := c.(providers.Validator).Validate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.srv.Count(awstest.STS, "AssumeRole"); n != 2 {
		t.Fatalf("%d AssumeRole calls for 20 reads through two roles, want 2", n)
	}
	if c.(providers.Identifier).Identity() != id || id == "" {
		t.Fatal("identity changed")
	}
}

// TestIdentity: clients share reads only when their identities are equal,
// so everything that changes what a client may read changes its identity.
func TestIdentity(t *testing.T) {
	e := newEnv(t)
	kube, spec := e.keys(t, esv1.AWSServiceSecretsManager, nil)
	kube.secrets["tenant/wrong/secret"] = []byte("not the secret")
	kube.serviceAccounts["tenant/app"] = map[string]string{roleARNAnnotation: "arn:aws:iam::123456789012:role/a"}
	kube.serviceAccounts["tenant/app2"] = map[string]string{roleARNAnnotation: "arn:aws:iam::123456789012:role/b"}
	id := func(f func(*esv1.AWSProvider)) string {
		s := *spec
		sr := *spec.Auth.SecretRef
		s.Auth = &esv1.AWSAuth{SecretRef: &sr}
		f(&s)
		return e.client(t, kube, &s).(providers.Identifier).Identity()
	}
	jwt := func(sa string) func(*esv1.AWSProvider) {
		return func(s *esv1.AWSProvider) {
			s.Auth = &esv1.AWSAuth{JWTAuth: &esv1.AWSJWTAuth{ServiceAccountRef: &esmeta.ServiceAccountSelector{Name: sa}}}
		}
	}
	same := id(func(*esv1.AWSProvider) {})
	if again := id(func(*esv1.AWSProvider) {}); again != same {
		t.Fatal("the same store has two identities")
	}
	for name, f := range map[string]func(*esv1.AWSProvider){
		"another secret key for the same key ID": func(s *esv1.AWSProvider) {
			s.Auth.SecretRef.SecretAccessKey = &esmeta.SecretKeySelector{Name: "wrong", Key: "secret"}
		},
		"a role":         func(s *esv1.AWSProvider) { s.Role = "arn:aws:iam::123456789012:role/r" },
		"an external ID": func(s *esv1.AWSProvider) { s.Role = "arn:aws:iam::123456789012:role/r"; s.ExternalID = "x1" },
		"a session tag": func(s *esv1.AWSProvider) {
			s.Role = "arn:aws:iam::123456789012:role/r"
			s.SessionTags = []esv1.Tag{{Key: "k", Value: "v"}}
		},
		"another region":    func(s *esv1.AWSProvider) { s.Region = "eu-west-1" },
		"a prefix":          func(s *esv1.AWSProvider) { s.Prefix = "p/" },
		"another service":   func(s *esv1.AWSProvider) { s.Service = esv1.AWSServiceParameterStore },
		"IRSA":              jwt("app"),
		"another IRSA role": jwt("app2"),
		"additional roles":  func(s *esv1.AWSProvider) { s.AdditionalRoles = []string{"arn:aws:iam::123456789012:role/r"} },
	} {
		t.Run(name, func(t *testing.T) {
			if id(f) == same {
				t.Fatal("same identity")
			}
		})
	}
	if a, b := id(jwt("app")), id(jwt("app2")); a == b {
		t.Fatal("two IRSA roles share an identity")
	}
}
