package externalsecrets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/sealsync/sealsync/providers"
)

const (
	// audienceRefresh is how long learned audiences are trusted before they
	// are learned again: the API server's --api-audiences change only when
	// it restarts, and one token an hour costs nothing.
	audienceRefresh = time.Hour
	// audienceTimeout bounds one attempt to learn them, so a slow API
	// server delays stores, never blocks them.
	audienceTimeout = 30 * time.Second
	// audienceBackoffMax caps the wait after failed attempts, which starts
	// at a second and doubles.
	audienceBackoffMax = 30 * time.Second
	// maxTokenBytes bounds the token tokenAudiences parses; the API
	// server's are about a kilobyte.
	maxTokenBytes = 64 << 10
)

// apiAudiences learns which token audiences the Kubernetes API server
// accepts, so the core never requests a token for one of them on a
// store's behalf: such a token, sent to the server the store names, would
// let whoever runs that server act as the ServiceAccount against the
// Kubernetes API. A store's serviceAccountRef.audiences is tenant input,
// and the ServiceAccount it names may be more privileged than the tenant.
//
// The audiences are learned from the API server itself: a TokenRequest
// with no audience gets the API server's own (--api-audiences, or its
// issuer), and the token's aud claim lists them. One learning runs at a
// time, all stores share its result, and it is learned again after
// [audienceRefresh].
type apiAudiences struct {
	// mint requests a token of sa with no audience. The token is read for
	// its aud claim and dropped; it never leaves the controller.
	mint func(ctx context.Context, sa types.NamespacedName) (string, error)
	// self is the controller's own ServiceAccount when it runs as one: the
	// audiences are learned with its tokens rather than a store's.
	self *types.NamespacedName
	now  func() time.Time

	mu         sync.Mutex
	known      []string  // nil until learned
	validUntil time.Time // known is used without asking again until then
	inflight   chan struct{}
	failures   int // consecutive failed attempts
	lastErr    error
	failedFor  types.NamespacedName // the ServiceAccount the failed attempt was for
	retryAt    time.Time
}

func newAPIAudiences(core corev1client.CoreV1Interface, self *types.NamespacedName) *apiAudiences {
	return &apiAudiences{
		mint: func(ctx context.Context, sa types.NamespacedName) (string, error) {
			exp := int64(providers.MinTokenExpiration)
			req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}
			tr, err := core.ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, req, metav1.CreateOptions{})
			if err != nil {
				return "", err
			}
			return tr.Status.Token, nil
		},
		self: self,
		now:  time.Now,
	}
}

// refuse returns an error wrapping [providers.ErrAPIServerAudience] when
// one of audiences is accepted by the API server. sa is the ServiceAccount
// the token is for; the audiences are learned with a token of it if the
// controller has no ServiceAccount of its own (the caller has already
// checked the store may use sa). Unknown audiences refuse every token.
func (a *apiAudiences) refuse(ctx context.Context, sa types.NamespacedName, audiences []string) error {
	accepted, err := a.accepted(ctx, sa)
	if err != nil {
		return err
	}
	for _, aud := range audiences {
		if slices.Contains(accepted, aud) {
			return fmt.Errorf("audience %q is refused: %w, and the token would go to the store's server", aud, providers.ErrAPIServerAudience)
		}
	}
	return nil
}

// accepted returns the audiences the API server accepts, learning them
// first if need be. Waiting ends with ctx; the learning itself is bounded
// by audienceTimeout and serves every store, so it does not end with ctx.
func (a *apiAudiences) accepted(ctx context.Context, sa types.NamespacedName) ([]string, error) {
	for {
		a.mu.Lock()
		now := a.now()
		if a.known != nil && now.Before(a.validUntil) {
			known := a.known
			a.mu.Unlock()
			return known, nil
		}
		if done := a.inflight; done != nil {
			a.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("learn the API server's token audiences: %w", ctx.Err())
			}
		}
		// After a failure, the same ServiceAccount waits out the backoff.
		// Another one tries at once: a store naming a ServiceAccount that
		// does not exist must not hold up the stores of other namespaces.
		if a.lastErr != nil && now.Before(a.retryAt) && a.failedFor == sa {
			err := a.lastErr
			a.mu.Unlock()
			return nil, err
		}
		done := make(chan struct{})
		a.inflight = done
		a.mu.Unlock()
		go a.learn(context.WithoutCancel(ctx), sa, done)
	}
}

// learn runs one attempt and records its outcome. A failed refresh keeps
// the audiences learned before (the best knowledge there is) until the
// next attempt.
func (a *apiAudiences) learn(ctx context.Context, sa types.NamespacedName, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, audienceTimeout)
	defer cancel()
	aud, err := a.discover(ctx, sa)
	a.mu.Lock()
	defer a.mu.Unlock()
	defer close(done)
	a.inflight = nil
	now := a.now()
	if err == nil {
		a.known, a.validUntil = aud, now.Add(audienceRefresh)
		a.failures, a.lastErr = 0, nil
		return
	}
	a.failures++
	backoff := min(time.Second<<min(a.failures-1, 10), audienceBackoffMax)
	a.lastErr, a.failedFor, a.retryAt = err, sa, now.Add(backoff)
	if a.known != nil {
		a.validUntil = a.retryAt
	}
}

// discover mints a no-audience token, of the controller's own
// ServiceAccount if it has one, else (or if that fails) of sa, and reads
// its audiences. A failure with the controller's own ServiceAccount is the
// operator's to fix and goes to the log; the error names sa's only.
func (a *apiAudiences) discover(ctx context.Context, sa types.NamespacedName) ([]string, error) {
	if a.self != nil && *a.self != sa {
		aud, err := a.audiencesOf(ctx, *a.self)
		if err == nil {
			return aud, nil
		}
		log.FromContext(ctx).Error(err, "learn the API server's token audiences with the controller's own ServiceAccount; trying the store's")
	}
	return a.audiencesOf(ctx, sa)
}

func (a *apiAudiences) audiencesOf(ctx context.Context, sa types.NamespacedName) ([]string, error) {
	jwt, err := a.mint(ctx, sa)
	if err == nil {
		var aud []string
		if aud, err = tokenAudiences(jwt); err == nil {
			return aud, nil
		}
	}
	return nil, fmt.Errorf("learn the API server's token audiences with a token of service account %s: %w", sa, err)
}

// tokenAudiences returns the aud claim of a JWT, which RFC 7519 allows to
// be one string or an array of strings. The signature is not checked: the
// token comes straight from the API server, and only what the API server
// put in it is asked. Errors never quote the token.
func tokenAudiences(jwt string) ([]string, error) {
	if len(jwt) > maxTokenBytes {
		return nil, fmt.Errorf("token of %d bytes, more than %d", len(jwt), maxTokenBytes)
	}
	_, rest, ok := strings.Cut(jwt, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sig, ".") {
		return nil, errors.New("token is not a JWT (three dot-separated parts)")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errors.New("token payload is not base64url")
	}
	// A map, not a struct: claim names are case-sensitive, and
	// encoding/json would match "AUD" to a field tagged "aud".
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, errors.New("token payload is not a JSON object")
	}
	raw, ok := claims["aud"]
	if !ok {
		return nil, errors.New("token has no aud claim")
	}
	var aud []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		aud = []string{one}
	} else if err := json.Unmarshal(raw, &aud); err != nil {
		return nil, errors.New("token aud claim is neither a string nor an array of strings")
	}
	if len(aud) == 0 || slices.Contains(aud, "") {
		return nil, errors.New("token aud claim is empty")
	}
	return aud, nil
}
