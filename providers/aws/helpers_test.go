package aws

// The tests of this package run the provider against internal/awstest,
// sealsync's in-memory AWS (see the package doc). In every test the store
// spec, the remote refs and the secrets' contents are tenant input; the
// provider's options, the server's identities and policies, and the
// controller-identity flag are the operator's.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/providers"
)

const testNamespace = "tenant"

// env is a running server, an administrator's SDK clients to seed it, and
// a provider pointed at it.
type env struct {
	srv      *awstest.Server
	sm       *secretsmanager.Client
	ssm      *ssm.Client
	provider *provider
	issuer   *awstest.Issuer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := awstest.New(awstest.Options{})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	admin := srv.AddUser(awstest.User{Name: "admin", Policy: awstest.AllowAll})
	cfg := awssdk.Config{
		Region: srv.Region(), BaseEndpoint: awssdk.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, ""),
	}
	iss, err := awstest.NewIssuer("https://oidc.test/cluster")
	if err != nil {
		t.Fatal(err)
	}
	srv.AddOIDCProvider(iss.Provider())
	p := New(Options{Endpoints: Endpoints{SecretsManager: srv.URL(), SSM: srv.URL(), STS: srv.URL()}}).(*provider)
	// Tests that throttle do not wait the SDK's seconds between attempts.
	p.retryBackoff = fixedBackoff(time.Millisecond)
	p.batchBackoff = func(int) time.Duration { return time.Millisecond }
	return &env{srv: srv, sm: secretsmanager.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg), provider: p, issuer: iss}
}

// secret creates a Secrets Manager secret holding a string value.
func (e *env) secret(t *testing.T, name, value string, tags ...string) string {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}
	for i := 0; i+1 < len(tags); i += 2 {
		in.Tags = append(in.Tags, smTag(tags[i], tags[i+1]))
	}
	out, err := e.sm.CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.VersionId
}

// param creates or overwrites a parameter and returns its version.
func (e *env) param(t *testing.T, name, value string, tags ...string) int64 {
	t.Helper()
	in := &ssm.PutParameterInput{Name: &name, Value: &value, Type: "SecureString", Overwrite: awssdk.Bool(len(tags) == 0)}
	for i := 0; i+1 < len(tags); i += 2 {
		in.Tags = append(in.Tags, ssmTag(tags[i], tags[i+1]))
	}
	out, err := e.ssm.PutParameter(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.Version
}

// keys adds a user with policy and returns a kube holding its keys in the
// Secret "aws-creds" and a store spec reading them.
func (e *env) keys(t *testing.T, service esv1.AWSServiceType, policy awstest.Policy) (*fakeKube, *esv1.AWSProvider) {
	t.Helper()
	c := e.srv.AddUser(awstest.User{Name: fmt.Sprintf("user-%s", t.Name()), Policy: policy})
	k := e.kube()
	k.secrets["tenant/aws-creds/id"] = []byte(c.AccessKeyID)
	k.secrets["tenant/aws-creds/secret"] = []byte(c.SecretAccessKey + "\n")
	return k, &esv1.AWSProvider{Service: service, Region: e.srv.Region(), Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
		AccessKeyID:     &esmeta.SecretKeySelector{Name: "aws-creds", Key: "id"},
		SecretAccessKey: &esmeta.SecretKeySelector{Name: "aws-creds", Key: "secret"},
	}}}
}

func (e *env) kube() *fakeKube {
	return &fakeKube{secrets: map[string][]byte{}, serviceAccounts: map[string]map[string]string{}, issuer: e.issuer,
		controller: fmt.Errorf("%w: a SecretStore must name its own credentials", providers.ErrControllerIdentity)}
}

// client builds a client of a SecretStore in testNamespace.
func (e *env) client(t *testing.T, kube providers.Kube, spec *esv1.AWSProvider) providers.Client {
	t.Helper()
	c, err := e.provider.NewClient(context.Background(), store(esv1.SecretStoreKind, spec), kube)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func store(kind string, spec *esv1.AWSProvider) providers.Store {
	return providers.Store{Kind: kind, Name: "aws", Namespace: testNamespace, Spec: &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{AWS: spec}}}
}

// fakeKube is the Kubernetes access the core would give a store in
// testNamespace: Secrets and ServiceAccounts in memory, tokens signed by
// the env's OIDC issuer as a Kubernetes API server signs them.
type fakeKube struct {
	secrets         map[string][]byte            // "ns/name/key"
	serviceAccounts map[string]map[string]string // "ns/name" -> annotations
	issuer          *awstest.Issuer
	// controller is what ControllerIdentityAllowed answers.
	controller error

	mu     sync.Mutex
	tokens [][]string // audiences of each token requested
}

var (
	_ providers.Kube                      = (*fakeKube)(nil)
	_ providers.ServiceAccountReader      = (*fakeKube)(nil)
	_ providers.ControllerIdentityChecker = (*fakeKube)(nil)
)

func namespaceOf(ns *string) string {
	if ns != nil && *ns != "" {
		return *ns
	}
	return testNamespace
}

func (k *fakeKube) SecretKey(_ context.Context, ref esmeta.SecretKeySelector) ([]byte, error) {
	v, ok := k.secrets[namespaceOf(ref.Namespace)+"/"+ref.Name+"/"+ref.Key]
	if !ok {
		return nil, fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
	}
	return v, nil
}

func (k *fakeKube) ConfigMapKey(context.Context, string, string, string) ([]byte, error) {
	return nil, errors.New("no config maps here")
}

func (k *fakeKube) ServiceAccountToken(_ context.Context, ref esmeta.ServiceAccountSelector, audiences []string, _ int64) (string, error) {
	k.mu.Lock()
	k.tokens = append(k.tokens, audiences)
	k.mu.Unlock()
	return k.issuer.Token(awstest.TokenClaims{
		Subject:  "system:serviceaccount:" + namespaceOf(ref.Namespace) + ":" + ref.Name,
		Audience: audiences,
	})
}

func (k *fakeKube) ControllerToken(context.Context, []string) (string, error) {
	return "", providers.ErrControllerIdentity
}

func (k *fakeKube) ServiceAccountAnnotations(_ context.Context, ref esmeta.ServiceAccountSelector) (map[string]string, error) {
	a, ok := k.serviceAccounts[namespaceOf(ref.Namespace)+"/"+ref.Name]
	if !ok {
		return nil, fmt.Errorf("serviceaccounts %q not found", ref.Name)
	}
	return a, nil
}

func (k *fakeKube) ControllerIdentityAllowed() error { return k.controller }

func (k *fakeKube) tokenRequests() [][]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([][]string(nil), k.tokens...)
}

// plainKube is a Kube with none of the optional abilities, as an older
// core would give.
type plainKube struct{ k *fakeKube }

func (p plainKube) SecretKey(ctx context.Context, ref esmeta.SecretKeySelector) ([]byte, error) {
	return p.k.SecretKey(ctx, ref)
}
func (p plainKube) ConfigMapKey(ctx context.Context, ns, name, key string) ([]byte, error) {
	return p.k.ConfigMapKey(ctx, ns, name, key)
}
func (p plainKube) ServiceAccountToken(ctx context.Context, ref esmeta.ServiceAccountSelector, aud []string, exp int64) (string, error) {
	return p.k.ServiceAccountToken(ctx, ref, aud, exp)
}
func (p plainKube) ControllerToken(ctx context.Context, aud []string) (string, error) {
	return p.k.ControllerToken(ctx, aud)
}

func smTag(k, v string) smtypes.Tag   { return smtypes.Tag{Key: &k, Value: &v} }
func ssmTag(k, v string) ssmtypes.Tag { return ssmtypes.Tag{Key: &k, Value: &v} }

func ref(key string) esv1.ExternalSecretDataRemoteRef {
	return esv1.ExternalSecretDataRemoteRef{Key: key}
}
