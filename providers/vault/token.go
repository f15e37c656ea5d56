package vault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	vaultapi "github.com/hashicorp/vault/api"
)

// renewAt is the fraction of a token's lease that must be left for the
// token to be used as it is: below it the client renews (or logs in
// again) before the request. A third leaves room for a slow renewal and a
// few failed ones before the token expires.
const renewAt = 3 // renew when the remaining TTL < lease / renewAt

// refreshBackoff is how long a client keeps using a stale but unexpired
// token after failing to renew or replace it, before trying again.
const refreshBackoff = 5 * time.Second

// errClosed is returned by a client used after Close.
var errClosed = errors.New("vault client is closed")

// token is a Vault token and what the client knows of its lifetime.
type token struct {
	id string
	// gen counts the tokens a session has held; a request that failed
	// with generation g replaces the token only if it is still g.
	gen uint64
	// owned is set for a token the session logged in for: it may renew
	// and must revoke it. A given token (tokenSecretRef) is never renewed
	// or revoked.
	owned     bool
	renewable bool
	// lease is the TTL granted at login; 0 for a token that never expires.
	lease time.Duration
	// expires is when the token's current TTL runs out (zero with lease 0).
	expires time.Time
}

// usable reports whether t is an owned token that has not expired at
// now, fresh or not.
func (t token) usable(now time.Time) bool {
	return t.id != "" && t.owned && t.lease > 0 && t.expires.After(now)
}

// fresh reports whether t can be used at now without renewing it.
func (t token) fresh(now time.Time) bool {
	if t.id == "" {
		return false
	}
	if !t.owned || t.lease == 0 {
		return true
	}
	return t.expires.Sub(now) > t.lease/renewAt
}

// session holds one client's token and keeps it usable: it renews the
// token before it runs low and logs in again when renewal is impossible or
// Vault refuses the token. It is safe for concurrent use.
type session struct {
	// api reaches Vault in the auth namespace and carries no token: each
	// request sets its own on a shallow copy.
	api *vaultapi.Client
	// login obtains a new token; nil when the client is given one
	// (reload) or sends none.
	login func(ctx context.Context, api *vaultapi.Client) (*vaultapi.SecretAuth, error)
	// reload reads the given token again (tokenSecretRef); nil otherwise.
	reload func(ctx context.Context) (string, error)
	now    func() time.Time

	mu     sync.Mutex
	tok    token
	closed bool
	// refreshRetry is when a stale but usable token may be refreshed
	// again after a failed attempt.
	refreshRetry time.Time

	// refresh is a one-slot semaphore held by the goroutine that renews or
	// replaces the token: callers that find the token stale at the same
	// time wait for that one refresh and use its result instead of each
	// logging in.
	refresh chan struct{}
}

func newSession(api *vaultapi.Client, now func() time.Time) *session {
	return &session{api: api, now: now, refresh: make(chan struct{}, 1)}
}

// snapshot returns the current token.
func (s *session) snapshot() (token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return token{}, errClosed
	}
	return s.tok, nil
}

// set installs a new token from a login answer or a given token.
func (s *session) set(t token) {
	s.mu.Lock()
	t.gen = s.tok.gen + 1
	s.tok = t
	s.refreshRetry = time.Time{}
	s.mu.Unlock()
}

func (s *session) retryAfter() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshRetry
}

// acquire takes the refresh slot, giving up when ctx ends.
func (s *session) acquire(ctx context.Context) error {
	select {
	case s.refresh <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session) release() { <-s.refresh }

// start obtains the first token: a login, the given token, or none.
func (s *session) start(ctx context.Context) error {
	switch {
	case s.login != nil:
		return s.logIn(ctx)
	case s.reload != nil:
		id, err := s.reload(ctx)
		if err != nil {
			return err
		}
		s.set(token{id: id})
	}
	return nil
}

// current returns a token fit for a request, renewing or replacing a
// stale one first.
func (s *session) current(ctx context.Context) (token, error) {
	t, err := s.snapshot()
	if err != nil {
		return token{}, err
	}
	now := s.now()
	if s.login == nil || t.fresh(now) || (t.usable(now) && now.Before(s.retryAfter())) {
		return t, nil
	}
	if err := s.acquire(ctx); err != nil {
		return token{}, err
	}
	defer s.release()
	// Another caller may have refreshed the token while this one waited.
	if t, err = s.snapshot(); err != nil || t.fresh(s.now()) {
		return t, err
	}
	if err := s.renewOrLogIn(ctx, t); err != nil {
		if now := s.now(); t.usable(now) {
			// Vault may be briefly unreachable or refusing logins: the old
			// token still works until it expires, so the request decides,
			// and the next attempt waits a little rather than pile onto a
			// struggling Vault with every request.
			s.mu.Lock()
			s.refreshRetry = now.Add(refreshBackoff)
			s.mu.Unlock()
			logr.FromContextOrDiscard(ctx).V(1).Info("refreshing the vault token failed; using the current one", "error", err.Error())
			return t, nil
		}
		return token{}, err
	}
	return s.snapshot()
}

// renewOrLogIn refreshes the stale owned token t. The caller holds the
// refresh slot.
func (s *session) renewOrLogIn(ctx context.Context, t token) error {
	log := logr.FromContextOrDiscard(ctx)
	if start := s.now(); t.renewable && t.expires.After(start) {
		auth, err := s.renewSelf(ctx, t)
		switch {
		case err != nil:
			log.V(1).Info("vault token renewal failed; logging in again", "error", err.Error())
		case time.Duration(auth.LeaseDuration)*time.Second <= t.lease/renewAt:
			// Vault caps a renewal at the token's max TTL: once the cap
			// is this close, only a new login helps.
			log.V(1).Info("vault token is near its max TTL; logging in again")
		default:
			s.mu.Lock()
			// Same token, same generation: requests in flight with it stay
			// valid. The lease counts from before the request, erring
			// towards renewing early.
			s.tok.expires = start.Add(time.Duration(auth.LeaseDuration) * time.Second)
			s.tok.renewable = auth.Renewable
			s.mu.Unlock()
			log.V(1).Info("renewed vault token", "ttl", time.Duration(auth.LeaseDuration)*time.Second)
			return nil
		}
	}
	return s.logIn(ctx)
}

// renewSelf extends t's lease by its original length.
func (s *session) renewSelf(ctx context.Context, t token) (*vaultapi.SecretAuth, error) {
	sec, err := s.withToken(t).Auth().Token().RenewSelfWithContext(ctx, int(t.lease/time.Second))
	if err != nil {
		return nil, describe(err)
	}
	if sec == nil || sec.Auth == nil {
		return nil, errors.New("vault answered the renewal without a lease")
	}
	return sec.Auth, nil
}

// logIn replaces the token with a new login's. The caller holds the
// refresh slot, or is NewClient, which no one else sees yet. The old token
// is left to expire rather than revoked: requests in flight may still hold
// it.
func (s *session) logIn(ctx context.Context) error {
	start := s.now()
	auth, err := s.login(ctx, s.withToken(token{}))
	if err != nil {
		return err
	}
	lease := time.Duration(auth.LeaseDuration) * time.Second
	t := token{id: auth.ClientToken, owned: true, renewable: auth.Renewable, lease: lease}
	if lease > 0 {
		// Counted from before the request, so the client errs towards
		// renewing early.
		t.expires = start.Add(lease)
	}
	s.set(t)
	logr.FromContextOrDiscard(ctx).V(1).Info("logged in to vault", "ttl", lease, "renewable", auth.Renewable)
	return nil
}

// replace gets a new token after Vault refused stale: a new login, or the
// given token read again in case it was rotated. It reports whether the
// token changed.
func (s *session) replace(ctx context.Context, stale token) (bool, error) {
	if s.login == nil && s.reload == nil {
		return false, nil
	}
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	t, err := s.snapshot()
	if err != nil {
		return false, err
	}
	if t.gen != stale.gen {
		return true, nil // replaced while this caller waited
	}
	if s.login != nil {
		return true, s.logIn(ctx)
	}
	id, err := s.reload(ctx)
	if err != nil || id == stale.id {
		return false, err
	}
	s.set(token{id: id})
	return true, nil
}

// alive asks Vault whether t is still a valid token.
func (s *session) alive(ctx context.Context, t token) (bool, error) {
	_, err := s.withToken(t).Auth().Token().LookupSelfWithContext(ctx)
	switch {
	case err == nil:
		return true, nil
	case isForbidden(err):
		return false, nil
	}
	return false, describe(err)
}

// do runs one request with a fit token. When Vault answers 403 it checks
// the token: a live token means a policy denial, returned as it is; a dead
// one (revoked, expired, or lost by a restarted dev server) is replaced
// and the request runs once more.
func (s *session) do(ctx context.Context, api *vaultapi.Client, req func(api *vaultapi.Client) error) error {
	t, err := s.current(ctx)
	if err != nil {
		return err
	}
	err = req(withToken(api, t))
	if !isForbidden(err) || (s.login == nil && s.reload == nil) {
		return err
	}
	if ok, aerr := s.alive(ctx, t); aerr != nil || ok {
		return err
	}
	changed, rerr := s.replace(ctx, t)
	if rerr != nil {
		return fmt.Errorf("%w (and getting a new token failed: %w)", err, rerr)
	}
	if !changed {
		return err
	}
	if t, err = s.current(ctx); err != nil {
		return err
	}
	return req(withToken(api, t))
}

// close revokes an owned token and makes the session unusable. It waits
// for a refresh in progress so that a token obtained concurrently is not
// leaked.
func (s *session) close(ctx context.Context) error {
	if err := s.acquire(ctx); err != nil {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		return fmt.Errorf("close vault client without revoking its token: %w", err)
	}
	defer s.release()
	s.mu.Lock()
	t, closed := s.tok, s.closed
	s.closed = true
	s.tok = token{}
	s.mu.Unlock()
	if closed || !t.owned || (t.lease > 0 && !t.expires.After(s.now())) {
		return nil
	}
	err := s.withToken(t).Auth().Token().RevokeSelfWithContext(ctx, "")
	if err != nil && !isForbidden(err) { // 403: already revoked or expired
		return fmt.Errorf("revoke vault token: %w", describe(err))
	}
	return nil
}

// withToken returns the auth-namespace client carrying t.
func (s *session) withToken(t token) *vaultapi.Client { return withToken(s.api, t) }

// withToken returns a shallow copy of api that sends t (none when empty),
// so that concurrent requests never share a mutable token.
func withToken(api *vaultapi.Client, t token) *vaultapi.Client {
	c := api.WithNamespace(api.Namespace())
	if t.id == "" {
		c.ClearToken()
	} else {
		c.SetToken(t.id)
	}
	return c
}
