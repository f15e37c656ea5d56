package aws

import (
	"context"
	"fmt"
	"os"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/providers"
)

const (
	// requestTimeout bounds one HTTP request to AWS; retries each get
	// their own.
	requestTimeout = 30 * time.Second
	// defaultMaxAttempts is how often the SDK tries a request that failed
	// with throttling, a 5xx answer or a connection error: more than the
	// SDK's 3, because one client serves every ExternalSecret of a store
	// and a burst of their reads is what gets throttled.
	defaultMaxAttempts = 8
)

// Endpoints override the endpoints the AWS SDK resolves from the region,
// for VPC endpoints, FIPS endpoints, proxies and tests. Empty means the
// SDK's.
type Endpoints struct {
	SecretsManager string
	SSM            string
	STS            string
}

// Options configure the provider. They come from the operator, never from
// a store.
type Options struct {
	// Endpoints override the SDK's endpoints.
	Endpoints Endpoints
}

// OptionsFromEnvironment reads the controller's environment variables ESO
// documents for custom endpoints: AWS_SECRETSMANAGER_ENDPOINT,
// AWS_SSM_ENDPOINT and AWS_STS_ENDPOINT. The environment is the
// operator's; nothing else of it reaches a store, unless a
// ClusterSecretStore is allowed the controller's own identity.
func OptionsFromEnvironment() Options {
	return Options{Endpoints: Endpoints{
		SecretsManager: os.Getenv("AWS_SECRETSMANAGER_ENDPOINT"),
		SSM:            os.Getenv("AWS_SSM_ENDPOINT"),
		STS:            os.Getenv("AWS_STS_ENDPOINT"),
	}}
}

// provider builds AWS clients.
type provider struct {
	opts Options
	// http is shared by every client, so connections to an endpoint are
	// pooled across stores.
	http *awshttp.BuildableClient
	// defaultCredentials loads the SDK's default chain; tests replace it.
	defaultCredentials func(ctx context.Context, region string) (awssdk.CredentialsProvider, error)
	// retryBackoff replaces the SDK's backoff between attempts when set;
	// tests shorten it.
	retryBackoff retry.BackoffDelayer
	// batchBackoff is the wait before round n (from 1) of retrying the
	// failed calls of a batch.
	batchBackoff func(round int) time.Duration
}

var _ providers.Provider = (*provider)(nil)

// New returns the AWS provider, to register as [providers.AWS].
func New(opts Options) providers.Provider {
	return &provider{
		opts:               opts,
		http:               awshttp.NewBuildableClient().WithTimeout(requestTimeout),
		defaultCredentials: loadDefaultCredentials,
		batchBackoff:       defaultBatchBackoff,
	}
}

// loadDefaultCredentials is the SDK's default credential chain, from the
// controller's environment, shared files, web identity token file,
// container and instance metadata.
func loadDefaultCredentials(ctx context.Context, region string) (awssdk.CredentialsProvider, error) {
	c, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, err
	}
	return c.Credentials, nil
}

// NewClient checks the store's aws provider and builds its credentials:
// static keys are read, a ServiceAccount's role is looked up, the
// controller's identity is checked against the core's rule. Nothing is
// sent to AWS: a role is assumed at the first read, and its credentials
// are kept until shortly before they expire.
func (p *provider) NewClient(ctx context.Context, store providers.Store, kube providers.Kube) (providers.Client, error) {
	cfg, err := parseConfig(store)
	if err != nil {
		return nil, fmt.Errorf("aws store %s: %w", store.Name, err)
	}
	creds, identity, err := p.credentialChain(ctx, cfg, store, kube)
	if err != nil {
		return nil, fmt.Errorf("aws store %s: %w", store.Name, err)
	}
	c := client{cfg: cfg, identity: identity, creds: creds, batchBackoff: p.batchBackoff}
	awsCfg := p.awsConfig(cfg, creds)
	if cfg.service == esv1.AWSServiceParameterStore {
		return &parameterStore{client: c, api: ssm.NewFromConfig(awsCfg, func(o *ssm.Options) {
			if p.opts.Endpoints.SSM != "" {
				o.BaseEndpoint = &p.opts.Endpoints.SSM
			}
		})}, nil
	}
	return &secretsManager{client: c, api: secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if p.opts.Endpoints.SecretsManager != "" {
			o.BaseEndpoint = &p.opts.Endpoints.SecretsManager
		}
	})}, nil
}

// awsConfig is the SDK configuration of a store's clients. It is built
// here rather than by config.LoadDefaultConfig: that reads the controller's
// environment and files (AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE…), and
// a store's behaviour must depend on its spec and the operator's options
// only.
func (p *provider) awsConfig(cfg *config, creds awssdk.CredentialsProvider) awssdk.Config {
	return awssdk.Config{
		Region:      cfg.region,
		Credentials: creds,
		HTTPClient:  p.http,
		AppID:       "sealsync",
		Retryer: func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = defaultMaxAttempts
				// The SDK's retry quota is shared by every read of the
				// client: once a throttling burst drained it, every
				// ExternalSecret of the store would fail at once without
				// an attempt. Attempts and backoff bound the retries.
				o.RateLimiter = ratelimit.None
				if cfg.maxAttempts > 0 {
					o.MaxAttempts = cfg.maxAttempts
				}
				switch {
				case cfg.retryWait > 0:
					o.Backoff = fixedBackoff(cfg.retryWait)
				case p.retryBackoff != nil:
					o.Backoff = p.retryBackoff
				}
			})
		},
	}
}

// fixedBackoff waits the same time before every retry, as ESO's
// retrySettings.retryInterval does.
type fixedBackoff time.Duration

// BackoffDelay implements retry.BackoffDelayer.
func (f fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(f), nil }

// client is what the Secrets Manager and Parameter Store clients share.
type client struct {
	cfg          *config
	identity     string
	creds        awssdk.CredentialsProvider
	batchBackoff func(round int) time.Duration
}

// Identity names what the client may read: the service, region, endpoints
// and prefix it reads, and its chain of identities — static keys (by ID
// and a digest of the secret), a ServiceAccount and its role, or the
// controller's own — with every role, external ID and session tag assumed
// on top. Clients of different stores with the same chain share reads.
func (c *client) Identity() string { return c.identity }

// Validate gets the client's credentials, assuming its roles if they are
// not cached yet, as ESO validates an AWS store. Static keys are not
// checked against AWS: a store whose VPC reaches Secrets Manager but not
// STS must still be Ready.
func (c *client) Validate(ctx context.Context) error {
	if _, err := c.creds.Retrieve(ctx); err != nil {
		return describe("credentials", err)
	}
	return nil
}

// Close releases nothing: the client holds no lease, and connections are
// pooled by the provider.
func (c *client) Close(context.Context) error { return nil }

// key is the remote name of a ref: the store's prefix and the ref's key.
func (c *client) key(ref esv1.ExternalSecretDataRemoteRef) string { return c.cfg.prefix + ref.Key }

// ExtractProperty returns ref.Property of whole, the value GetSecret read
// for ref without its property (see [providers.PropertyExtractor]).
func (c *client) ExtractProperty(ref esv1.ExternalSecretDataRemoteRef, whole []byte) ([]byte, error) {
	v, err := providers.Property(whole, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.key(ref), err)
	}
	return v, nil
}

// ExtractMap splits the JSON object whole (of ref's property, if any), the
// value GetSecret read for ref without its property, into keys: what
// GetSecretMap answers for dataFrom.extract (see [providers.BatchGetter]).
func (c *client) ExtractMap(ref esv1.ExternalSecretDataRemoteRef, whole []byte) (map[string][]byte, error) {
	if ref.Property != "" {
		var err error
		if whole, err = c.ExtractProperty(ref, whole); err != nil {
			return nil, err
		}
	}
	m, err := providers.SecretMapFromJSON(whole)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.key(ref), err)
	}
	return m, nil
}
