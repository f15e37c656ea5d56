package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Refresher carries out POST /v1/refresh; package externalsecrets
// implements it. It reaches the API server, so it is the caller's side
// (the controller's wiring) that supplies it: this package links no
// Kubernetes client.
type Refresher interface {
	// Authenticate returns who holds token, as the API server's
	// TokenReview says, or an error wrapping [ErrUnauthenticated] when
	// the API server does not accept it. Any other error means the
	// question could not be asked.
	Authenticate(ctx context.Context, token string) (Caller, error)
	// Refresh asks for a refresh of the ExternalSecrets req names that
	// caller may patch. It returns an error wrapping [ErrForbidden],
	// [ErrNotFound] or [ErrTooManyObjects] for what the caller should
	// change; the error's text goes to the caller and must carry nothing
	// but what the request itself named.
	Refresh(ctx context.Context, caller Caller, req RefreshRequest) (RefreshResult, error)
}

// Errors a [Refresher] returns for what the caller did, each answered with
// its own HTTP status.
var (
	// ErrUnauthenticated: the bearer token is not one the API server
	// accepts (401).
	ErrUnauthenticated = errors.New("the bearer token is not valid")
	// ErrForbidden: the caller may not patch the ExternalSecret it named
	// (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: the ExternalSecret named does not exist, or not in a
	// namespace this controller serves (404).
	ErrNotFound = errors.New("not found")
	// ErrTooManyObjects: the store is used by more ExternalSecrets than
	// one request may refresh (413).
	ErrTooManyObjects = errors.New("too many ExternalSecrets for one request")
)

// Caller is who sent a request, as the API server's TokenReview
// describes them: what a SubjectAccessReview needs to ask what they may
// do.
type Caller struct {
	// Username is the authenticated user name, such as
	// system:serviceaccount:ci:deployer.
	Username string
	// UID is the user's UID, if the authenticator gives one.
	UID string
	// Groups are the user's groups.
	Groups []string
	// Extra is what else the authenticator said about the user.
	Extra map[string][]string
}

// The kinds a [RefreshRequest] may name.
const (
	// RefreshExternalSecret names one ExternalSecret by namespace and
	// name.
	RefreshExternalSecret = "ExternalSecret"
	// RefreshSecretStore names a SecretStore by namespace and name: every
	// ExternalSecret of that namespace that uses it.
	RefreshSecretStore = "SecretStore"
	// RefreshClusterSecretStore names a ClusterSecretStore by name: every
	// ExternalSecret that uses it, or only those of the namespace given.
	RefreshClusterSecretStore = "ClusterSecretStore"
)

// RefreshRequest is the body of POST /v1/refresh, in JSON:
//
//	{"kind": "ExternalSecret", "namespace": "apps", "name": "db"}
//	{"kind": "SecretStore", "namespace": "apps", "name": "vault"}
//	{"kind": "ClusterSecretStore", "name": "vault"}
//	{"kind": "ClusterSecretStore", "name": "vault", "namespace": "apps"}
type RefreshRequest struct {
	// Kind is [RefreshExternalSecret], [RefreshSecretStore] or
	// [RefreshClusterSecretStore].
	Kind string `json:"kind"`
	// Namespace is the object's namespace; for a ClusterSecretStore,
	// optional, it keeps the refresh to that namespace's ExternalSecrets.
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
}

// RefreshResult is the body of a 200 answer to POST /v1/refresh.
type RefreshResult struct {
	// Refreshed are the ExternalSecrets whose refresh was requested. The
	// controller's leader reads their providers as soon as it gets to
	// them; their status says when it has.
	Refreshed []ObjectRef `json:"refreshed"`
	// Skipped are ExternalSecrets the caller may patch that were not
	// refreshed, and why.
	Skipped []SkippedRef `json:"skipped,omitempty"`
}

// ObjectRef is a namespaced object's namespace and name.
type ObjectRef struct {
	// Namespace is the object's namespace.
	Namespace string `json:"namespace"`
	// Name is the object's name.
	Name string `json:"name"`
}

// SkippedRef is an ExternalSecret that was not refreshed, and why.
type SkippedRef struct {
	ObjectRef
	// Reason says why, in a sentence that quotes no data.
	Reason string `json:"reason"`
}

const (
	// maxRefreshBodyBytes caps a /v1/refresh body: three names fit in a
	// few hundred bytes.
	maxRefreshBodyBytes = 4 << 10
	// maxConcurrentRefreshes is how many /v1/refresh requests, from all
	// callers together, may be asking the API server at once. Each costs
	// a TokenReview, and up to a few hundred SubjectAccessReviews and
	// patches for a store-wide request.
	maxConcurrentRefreshes = 4
	// refreshTimeout bounds the API server calls of one request.
	refreshTimeout = 30 * time.Second
)

// refresh serves POST /v1/refresh. It authenticates the caller's bearer
// token with a TokenReview before it looks at the body, then rate limits
// the caller by user name as well as by address: an address is only what
// the request claims.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	token, ok := bearerToken(r)
	if !ok {
		s.unauthenticated(w, "a bearer token is required (Authorization: Bearer <ServiceAccount token>)")
		return
	}
	body, ok := s.readBody(w, r, routeRefresh, min(s.opts.MaxBodyBytes, maxRefreshBodyBytes))
	if !ok {
		return
	}
	defer body.release()
	// Taken after the body is read, so that slow uploads hold no slot.
	release, ok := s.acquire(w, s.refreshing, routeRefresh)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), refreshTimeout)
	defer cancel()

	caller, err := s.opts.Refresher.Authenticate(ctx, token)
	switch {
	case errors.Is(err, ErrUnauthenticated):
		s.unauthenticated(w, "the bearer token is not valid")
		return
	case err != nil:
		s.log.Error(err, "refresh: cannot authenticate the caller")
		http.Error(w, "cannot authenticate the caller: the API server did not answer", http.StatusServiceUnavailable)
		return
	}
	if wait, ok := s.limiter.allowUser(routeRefresh, caller.Username); !ok {
		s.log.V(1).Info("rate limited", "path", routeRefresh, "user", caller.Username)
		tooMany(w, wait, "too many requests: rate limit exceeded")
		return
	}
	req, err := decodeRefreshRequest(body.b)
	if err != nil {
		s.badRequest(w, routeRefresh, err)
		return
	}
	res, err := s.opts.Refresher.Refresh(ctx, caller, req)
	status := http.StatusOK
	switch {
	case errors.Is(err, ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrTooManyObjects):
		status = http.StatusRequestEntityTooLarge
	case err != nil:
		s.log.Error(err, "refresh failed", "user", caller.Username, "kind", req.Kind, "namespace", req.Namespace, "name", req.Name)
		http.Error(w, "the refresh could not be requested; the controller's log says why", http.StatusInternalServerError)
		return
	}
	if status != http.StatusOK {
		s.log.V(1).Info("refresh refused", "user", caller.Username, "kind", req.Kind, "namespace", req.Namespace, "name", req.Name, "error", err.Error())
		http.Error(w, err.Error(), status)
		return
	}
	// Who asked to refresh what is worth an audit line.
	s.log.Info("refresh requested", "user", caller.Username, "kind", req.Kind, "namespace", req.Namespace, "name", req.Name,
		"refreshed", len(res.Refreshed), "skipped", len(res.Skipped))
	if res.Refreshed == nil {
		res.Refreshed = []ObjectRef{}
	}
	out, err := json.Marshal(res)
	if err != nil {
		s.log.Error(err, "refresh: encode the answer")
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(out, '\n'))
}

// unauthenticated answers 401 with the challenge RFC 6750 asks for.
func (s *Server) unauthenticated(w http.ResponseWriter, msg string) {
	s.log.V(1).Info("unauthenticated", "path", routeRefresh)
	closeUnread(w)
	w.Header().Set("WWW-Authenticate", `Bearer realm="sealsync"`)
	http.Error(w, msg, http.StatusUnauthorized)
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (the scheme in any case, RFC 7235).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && !strings.ContainsAny(token, " \t")
}

// decodeRefreshRequest decodes and checks one RefreshRequest. Its errors
// name the fields, never quote the body.
func decodeRefreshRequest(b []byte) (RefreshRequest, error) {
	var req RefreshRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return RefreshRequest{}, errors.New(`the body must be one JSON object {"kind": ..., "namespace": ..., "name": ...}`)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return RefreshRequest{}, errors.New("the body must hold one JSON object and nothing after it")
	}
	switch req.Kind {
	case RefreshExternalSecret, RefreshSecretStore:
		if req.Namespace == "" {
			return RefreshRequest{}, fmt.Errorf("a %s needs a namespace", req.Kind)
		}
	case RefreshClusterSecretStore:
	default:
		return RefreshRequest{}, fmt.Errorf("kind must be %s, %s or %s", RefreshExternalSecret, RefreshSecretStore, RefreshClusterSecretStore)
	}
	if req.Namespace != "" && len(validation.IsDNS1123Label(req.Namespace)) > 0 {
		return RefreshRequest{}, errors.New("namespace is not a valid namespace name")
	}
	if len(validation.IsDNS1123Subdomain(req.Name)) > 0 {
		return RefreshRequest{}, errors.New("name is not a valid object name")
	}
	return req, nil
}
