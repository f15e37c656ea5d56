package keys_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/testkit"
)

var env *testkit.Env

var ctx = context.Background()

var errNotYet = errors.New("not yet")

func TestMain(m *testing.M) {
	os.Exit(testkit.Main(m, &env))
}

// testBits keeps key generation fast in tests; the default 4096 is covered
// by package crypto.
const testBits = 2048

// options are what the operator's flags give the key lifecycle.
type options struct {
	keys   keys.Options
	backup keys.BackupOptions
}

type optionFunc func(*options)

// running is the key lifecycle of one controller replica, started for one
// test as controller.New wires it, with its key Secrets in keyNS.
type running struct {
	*keys.Manager
	keyNS  string
	cancel context.CancelFunc
	done   chan error
}

// setup starts the key lifecycle in a namespace of its own.
func setup(t *testing.T, opts ...optionFunc) (*testkit.Env, *running) {
	t.Helper()
	e := testkit.RequireEnv(t, env)
	return e, start(t, e.Namespace(t), opts...)
}

// start runs the key lifecycle with its keys in keyNS: the manager on a
// controller-runtime manager of its own, with no leader election, so
// that the leader-only parts run too.
func start(t *testing.T, keyNS string, opts ...optionFunc) *running {
	t.Helper()
	o := options{keys: keys.Options{
		Namespace: keyNS, Prefix: keysecret.DefaultPrefix, Bits: testBits,
		ValidFor: crypto.DefaultCertValidity,
	}}
	for _, f := range opts {
		f(&o)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{keyNS: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Every test starts a controller named "keys".
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.Setup(mgr, o.keys)
	if err != nil {
		t.Fatal(err)
	}
	if o.backup.Recipients != "" {
		if err := mgr.Add(m.Backup(mgr.GetClient(), o.backup)); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	r := &running{Manager: m, keyNS: keyNS, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- mgr.Start(runCtx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	<-r.done
}

// latestKey waits for an active key and returns it.
func (r *running) latestKey(t *testing.T) *crypto.Key {
	t.Helper()
	var k *crypto.Key
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var err error
		k, err = r.Keyring().Latest()
		return err == nil, err
	})
	return k
}

// waitKeyring waits until check passes on the current keyring.
func waitKeyring(t *testing.T, r *running, check func(*crypto.Keyring) error) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() (bool, error) {
		err := check(r.Keyring())
		return err == nil, err
	})
}

// keySecrets lists the labelled key Secrets in ns.
func keySecrets(t *testing.T, e *testkit.Env, ns string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := e.Client.List(ctx, &list, client.InNamespace(ns), client.HasLabels{keysecret.Label}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func create(t *testing.T, e *testkit.Env, obj client.Object) {
	t.Helper()
	if err := e.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

// newKey makes a key whose certificate starts at notBefore, as one made
// elsewhere and restored would be.
func newKey(t *testing.T, notBefore time.Time) *crypto.Key {
	t.Helper()
	priv, err := crypto.GenerateKey(rand.Reader, testBits)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := crypto.NewCertificate(rand.Reader, priv, notBefore, crypto.DefaultCertValidity, "test")
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.NewKey(priv, cert, crypto.StatusActive, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// unseals checks that what k seals unseals with the keyring r serves now,
// as the SealedSecret reconciler unseals with it.
func unseals(t *testing.T, r *running, k *crypto.Key) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, StringData: map[string]string{"k": "v"}}
	ss, err := sealing.NewSealer(rand.Reader, &k.PrivateKey.PublicKey).SealSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := sealing.Unseal(r.Keyring(), ss, sealing.Options{})
	if err != nil {
		t.Fatalf("a value sealed with key %s does not unseal: %v", k.ID.Short(), err)
	}
	if string(got.Data["k"]) != "v" {
		t.Fatalf("unsealed %q", got.Data["k"])
	}
}
