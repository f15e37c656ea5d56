package externalsecrets

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	"github.com/sealsync/sealsync/internal/esdata"
	"github.com/sealsync/sealsync/providers"
)

var (
	errOtherClass    = errors.New("store is served by another controller class")
	errStoreNotReady = errors.New("SecretStore is not ready")
	errNotAllowed    = errors.New("namespace not allowed by the ClusterSecretStore's conditions")
	// errClusterStoresOff: the operator turned ClusterSecretStores off
	// (ESO's --enable-cluster-store-reconciler=false).
	errClusterStoresOff = errors.New("ClusterSecretStores are turned off (--enable-cluster-store-reconciler=false)")
)

// resolvedStore is a store an ExternalSecret may read, with its client.
type resolvedStore struct {
	store    providers.Store
	client   providers.Client
	identity string
}

// resolveStore finds the store ref names (nil: the ExternalSecret's own),
// checks class, conditions and readiness, and returns its client.
func (r *Reconciler) resolveStore(ctx context.Context, es *esv1.ExternalSecret, ref *esv1.SecretStoreRef) (*resolvedStore, error) {
	if ref == nil {
		ref = &es.Spec.SecretStoreRef
	}
	kind := ref.Kind
	if kind == "" {
		kind = esv1.SecretStoreKind
	}
	var s store
	key := types.NamespacedName{Name: ref.Name}
	switch kind {
	case esv1.SecretStoreKind:
		s, key.Namespace = namespacedStore{&esv1.SecretStore{}}, es.Namespace
	case esv1.ClusterSecretStoreKind:
		if r.NoClusterStores {
			return nil, errClusterStoresOff
		}
		s = clusterStore{&esv1.ClusterSecretStore{}}
	default:
		return nil, fmt.Errorf("unknown store kind %q", kind)
	}
	if err := r.Client.Get(ctx, key, s.object()); err != nil {
		return nil, fmt.Errorf("could not get %s %q: %w", kind, ref.Name, err)
	}
	if c := s.spec().Controller; c != "" && c != r.ControllerClass {
		return nil, errOtherClass
	}
	if kind == esv1.ClusterSecretStoreKind {
		ok, err := r.namespaceAllowed(ctx, es.Namespace, s.spec().Conditions)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("using ClusterSecretStore %q from namespace %q: %w", ref.Name, es.Namespace, errNotAllowed)
		}
	}
	if r.FloodGate && !isStoreReady(s.status()) && !storeValidatedPerUse(s.status()) {
		return nil, fmt.Errorf("%s %q: %w", kind, ref.Name, errStoreNotReady)
	}
	ps := providers.Store{Kind: kind, Name: s.GetName(), Namespace: es.Namespace, Spec: s.spec()}
	c, id, err := r.Clients.Client(ctx, ps, storeSpecHash(s))
	if err != nil {
		return nil, fmt.Errorf("could not build a client for %s %q: %w", kind, ref.Name, err)
	}
	return &resolvedStore{store: ps, client: c, identity: id}, nil
}

// storeValidatedPerUse is true for ClusterSecretStores with referent
// authentication, which the store controller cannot validate alone.
func storeValidatedPerUse(st *esv1.SecretStoreStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == esv1.SecretStoreReady && c.Reason == esv1.ReasonValidationUnknown {
			return true
		}
	}
	return false
}

// namespaceAllowed applies ClusterSecretStore conditions: no conditions
// admit every namespace; otherwise any matching condition admits it.
func (r *Reconciler) namespaceAllowed(ctx context.Context, namespace string, conds []esv1.ClusterSecretStoreCondition) (bool, error) {
	if len(conds) == 0 {
		return true, nil
	}
	var ns *corev1.Namespace
	for _, c := range conds {
		for _, n := range c.Namespaces {
			if n == namespace {
				return true, nil
			}
		}
		for _, expr := range c.NamespaceRegexes {
			re, err := regexp.Compile(expr)
			if err != nil {
				return false, fmt.Errorf("ClusterSecretStore condition: bad namespace regex %q: %w", expr, err)
			}
			if re.MatchString(namespace) {
				return true, nil
			}
		}
		if c.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(c.NamespaceSelector)
			if err != nil {
				return false, fmt.Errorf("ClusterSecretStore condition: %w", err)
			}
			if ns == nil {
				ns = &corev1.Namespace{}
				if err := r.APIReader.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
					return false, err
				}
			}
			if sel.Matches(labels.Set(ns.Labels)) {
				return true, nil
			}
		}
	}
	return false, nil
}

// esFetcher gives BuildDesired the clients of the stores an ExternalSecret
// reads, its own and those of sourceRef.storeRef entries.
type esFetcher struct {
	r   *Reconciler
	es  *esv1.ExternalSecret
	own *resolvedStore
	// notBefore is the oldest provider read this refresh may reuse (see
	// esdata.NotBefore); zero reuses any within the dedupe TTL.
	notBefore time.Time
	// slot is the refresh slot of the reads of the ExternalSecret's own
	// store (see esdata.InSlot). Slots are aligned to that store's
	// identity: the reads of other stores are not remembered by it.
	slot esdata.Slot
}

func (f *esFetcher) Client(ctx context.Context, ref *esv1.SecretStoreRef) (providers.Client, error) {
	if ref == nil || (ref.Name == f.es.Spec.SecretStoreRef.Name && ref.Kind == f.es.Spec.SecretStoreRef.Kind) {
		return esdata.InSlot(esdata.NotBefore(f.own.client, f.notBefore), f.slot), nil
	}
	st, err := f.r.resolveStore(ctx, f.es, ref)
	if err != nil {
		return nil, err
	}
	return esdata.NotBefore(st.client, f.notBefore), nil
}

// templateSources reads templateFrom sources in the ExternalSecret's own
// namespace only.
type templateSources struct {
	api       client.Reader
	namespace string
}

func (t *templateSources) ConfigMap(ctx context.Context, name string) (map[string]string, error) {
	cm := &corev1.ConfigMap{}
	if err := t.api.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: name}, cm); err != nil {
		return nil, fmt.Errorf("templateFrom configmap %q: %w", name, err)
	}
	return cm.Data, nil
}

func (t *templateSources) Secret(ctx context.Context, name string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	if err := t.api.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: name}, s); err != nil {
		return nil, fmt.Errorf("templateFrom secret %q: %w", name, err)
	}
	return s.Data, nil
}
