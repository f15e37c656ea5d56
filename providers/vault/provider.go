package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/aws"
)

const (
	// requestTimeout bounds one request to Vault, retries included.
	requestTimeout = 60 * time.Second
	// defaultMaxRetries is how often a request is retried after a
	// connection error or a 5xx answer when the store sets no
	// retrySettings: the Vault client's own default.
	defaultMaxRetries = 2
	// inconsistentHeader asks a performance standby that has not caught up
	// with the index a request carries to forward it to the active node.
	inconsistentHeader = "X-Vault-Inconsistent"
)

// provider builds Vault clients.
type provider struct {
	// newAPIClient builds the Vault API client; tests replace it to see
	// the configuration or to swap the transport.
	newAPIClient func(*vaultapi.Config) (*vaultapi.Client, error)
	now          func() time.Time
	// aws builds the credentials of the AWS method (auth.iam).
	aws *aws.CredentialSource
}

var _ providers.Provider = (*provider)(nil)

// Options configure the provider. They come from the operator, never from
// a store.
type Options struct {
	// AWS holds the STS endpoint of the AWS method (auth.iam), for
	// assuming roles and exchanging IRSA tokens and as the URL the
	// GetCallerIdentity request for Vault is signed for, as ESO reads
	// AWS_STS_ENDPOINT; empty uses the SDK's endpoint for the region.
	AWS aws.Options
}

// New returns the Vault provider with default options.
func New() providers.Provider { return NewWithOptions(Options{}) }

// NewWithOptions returns the Vault provider with the operator's options.
func NewWithOptions(opts Options) providers.Provider {
	return &provider{newAPIClient: vaultapi.NewClient, now: time.Now, aws: aws.NewCredentialSource(opts.AWS)}
}

// NewClient checks the store's vault provider, builds a Vault client for
// it and logs in. The returned client keeps its token across calls until
// Close; see the package doc.
func (p *provider) NewClient(ctx context.Context, store providers.Store, kube providers.Kube) (providers.Client, error) {
	cfg, err := parseConfig(store)
	if err != nil {
		return nil, fmt.Errorf("vault store %s: %w", store.Name, err)
	}
	api, err := p.newAPI(ctx, cfg, kube)
	if err != nil {
		return nil, fmt.Errorf("vault store %s: %w", store.Name, err)
	}
	c := &client{
		kv:      newKVLayout(cfg.mount, cfg.version),
		api:     api.WithNamespace(cfg.namespace),
		session: newSession(api.WithNamespace(cfg.authNamespace), p.now),
	}
	switch {
	case cfg.login != nil:
		env := loginEnv{kube: kube, store: store, aws: p.aws, now: p.now}
		c.session.login = func(ctx context.Context, api *vaultapi.Client) (*vaultapi.SecretAuth, error) {
			auth, err := cfg.login.login(ctx, api, env)
			if err != nil {
				return nil, fmt.Errorf("log in with %s: %w", cfg.login, err)
			}
			return auth, nil
		}
	case cfg.tokenRef != nil:
		ref := *cfg.tokenRef
		c.session.reload = func(ctx context.Context) (string, error) {
			return secretString(ctx, kube, "auth.tokenSecretRef", ref)
		}
	}
	if err := c.session.start(ctx); err != nil {
		return nil, fmt.Errorf("vault store %s: %w", store.Name, err)
	}
	c.identity = c.lookupIdentity(ctx)
	return c, nil
}

// newAPI builds the Vault API client for cfg: TLS, retries, headers and
// namespace set, no token.
func (p *provider) newAPI(ctx context.Context, cfg *config, kube providers.Kube) (*vaultapi.Client, error) {
	ac := vaultapi.DefaultConfig()
	// DefaultConfig reads the controller's VAULT_* environment. A store's
	// behaviour must depend on its spec alone, so everything the
	// environment may set is set again here (VAULT_SKIP_VERIFY above all).
	ac.Error = nil
	ac.Address = cfg.server
	ac.AgentAddress = ""
	ac.SRVLookup = false
	ac.Limiter = nil
	ac.DisableRedirects = false
	ac.Timeout = requestTimeout
	ac.MaxRetries = defaultMaxRetries
	if cfg.maxRetries != nil {
		ac.MaxRetries = *cfg.maxRetries
	}
	if cfg.retryWait > 0 {
		ac.MinRetryWait, ac.MaxRetryWait = cfg.retryWait, cfg.retryWait
	}
	// ESO turns on read-your-writes for either field; forwarding only
	// helps when the client also tracks the index it forwards for.
	ac.ReadYourWrites = cfg.readYourWrites || cfg.forwardInconsistent
	tr, ok := ac.HttpClient.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("unexpected HTTP transport %T", ac.HttpClient.Transport)
	}
	tr.Proxy = http.ProxyFromEnvironment
	tlsCfg, err := tlsConfig(ctx, cfg, kube)
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = tlsCfg

	api, err := p.newAPIClient(ac)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	// NewClient also reads VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS.
	api.ClearToken()
	h := http.Header{}
	h.Set(vaultapi.RequestHeaderName, "true") // Vault's SSRF guard
	for k, v := range cfg.headers {
		h.Set(k, v)
	}
	if cfg.forwardInconsistent {
		h.Set(inconsistentHeader, "forward-active-node")
	}
	api.SetHeaders(h)
	api.ClearNamespace()
	return api, nil
}

// tlsConfig builds the TLS settings of the store: the CA bundle and the
// client certificate, read through kube.
func tlsConfig(ctx context.Context, cfg *config, kube providers.Kube) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	ca, err := caBundle(ctx, cfg, kube)
	if err != nil {
		return nil, err
	}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("CA bundle holds no PEM certificate")
		}
		t.RootCAs = pool
	}
	if cfg.clientCert != nil {
		cert, err := keyPair(ctx, kube, "tls", *cfg.clientCert)
		if err != nil {
			return nil, err
		}
		t.Certificates = []tls.Certificate{cert}
	}
	if cfg.certLogin != nil {
		// The cert method's certificate wins over tls's, as in ESO: Vault
		// reads the login's identity from the handshake.
		cert, err := keyPair(ctx, kube, "auth.cert", *cfg.certLogin)
		if err != nil {
			return nil, err
		}
		t.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return t, nil
}

// caBundle returns the PEM authorities of the store, nil for the system
// roots.
func caBundle(ctx context.Context, cfg *config, kube providers.Kube) ([]byte, error) {
	if len(cfg.caBundle) > 0 {
		return cfg.caBundle, nil
	}
	p := cfg.caProvider
	if p == nil {
		return nil, nil
	}
	var b []byte
	var err error
	switch p.Type {
	case esv1.CAProviderTypeSecret:
		ref := esmeta.SecretKeySelector{Name: p.Name, Key: p.Key}
		if cfg.caNamespace != "" {
			ns := cfg.caNamespace
			ref.Namespace = &ns
		}
		b, err = kube.SecretKey(ctx, ref)
	default: // ConfigMap; parseConfig admits no other
		b, err = kube.ConfigMapKey(ctx, cfg.caNamespace, p.Name, p.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("caProvider: %w", err)
	}
	return b, nil
}

// keyPair reads a PEM certificate and key. Parse errors are reported
// without their input.
func keyPair(ctx context.Context, kube providers.Kube, field string, ref keyPairRef) (tls.Certificate, error) {
	cert, err := kube.SecretKey(ctx, ref.cert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s certificate: %w", field, err)
	}
	key, err := kube.SecretKey(ctx, ref.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s key: %w", field, err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: certificate and key do not form a PEM key pair", field)
	}
	return pair, nil
}
