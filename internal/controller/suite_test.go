package controller_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/testkit"
)

var env *testkit.Env

// logs keeps every line the controllers log, for the tests that check no
// secret shows there.
var logs = &testkit.LogBuffer{}

func TestMain(m *testing.M) {
	// go test prints a passing package's output only with -v. Debug is
	// the most verbose level cmd/controller offers: no secret may show in
	// debug lines (events among them) either.
	log.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(os.Stderr, logs)), zap.Level(zapcore.DebugLevel)))
	os.Exit(testkit.Main(m, &env))
}

// testBits keeps key generation fast in tests; the default 4096 is covered
// by package crypto.
const testBits = 2048

// running is a controller started for one test, watching its own
// namespaces only, so tests do not see each other's objects.
type running struct {
	*controller.Controller
	keyNS, ns string
	cancel    context.CancelFunc
	done      chan error
}

type optionFunc func(*controller.Options)

// start runs a controller whose keys live in keyNS and which handles
// SealedSecrets in ns.
func start(t *testing.T, keyNS, ns string, opts ...optionFunc) *running {
	t.Helper()
	return startAs(t, env.Config, keyNS, ns, opts...)
}

// startAs is start with the controller reaching the API server through
// cfg, as some identity other than the test's administrator.
func startAs(t *testing.T, cfg *rest.Config, keyNS, ns string, opts ...optionFunc) *running {
	t.Helper()
	o := controller.Options{
		Keys: keys.Options{
			Namespace: keyNS, Prefix: keysecret.DefaultPrefix, Bits: testBits,
			ValidFor: crypto.DefaultCertValidity, RenewPeriod: 0,
		},
		MetricsAddr: "0", AllNamespaces: false, AdditionalNamespaces: []string{ns},
		AcceptV1Data: true, UpdateStatus: true, MaxUnsealRetries: 5, Workers: 4,
		SkipNameValidation: true,
	}
	for _, f := range opts {
		f(&o)
	}
	c, err := controller.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Controller: c, keyNS: keyNS, ns: ns, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Manager.Start(ctx) }()
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

// latestKey waits for the controller to hold an active key and returns it.
func (r *running) latestKey(t *testing.T) *crypto.Key {
	t.Helper()
	var k *crypto.Key
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var err error
		k, err = r.Keys.Keyring().Latest()
		return err == nil, err
	})
	return k
}

// setup starts a controller with its own key and workload namespaces.
func setup(t *testing.T, opts ...optionFunc) (*testkit.Env, *running) {
	t.Helper()
	e := testkit.RequireEnv(t, env)
	r := start(t, e.Namespace(t), e.Namespace(t), opts...)
	return e, r
}

// seal seals data for ns/name with key k in scope.
func seal(t *testing.T, k *crypto.Key, ns, name string, scope crypto.Scope, data map[string]string) *ssv1alpha1.SealedSecret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	s.Annotations = sealing.SetScope(nil, scope)
	ss, err := sealing.NewSealer(rand.Reader, &k.PrivateKey.PublicKey).SealSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func create(t *testing.T, e *testkit.Env, obj client.Object) {
	t.Helper()
	if err := e.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// waitSecret waits until the Secret ns/name exists and check passes.
func waitSecret(t *testing.T, e *testkit.Env, ns, name string, check func(*corev1.Secret) error) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	testkit.Eventually(t, 20*time.Second, func() (bool, error) {
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			return false, err
		}
		if check == nil {
			return true, nil
		}
		err := check(s)
		return err == nil, err
	})
	return s
}

func hasData(want map[string]string) func(*corev1.Secret) error {
	return func(s *corev1.Secret) error {
		for k, v := range want {
			if string(s.Data[k]) != v {
				return fmt.Errorf("data %s is %q, want %q", k, s.Data[k], v)
			}
		}
		return nil
	}
}

// waitSynced waits for the Synced condition to have status and a message
// containing msg, at the object's current generation.
func waitSynced(t *testing.T, e *testkit.Env, ns, name string, status corev1.ConditionStatus, msg string) *ssv1alpha1.SealedSecret {
	t.Helper()
	ss := &ssv1alpha1.SealedSecret{}
	testkit.Eventually(t, 20*time.Second, func() (bool, error) {
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ss); err != nil {
			return false, err
		}
		if ss.Status == nil || len(ss.Status.Conditions) == 0 {
			return false, errors.New("no status yet")
		}
		c := ss.Status.Conditions[0]
		if c.Type != ssv1alpha1.SealedSecretSynced || c.Status != status || !strings.Contains(c.Message, msg) || ss.Status.ObservedGeneration != ss.Generation {
			return false, errors.New("condition is " + string(c.Status) + ": " + c.Message)
		}
		return true, nil
	})
	return ss
}

// waitEvent waits for an event with reason about the object named name.
func waitEvent(t *testing.T, e *testkit.Env, ns, name, reason string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() (bool, error) {
		var list corev1.EventList
		if err := e.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.Reason == reason {
				return true, nil
			}
		}
		return false, errors.New("no " + reason + " event yet")
	})
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// updateSS applies mutate to the current SealedSecret, retrying on
// conflicts with the controller's status writes.
func updateSS(t *testing.T, e *testkit.Env, ns, name string, mutate func(*ssv1alpha1.SealedSecret)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur ssv1alpha1.SealedSecret
		if err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &cur); err != nil {
			return err
		}
		mutate(&cur)
		return e.Client.Update(context.Background(), &cur)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var errNotYet = errors.New("not yet")
