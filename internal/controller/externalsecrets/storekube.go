package externalsecrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/providers"
)

// Errors of store references, with ESO's wording.
var (
	errForeignNamespace = errors.New("namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore")
	errNoName           = errors.New("reference has no name")
)

// storeKube is the Kubernetes access a provider gets for one store: it
// resolves references with ESO's namespace rules and records what it read.
// Credentials are read from the API server, not the cache: they are not
// managed Secrets and are read once per client.
type storeKube struct {
	api   client.Reader
	core  corev1client.CoreV1Interface
	store providers.Store
	// self is the controller's own ServiceAccount when the operator lends
	// it to ClusterSecretStores; nil lends it to none.
	self *types.NamespacedName
	// apiAud refuses tokens for audiences the API server accepts; one for
	// all stores.
	apiAud *apiAudiences

	mu    sync.Mutex
	reads map[string]string // "kind/ns/name" -> resourceVersion (or "" for tokens)
	sums  map[string]string // what was read -> digest of the content
}

var (
	_ esdata.TrackingKube                 = (*storeKube)(nil)
	_ providers.ServiceAccountReader      = (*storeKube)(nil)
	_ providers.ControllerIdentityChecker = (*storeKube)(nil)
)

func newStoreKube(api client.Reader, core corev1client.CoreV1Interface, store providers.Store, self *types.NamespacedName, apiAud *apiAudiences) *storeKube {
	return &storeKube{api: api, core: core, store: store, self: self, apiAud: apiAud, reads: map[string]string{}, sums: map[string]string{}}
}

// namespaceFor applies ESO's rule: a SecretStore reaches only its own
// namespace; a ClusterSecretStore reaches the referenced namespace, or the
// ExternalSecret's when none is given.
func (k *storeKube) namespaceFor(ns *string) (string, error) {
	if k.store.Kind == esv1.ClusterSecretStoreKind {
		if ns != nil && *ns != "" {
			return *ns, nil
		}
		if k.store.Namespace == "" {
			return "", errReferentAuth
		}
		return k.store.Namespace, nil
	}
	if ns != nil && *ns != "" && *ns != k.store.Namespace {
		return "", errForeignNamespace
	}
	return k.store.Namespace, nil
}

func (k *storeKube) record(key, rv string, content []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads[key] = rv
	sum := sha256.Sum256(content)
	k.sums[key] = hex.EncodeToString(sum[:])
}

// SecretKey returns one key of a referenced Secret.
func (k *storeKube) SecretKey(ctx context.Context, ref esmeta.SecretKeySelector) ([]byte, error) {
	if ref.Name == "" {
		return nil, errNoName
	}
	ns, err := k.namespaceFor(ref.Namespace)
	if err != nil {
		return nil, err
	}
	s := &corev1.Secret{}
	if err := k.api.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, s); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", ns, ref.Name, ref.Key)
	}
	k.record("Secret/"+ns+"/"+ref.Name, s.ResourceVersion, append([]byte(ref.Key+"\x00"), v...))
	return v, nil
}

// ConfigMapKey returns one key of a ConfigMap.
func (k *storeKube) ConfigMapKey(ctx context.Context, namespace, name, key string) ([]byte, error) {
	if name == "" {
		return nil, errNoName
	}
	var nsp *string
	if namespace != "" {
		nsp = &namespace
	}
	ns, err := k.namespaceFor(nsp)
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{}
	if err := k.api.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", ns, name, err)
	}
	v, ok := cm.Data[key]
	if !ok {
		b, ok := cm.BinaryData[key]
		if !ok {
			return nil, fmt.Errorf("configmap %s/%s has no key %q", ns, name, key)
		}
		v = string(b)
	}
	k.record("ConfigMap/"+ns+"/"+name, cm.ResourceVersion, []byte(key+"\x00"+v))
	return []byte(v), nil
}

// ServiceAccountToken requests a token for a service account the store
// names. The token itself is not part of the fingerprint (each request
// returns a new one); the account and audiences are.
func (k *storeKube) ServiceAccountToken(ctx context.Context, ref esmeta.ServiceAccountSelector, audiences []string, expirationSeconds int64) (string, error) {
	if ref.Name == "" {
		return "", errNoName
	}
	ns, err := k.namespaceFor(ref.Namespace)
	if err != nil {
		return "", err
	}
	return k.requestToken(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, audiences, expirationSeconds)
}

// ControllerToken requests a token of the controller's own ServiceAccount,
// if the store may use it (see controllerIdentity). A fresh token for the
// store's audience, rather than the mounted one: the mounted token is
// valid for the API server and for up to a year, so whoever runs the
// store's server could act as the controller with it.
func (k *storeKube) ControllerToken(ctx context.Context, audiences []string) (string, error) {
	sa, err := k.controllerIdentity()
	if err != nil {
		return "", err
	}
	return k.requestToken(ctx, sa, audiences, providers.MinTokenExpiration)
}

// ControllerIdentityAllowed says whether the store may act as the
// controller itself through credentials a provider finds around the
// controller process (the AWS SDK's default chain): the same rule as
// ControllerToken.
func (k *storeKube) ControllerIdentityAllowed() error {
	_, err := k.controllerIdentity()
	return err
}

// ServiceAccountAnnotations returns the annotations of a ServiceAccount
// the store names (AWS IRSA's role ARN), under the namespace rules of
// every reference. Its resourceVersion is recorded, so a changed
// annotation rebuilds the store's client.
func (k *storeKube) ServiceAccountAnnotations(ctx context.Context, ref esmeta.ServiceAccountSelector) (map[string]string, error) {
	if ref.Name == "" {
		return nil, errNoName
	}
	ns, err := k.namespaceFor(ref.Namespace)
	if err != nil {
		return nil, err
	}
	sa := &corev1.ServiceAccount{}
	if err := k.api.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, sa); err != nil {
		return nil, fmt.Errorf("service account %s/%s: %w", ns, ref.Name, err)
	}
	var content []byte
	for _, key := range slices.Sorted(maps.Keys(sa.Annotations)) {
		content = fmt.Appendf(content, "%s=%s\n", key, sa.Annotations[key])
	}
	k.record(serviceAccountMetadata+"/"+ns+"/"+ref.Name, sa.ResourceVersion, content)
	return sa.Annotations, nil
}

// serviceAccountMetadata keys the reads of a ServiceAccount's annotations,
// apart from its tokens (keyed "ServiceAccount"), which have no version to
// compare.
const serviceAccountMetadata = "ServiceAccountMetadata"

// controllerIdentity is the one place that decides whether a store may act
// as the controller: every way to the controller's own credentials goes
// through it. A SecretStore never may: its author is a tenant who picks
// the server the credentials go to. A ClusterSecretStore may when the
// operator said so (--allow-cluster-store-controller-identity).
func (k *storeKube) controllerIdentity() (types.NamespacedName, error) {
	if k.store.Kind != esv1.ClusterSecretStoreKind {
		return types.NamespacedName{}, fmt.Errorf("%w: a SecretStore must name its own credentials", providers.ErrControllerIdentity)
	}
	if k.self == nil {
		return types.NamespacedName{}, fmt.Errorf("%w: the operator has not started the controller with --%s", providers.ErrControllerIdentity, AllowControllerIdentityFlag)
	}
	return *k.self, nil
}

// ownServiceAccount asks the API server who the controller is (a
// SelfSubjectReview, which every authenticated user may make) and returns
// the ServiceAccount it runs as. Asking, rather than decoding the mounted
// token, also works out of the cluster with a ServiceAccount's kubeconfig.
func ownServiceAccount(ctx context.Context, cfg *rest.Config) (types.NamespacedName, error) {
	c, err := authv1client.NewForConfig(cfg)
	if err != nil {
		return types.NamespacedName{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := c.SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return types.NamespacedName{}, fmt.Errorf("find the controller's own identity: %w", err)
	}
	sa, ok := serviceAccountOf(r.Status.UserInfo.Username)
	if !ok {
		return types.NamespacedName{}, fmt.Errorf("the controller runs as %q, not as a ServiceAccount", r.Status.UserInfo.Username)
	}
	return sa, nil
}

// serviceAccountOf parses a ServiceAccount's user name,
// system:serviceaccount:<namespace>:<name>.
func serviceAccountOf(user string) (types.NamespacedName, bool) {
	nsName, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return types.NamespacedName{}, false
	}
	ns, name, ok := strings.Cut(nsName, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}

// requestToken asks the TokenRequest API for a token of sa. The token
// goes to the store's server, so it must not work against the Kubernetes
// API: an empty audience list is refused (the API server would fill in
// its own audience), and so is any audience the API server accepts, which
// a store may list (a tenant naming a ServiceAccount more privileged than
// themselves would otherwise get its API access sent where they choose).
func (k *storeKube) requestToken(ctx context.Context, sa types.NamespacedName, audiences []string, expirationSeconds int64) (string, error) {
	aud := slices.Compact(slices.Sorted(slices.Values(audiences)))
	if len(aud) == 0 || aud[0] == "" {
		return "", fmt.Errorf("token for service account %s: no audience (the API server's own is never requested)", sa)
	}
	if err := k.apiAud.refuse(ctx, sa, aud); err != nil {
		return "", fmt.Errorf("token for service account %s: %w", sa, err)
	}
	if expirationSeconds <= 0 {
		expirationSeconds = providers.MinTokenExpiration
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: aud, ExpirationSeconds: &expirationSeconds}}
	tr, err := k.core.ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s: %w", sa, err)
	}
	k.record("ServiceAccount/"+sa.Namespace+"/"+sa.Name, "", []byte(strings.Join(aud, ",")))
	return tr.Status.Token, nil
}

// Fingerprint digests the content of everything read.
func (k *storeKube) Fingerprint() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := make([]string, 0, len(k.sums))
	for key := range k.sums {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, key := range keys {
		fmt.Fprintf(h, "%s=%s\n", key, k.sums[key])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Changed reports whether a Secret or ConfigMap read has a new
// resourceVersion (or is gone), reading metadata only.
func (k *storeKube) Changed(ctx context.Context) (bool, error) {
	k.mu.Lock()
	reads := make(map[string]string, len(k.reads))
	for key, rv := range k.reads {
		reads[key] = rv
	}
	k.mu.Unlock()
	for key, rv := range reads {
		kind, rest, _ := strings.Cut(key, "/")
		ns, name, _ := strings.Cut(rest, "/")
		switch kind {
		case "ServiceAccount":
			continue
		case serviceAccountMetadata:
			kind = "ServiceAccount"
		}
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		if err := k.api.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, m); err != nil {
			if client.IgnoreNotFound(err) == nil {
				return true, nil
			}
			return false, err
		}
		if m.ResourceVersion != rv {
			return true, nil
		}
	}
	return false, nil
}
