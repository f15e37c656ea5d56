package externalsecrets

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/server"
)

// RefreshRequestedAnnotation is what POST /v1/refresh sets on an
// ExternalSecret, to the time of the request: like any change of an
// ExternalSecret's annotations (ESO's force-sync among them), it makes the
// leader refresh it at once, reading the provider as it is now. It is not
// ESO's force-sync annotation, which a ClusterExternalSecret copies to its
// ExternalSecrets and a Git repository may hold: a value of our own fights
// neither, and says when the last refresh was asked for.
const RefreshRequestedAnnotation = "sealsync.dev/refresh-requested"

// refreshFieldOwner is the field manager of the annotation.
const refreshFieldOwner = "sealsync-refresh"

// Defaults of [RefreshOptions].
const (
	// DefaultRefreshMaxObjects is the most ExternalSecrets one request may
	// refresh.
	DefaultRefreshMaxObjects = 100
	// DefaultRefreshAudience is the token audience POST /v1/refresh
	// accepts by default.
	DefaultRefreshAudience = "sealsync"
)

// RefreshOptions configure POST /v1/refresh.
type RefreshOptions struct {
	// Audiences are the token audiences accepted; a token must carry one
	// of them. Empty accepts the API server's own audiences, that is
	// tokens that also work against the Kubernetes API: the endpoint is
	// plain HTTP, and a token sent to it should be good for nothing else.
	Audiences []string
	// MaxObjects caps the ExternalSecrets one request may name through a
	// store; a store used by more gets 413 before anything is asked or
	// patched. Default [DefaultRefreshMaxObjects].
	MaxObjects int
	// Namespaces are the namespaces this controller serves; nil means
	// all. An ExternalSecret elsewhere is not found.
	Namespaces []string
}

// Refresher serves POST /v1/refresh (package server) on every replica:
// it authenticates the caller with a TokenReview, checks with
// SubjectAccessReviews that they may patch each ExternalSecret, and sets
// [RefreshRequestedAnnotation] on those. The refresh itself is the
// leader's: the annotation change reaches it through its watch, wherever
// the request came in.
//
// It reads ExternalSecrets from the manager's cache (through the store
// index Setup adds), so it needs Setup to have run.
type Refresher struct {
	client     client.Client
	audiences  []string
	maxObjects int
	namespaces map[string]bool
	now        func() time.Time
}

var _ server.Refresher = (*Refresher)(nil)

// NewRefresher returns a Refresher that reads through c (cached
// ExternalSecrets, indexed by Setup), asks the API server with c, and
// patches with it.
func NewRefresher(c client.Client, opts RefreshOptions) *Refresher {
	r := &Refresher{client: c, audiences: opts.Audiences, maxObjects: opts.MaxObjects, now: time.Now}
	if r.maxObjects <= 0 {
		r.maxObjects = DefaultRefreshMaxObjects
	}
	if opts.Namespaces != nil {
		r.namespaces = map[string]bool{}
		for _, ns := range opts.Namespaces {
			r.namespaces[ns] = true
		}
	}
	return r
}

// Authenticate asks the API server who holds token. With audiences set,
// the API server checks the token was issued for one of them, and the
// answer must say so: an authenticator that ignores audiences would
// otherwise accept any token.
func (r *Refresher) Authenticate(ctx context.Context, token string) (server.Caller, error) {
	tr := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token, Audiences: r.audiences}}
	if err := r.client.Create(ctx, tr); err != nil {
		return server.Caller{}, fmt.Errorf("token review: %w", err)
	}
	if !tr.Status.Authenticated {
		return server.Caller{}, server.ErrUnauthenticated
	}
	if len(r.audiences) > 0 && !slices.ContainsFunc(tr.Status.Audiences, func(a string) bool { return slices.Contains(r.audiences, a) }) {
		return server.Caller{}, server.ErrUnauthenticated
	}
	u := tr.Status.User
	c := server.Caller{Username: u.Username, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		c.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return c, nil
}

// Refresh requests a refresh of what req names, as far as caller may
// patch it.
//
// One ExternalSecret: the caller must be allowed to patch it, or the
// answer is 403 whether it exists or not; then 404 if it does not.
//
// A store: the ExternalSecrets that use it (in req.Namespace, for a
// ClusterSecretStore, if given) are listed from the cache; more than
// MaxObjects get 413 before any is looked at further. The caller's right
// to patch is checked once per namespace, and per object in a namespace
// where the caller may not patch every ExternalSecret (RBAC
// resourceNames). Those it may patch are refreshed; the others are left
// alone and not mentioned. Refusing the whole request instead would make
// a shared ClusterSecretStore unusable for any one tenant, and naming the
// others would tell the caller which namespaces use a store they have no
// rights in.
func (r *Refresher) Refresh(ctx context.Context, caller server.Caller, req server.RefreshRequest) (server.RefreshResult, error) {
	if req.Kind == server.RefreshExternalSecret {
		return r.refreshOne(ctx, caller, types.NamespacedName{Namespace: req.Namespace, Name: req.Name})
	}
	list, err := r.usersOf(ctx, req)
	if err != nil {
		return server.RefreshResult{}, err
	}
	if len(list) > r.maxObjects {
		return server.RefreshResult{}, fmt.Errorf("%w: %s %s is used by more than %d ExternalSecrets; name a namespace or refresh them one by one",
			server.ErrTooManyObjects, req.Kind, refName(req), r.maxObjects)
	}
	allowed, err := r.allowed(ctx, caller, list)
	if err != nil {
		return server.RefreshResult{}, err
	}
	return r.request(ctx, allowed), nil
}

func (r *Refresher) refreshOne(ctx context.Context, caller server.Caller, key types.NamespacedName) (server.RefreshResult, error) {
	ok, err := r.mayPatch(ctx, caller, key.Namespace, key.Name)
	if err != nil {
		return server.RefreshResult{}, err
	}
	if !ok {
		return server.RefreshResult{}, fmt.Errorf("%w: %s may not patch ExternalSecret %s", server.ErrForbidden, caller.Username, key)
	}
	notFound := fmt.Errorf("%w: ExternalSecret %s", server.ErrNotFound, key)
	if !r.serves(key.Namespace) {
		return server.RefreshResult{}, notFound
	}
	es := &esv1.ExternalSecret{}
	if err := r.client.Get(ctx, key, es); apierrors.IsNotFound(err) {
		return server.RefreshResult{}, notFound
	} else if err != nil {
		return server.RefreshResult{}, fmt.Errorf("read ExternalSecret %s: %w", key, err)
	}
	return r.request(ctx, []*esv1.ExternalSecret{es}), nil
}

// usersOf lists the ExternalSecrets that use the store req names, from
// the cache, in the namespaces this controller serves.
func (r *Refresher) usersOf(ctx context.Context, req server.RefreshRequest) ([]*esv1.ExternalSecret, error) {
	kind := esv1.SecretStoreKind
	if req.Kind == server.RefreshClusterSecretStore {
		kind = esv1.ClusterSecretStoreKind
	}
	opts := []client.ListOption{client.MatchingFields{indexStore: storeIndexValue(kind, req.Name)}}
	if req.Namespace != "" {
		if !r.serves(req.Namespace) {
			return nil, nil
		}
		opts = append(opts, client.InNamespace(req.Namespace))
	}
	var list esv1.ExternalSecretList
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("list the ExternalSecrets of %s %s: %w", req.Kind, refName(req), err)
	}
	out := make([]*esv1.ExternalSecret, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// allowed keeps the ExternalSecrets of list that caller may patch: at
// most one SubjectAccessReview per namespace, plus one per object of a
// namespace where the caller may not patch them all.
func (r *Refresher) allowed(ctx context.Context, caller server.Caller, list []*esv1.ExternalSecret) ([]*esv1.ExternalSecret, error) {
	byNS := map[string][]*esv1.ExternalSecret{}
	for _, es := range list {
		byNS[es.Namespace] = append(byNS[es.Namespace], es)
	}
	var out []*esv1.ExternalSecret
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		all, err := r.mayPatch(ctx, caller, ns, "")
		if err != nil {
			return nil, err
		}
		for _, es := range byNS[ns] {
			ok := all
			if !ok {
				if ok, err = r.mayPatch(ctx, caller, ns, es.Name); err != nil {
					return nil, err
				}
			}
			if ok {
				out = append(out, es)
			}
		}
	}
	return out, nil
}

// mayPatch asks whether caller may patch ExternalSecret ns/name; an empty
// name asks about every ExternalSecret of ns.
func (r *Refresher) mayPatch(ctx context.Context, caller server.Caller, ns, name string) (bool, error) {
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: caller.Username, UID: caller.UID, Groups: caller.Groups,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Verb: "patch", Group: esv1.GroupName, Resource: "externalsecrets", Name: name,
		},
	}}
	if len(caller.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authzv1.ExtraValue, len(caller.Extra))
		for k, v := range caller.Extra {
			sar.Spec.Extra[k] = v
		}
	}
	if err := r.client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	return sar.Status.Allowed && !sar.Status.Denied, nil
}

// request sets RefreshRequestedAnnotation on each ExternalSecret that a
// refresh would change, one merge patch each, and says what it did. A
// patch that fails is reported with the API server's reason only; once
// the request's time is up the rest are reported as not attempted.
func (r *Refresher) request(ctx context.Context, list []*esv1.ExternalSecret) server.RefreshResult {
	slices.SortFunc(list, func(a, b *esv1.ExternalSecret) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	stamp := r.now().UTC().Format(time.RFC3339Nano)
	patch := client.RawPatch(types.MergePatchType,
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, RefreshRequestedAnnotation, stamp))
	res := server.RefreshResult{Refreshed: []server.ObjectRef{}}
	for _, es := range list {
		ref := server.ObjectRef{Namespace: es.Namespace, Name: es.Name}
		if reason := notRefreshable(es); reason != "" {
			res.Skipped = append(res.Skipped, server.SkippedRef{ObjectRef: ref, Reason: reason})
			continue
		}
		if ctx.Err() != nil {
			res.Skipped = append(res.Skipped, server.SkippedRef{ObjectRef: ref, Reason: "not attempted: the request ran out of time"})
			continue
		}
		// Patched as metadata only: the object's spec and status, read
		// from the cache, are not sent back.
		target := &esv1.ExternalSecret{}
		target.Namespace, target.Name = es.Namespace, es.Name
		err := r.client.Patch(ctx, target, patch, client.FieldOwner(refreshFieldOwner))
		switch {
		case apierrors.IsNotFound(err):
			res.Skipped = append(res.Skipped, server.SkippedRef{ObjectRef: ref, Reason: "deleted"})
		case err != nil:
			res.Skipped = append(res.Skipped, server.SkippedRef{ObjectRef: ref,
				Reason: fmt.Sprintf("the API server refused the patch (%s)", apierrors.ReasonForError(err))})
		default:
			res.Refreshed = append(res.Refreshed, ref)
		}
	}
	return res
}

// notRefreshable says why a refresh request would change nothing for es,
// or "".
func notRefreshable(es *esv1.ExternalSecret) string {
	switch {
	case !es.DeletionTimestamp.IsZero():
		return "being deleted"
	case es.Spec.RefreshPolicy == esv1.RefreshPolicyCreatedOnce && es.Status.SyncedResourceVersion != "":
		// Decide refreshes it only before its first sync, as ESO does.
		return "refreshPolicy CreatedOnce: synced once, never refreshed"
	}
	return ""
}

// serves reports whether the controller serves namespace ns.
func (r *Refresher) serves(ns string) bool { return r.namespaces == nil || r.namespaces[ns] }

func refName(req server.RefreshRequest) string {
	if req.Namespace == "" {
		return req.Name
	}
	return req.Namespace + "/" + req.Name
}
