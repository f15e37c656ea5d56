package controller

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// MetricsOptions secure the metrics endpoint, as ESO's --metrics-secure,
// --metrics-cert-*, --metrics-auth and --enable-http2 do.
type MetricsOptions struct {
	// Secure serves /metrics over HTTPS, with the certificate and key
	// CertName and KeyName in CertDir, or a self-signed certificate when
	// they are not there.
	Secure                     bool
	CertDir, CertName, KeyName string
	// Auth serves /metrics only to clients the API server authenticates
	// (TokenReview) and authorizes for the request's verb on its path
	// (SubjectAccessReview), as controller-runtime's filter that ESO
	// uses. It needs Secure: a bearer token must not cross plain HTTP.
	Auth bool
	// HTTP2 allows HTTP/2 on the HTTPS endpoint, off by default as in ESO
	// (HTTP/2 rapid reset, CVE-2023-44487).
	HTTP2 bool
}

// server returns the metrics server's options for addr.
func (m MetricsOptions) server(addr string) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr, SecureServing: m.Secure, CertDir: m.CertDir, CertName: m.CertName, KeyName: m.KeyName}
	if !m.HTTP2 {
		o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	if m.Auth {
		o.FilterProvider = metricsAuthFilter
	}
	return o
}

// metricsAuthTTL is how long a review's answer is reused for the same
// token and request: Prometheus scrapes every few seconds, and each
// answer costs two API requests.
const metricsAuthTTL = time.Minute

// metricsAuthCacheSize bounds the answers kept; when full, all are
// dropped, so that clients sending ever new tokens cannot grow it.
const metricsAuthCacheSize = 1024

// metricsAuthFilter asks the API server who a request's bearer token is
// and whether that identity may make the request, for every request to
// the metrics server.
func metricsAuthFilter(cfg *rest.Config, hc *http.Client) (metricsserver.Filter, error) {
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	a := &metricsAuth{cs: cs, answers: map[[sha256.Size]byte]metricsAnswer{}, now: time.Now}
	return func(log logr.Logger, h http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code, err := a.check(r.Context(), r)
			if err != nil {
				log.Error(err, "metrics authorization")
			}
			if code != http.StatusOK {
				http.Error(w, http.StatusText(code), code)
				return
			}
			h.ServeHTTP(w, r)
		}), nil
	}, nil
}

type metricsAnswer struct {
	code int
	at   time.Time
}

type metricsAuth struct {
	cs      kubernetes.Interface
	mu      sync.Mutex
	answers map[[sha256.Size]byte]metricsAnswer
	now     func() time.Time
}

// check answers 200, 401 (no token, or one the API server does not
// accept), 403 (not allowed) or 500 (the API server could not say). The
// token is never logged; answers are kept under its hash.
func (a *metricsAuth) check(ctx context.Context, r *http.Request) (int, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return http.StatusUnauthorized, nil
	}
	verb := strings.ToLower(r.Method)
	key := sha256.Sum256([]byte(verb + " " + r.URL.Path + " " + token))
	a.mu.Lock()
	if ans, ok := a.answers[key]; ok && a.now().Sub(ans.at) < metricsAuthTTL {
		a.mu.Unlock()
		return ans.code, nil
	}
	a.mu.Unlock()

	code, err := a.review(ctx, token, verb, r.URL.Path)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	a.mu.Lock()
	if len(a.answers) >= metricsAuthCacheSize {
		clear(a.answers)
	}
	a.answers[key] = metricsAnswer{code: code, at: a.now()}
	a.mu.Unlock()
	return code, nil
}

func (a *metricsAuth) review(ctx context.Context, token, verb, path string) (int, error) {
	tr, err := a.cs.AuthenticationV1().TokenReviews().Create(ctx,
		&authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	if !tr.Status.Authenticated {
		return http.StatusUnauthorized, nil
	}
	u := tr.Status.User
	extra := make(map[string]authzv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar, err := a.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: u.Username, Groups: u.Groups, UID: u.UID, Extra: extra,
		NonResourceAttributes: &authzv1.NonResourceAttributes{Path: path, Verb: verb},
	}}, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	if !sar.Status.Allowed {
		return http.StatusForbidden, nil
	}
	return http.StatusOK, nil
}
