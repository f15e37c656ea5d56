package externalsecrets_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/controller/externalsecrets"
	"github.com/sealsync/sealsync/internal/testkit"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/aws"
)

// The AWS suites run the controller with the real AWS provider against
// internal/awstest, sealsync's in-memory Secrets Manager, Parameter Store
// and STS (no AWS emulator is reachable here). Store specs, ExternalSecrets
// and the secrets' contents are tenant input; the server's users, roles
// and policies, the provider's endpoints and the controller's flags are the
// operator's (or AWS's).

// docsRegion is the region of ESO's documented examples, which the test
// server serves so that they apply unchanged.
const docsRegion = "eu-central-1"

// awsWorld is a running AWS test server and an administrator's SDK
// clients to seed it, as the operator's tooling would. The administrator
// reaches the server in process, so that seeding goes on during an
// outage the controller sees.
type awsWorld struct {
	srv *awstest.Server
	sm  *secretsmanager.Client
	ssm *ssm.Client
}

// inProcess sends requests to an http.Handler without a network.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func newAWSWorld(t *testing.T) *awsWorld {
	t.Helper()
	srv := awstest.New(awstest.Options{Region: docsRegion})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	admin := srv.AddUser(awstest.User{Name: "admin", Policy: awstest.AllowAll})
	cfg := awssdk.Config{
		Region: srv.Region(), BaseEndpoint: awssdk.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, ""),
		HTTPClient:  &http.Client{Transport: inProcess{srv}},
	}
	return &awsWorld{srv: srv, sm: secretsmanager.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}
}

// secret creates a Secrets Manager secret with tags (key, value, ...) and
// returns its version ID.
func (w *awsWorld) secret(t *testing.T, name, value string, tags ...string) string {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value}
	for i := 0; i+1 < len(tags); i += 2 {
		in.Tags = append(in.Tags, smtypes.Tag{Key: &tags[i], Value: &tags[i+1]})
	}
	out, err := w.sm.CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.VersionId
}

// update puts a new current value of a Secrets Manager secret.
func (w *awsWorld) update(t *testing.T, name, value string) {
	t.Helper()
	if _, err := w.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: &value}); err != nil {
		t.Fatal(err)
	}
}

// param creates or overwrites a SecureString parameter.
func (w *awsWorld) param(t *testing.T, name, value string) {
	t.Helper()
	in := &ssm.PutParameterInput{Name: &name, Value: &value, Type: ssmtypes.ParameterTypeSecureString, Overwrite: awssdk.Bool(true)}
	if _, err := w.ssm.PutParameter(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// awsProvider is the AWS provider pointed at w, as the operator points it
// at VPC endpoints: the SDK's BaseEndpoint, from the controller's options
// (ESO: AWS_SECRETSMANAGER_ENDPOINT and friends).
func (w *awsWorld) awsProvider() providers.Provider {
	return aws.New(aws.Options{Endpoints: aws.Endpoints{SecretsManager: w.srv.URL(), SSM: w.srv.URL(), STS: w.srv.URL()}})
}

// startAWSES starts a controller reaching the API server through cfg that
// serves stores of class with the AWS provider pointed at w. allow is the
// operator's --allow-cluster-store-controller-identity.
func startAWSES(t *testing.T, e *testkit.Env, cfg *rest.Config, w *awsWorld, class string, allow bool) *controllertest.Running {
	t.Helper()
	reg := providers.NewRegistry()
	reg.Register(providers.AWS, w.awsProvider())
	return startAs(t, cfg, e.Namespace(t), e.Namespace(t), func(o *controller.Options) {
		o.ES = externalsecrets.Options{
			Providers: reg, ControllerClass: class, FloodGate: true, StoreInterval: time.Minute,
			DedupeTTL: time.Second, Workers: 4, AllowControllerIdentity: allow,
		}
	})
}

// keysSecret creates the Secret awssm-secret in ns holding an access key,
// under the names ESO's examples use.
func keysSecret(t *testing.T, e *testkit.Env, ns string, c awstest.Credentials) {
	t.Helper()
	create(t, e, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "awssm-secret", Namespace: ns},
		StringData: map[string]string{"access-key": c.AccessKeyID, "secret-access-key": c.SecretAccessKey},
	})
}

// targetData returns the data of the Secret ns/name as strings.
func targetData(t *testing.T, e *testkit.Env, ns, name string) map[string]string {
	t.Helper()
	s := &corev1.Secret{}
	if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(s.Data))
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

// sameData reports how want and got differ, "" when they do not.
func sameData(want, got map[string]string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Sprintf("key %s differs", k)
		}
	}
	return ""
}

// keysStore is a Secrets Manager SecretStore called name reading with the
// access key of awssm-secret (see keysSecret); more holds more lines of
// its spec, indented by two spaces.
func keysStore(name, more string) string {
	return fmt.Sprintf(`apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: %s
spec:
%s  provider:
    aws:
      service: SecretsManager
      region: eu-central-1
      auth:
        secretRef:
          accessKeyIDSecretRef:
            name: awssm-secret
            key: access-key
          secretAccessKeySecretRef:
            name: awssm-secret
            key: secret-access-key
`, name, more)
}
