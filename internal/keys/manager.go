package keys

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

// Options configure key generation and renewal, with Bitnami's flag
// names and defaults.
type Options struct {
	// Namespace holds the key Secrets (the controller's namespace).
	Namespace string
	// Prefix is the generateName of new key Secrets (--key-prefix).
	Prefix string
	// Bits is the RSA key size (--key-size).
	Bits int
	// ValidFor is the certificate lifetime (--key-ttl).
	ValidFor time.Duration
	// CommonName goes into the certificate (--my-cn).
	CommonName string
	// RenewPeriod is how often a new key is made; 0 turns renewal off
	// (--key-renew-period).
	RenewPeriod time.Duration
	// Cutoff makes a new key at start if the newest is older (--key-cutoff-time).
	Cutoff time.Time
	// Order decides which key is newest (--key-order-priority).
	Order keysecret.Order
	// Labels and Annotations are added to new key Secrets
	// (--privatekey-labels, --privatekey-annotations).
	Labels, Annotations map[string]string
}

// Manager holds the controller's keyring. Every replica loads it from the
// key Secrets and reloads it whenever one is added, relabelled or deleted;
// on the leader its [Renewer] also generates keys: the first one, renewals,
// and those asked for with [keysecret.RenewRequestAnnotation].
type Manager struct {
	opts   Options
	client client.Client // writes key Secrets
	reader client.Reader // the key Secret cache
	api    client.Reader // uncached reads (the unlabelled legacy key)
	synced func(context.Context) bool
	now    func() time.Time
	random io.Reader

	ring atomic.Pointer[crypto.Keyring]
	// loaded is closed once the first load from the cache has happened.
	loaded   chan struct{}
	loadOnce sync.Once

	mu        sync.Mutex
	listeners []func()
	// wake nudges the renewer after a reload.
	wake chan struct{}
	// answered is the newest renewal request this replica generated a key
	// for, which the cache may not show yet. Only the renewer goroutine
	// uses it.
	answered time.Time
}

// secretCache is the cache of key Secrets the manager reads.
type secretCache interface {
	client.Reader
	WaitForCacheSync(ctx context.Context) bool
}

// newManager returns a manager whose keyring is empty until the key
// Secrets are loaded: add it to the controller-runtime manager, which
// starts it.
func newManager(opts Options, c client.Client, keyCache secretCache, api client.Reader) *Manager {
	m := &Manager{
		opts: opts, client: c, reader: keyCache, api: api, synced: keyCache.WaitForCacheSync,
		now: time.Now, random: rand.Reader,
		loaded: make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
	m.ring.Store(crypto.NewKeyring())
	return m
}

// Keyring returns the current keys.
func (m *Manager) Keyring() *crypto.Keyring { return m.ring.Load() }

// OnChange registers f to be called each time the set of keys or their
// status changes. f must not block.
func (m *Manager) OnChange(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listeners = append(m.listeners, f)
}

// NeedLeaderElection is false: every replica serves the keys.
func (m *Manager) NeedLeaderElection() bool { return false }

// Start loads the keys once the key cache has synced, so that the keyring
// is known even when there is no key Secret to trigger a reload, then
// waits for ctx.
func (m *Manager) Start(ctx context.Context) error {
	ctx = logr.NewContext(ctx, logr.FromContextOrDiscard(ctx).WithName("keys"))
	if !m.synced(ctx) {
		return nil
	}
	for {
		err := m.reload(ctx)
		if err == nil {
			break
		}
		logr.FromContextOrDiscard(ctx).Error(err, "initial key load failed, retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	<-ctx.Done()
	return nil
}

// Reconcile reloads every key Secret from the cache. It is the reconciler
// of key Secrets; the request is ignored because the keyring is rebuilt as
// a whole.
func (m *Manager) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, m.reload(ctx)
}

// reload rebuilds the keyring from the key Secrets.
func (m *Manager) reload(ctx context.Context) error {
	_, keys, err := m.keySecrets(ctx, m.reader)
	if err != nil {
		return err
	}
	m.store(ctx, crypto.NewKeyring(keys...))
	m.loadOnce.Do(func() { close(m.loaded) })
	// Any change to a key Secret, even one that leaves the keys as they
	// are (a renewal request), is a reason for the renewer to look.
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// keySecrets reads the key Secrets through reader, labelled ones and
// Bitnami's legacy unlabelled one, and returns those that hold a valid key
// with their keys, in the same order. A broken or foreign Secret is logged
// and skipped: it must not take every key down.
func (m *Manager) keySecrets(ctx context.Context, reader client.Reader) ([]corev1.Secret, []*crypto.Key, error) {
	log := logr.FromContextOrDiscard(ctx)
	var list corev1.SecretList
	if err := reader.List(ctx, &list, client.InNamespace(m.opts.Namespace), client.HasLabels{keysecret.Label}); err != nil {
		return nil, nil, fmt.Errorf("list key secrets: %w", err)
	}
	secrets := list.Items
	// A legacy Bitnami key Secret carries no label and is not in the
	// cache: read it directly.
	var legacy corev1.Secret
	if err := m.api.Get(ctx, types.NamespacedName{Namespace: m.opts.Namespace, Name: keysecret.LegacyName}, &legacy); err == nil {
		if _, labelled := legacy.Labels[keysecret.Label]; !labelled {
			secrets = append(secrets, legacy)
		}
	} else if !apierrors.IsNotFound(err) {
		log.V(1).Info("cannot read the legacy key secret", "error", err.Error())
	}
	var valid []corev1.Secret
	var keys []*crypto.Key
	for i := range secrets {
		k, err := keysecret.ToKey(&secrets[i], m.opts.Order)
		if err != nil {
			log.Error(err, "skipping key secret", "secret", secrets[i].Name)
			continue
		}
		valid = append(valid, secrets[i])
		keys = append(keys, k)
	}
	return valid, keys, nil
}

// store swaps in ring and tells subscribers if the set of keys or their
// status changed.
func (m *Manager) store(ctx context.Context, ring *crypto.Keyring) {
	old := m.ring.Swap(ring)
	if sameKeys(old, ring) {
		return
	}
	latest := "none"
	if k, err := ring.Latest(); err == nil {
		latest = k.ID.Short()
	}
	logr.FromContextOrDiscard(ctx).Info("keyring changed", "keys", ring.Len(), "latest", latest)
	m.mu.Lock()
	listeners := slices.Clone(m.listeners)
	m.mu.Unlock()
	for _, f := range listeners {
		f()
	}
}

func sameKeys(a, b *crypto.Keyring) bool {
	ka, kb := a.Keys(), b.Keys()
	if len(ka) != len(kb) {
		return false
	}
	for i := range ka {
		if ka[i].ID != kb[i].ID || ka[i].Status != kb[i].Status {
			return false
		}
	}
	return true
}
