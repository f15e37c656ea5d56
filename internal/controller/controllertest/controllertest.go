// Package controllertest starts the whole controller (both products and
// the keys) against an envtest control plane for the suites of
// internal/controller and its product packages, and holds the waits and
// fixtures those suites share. Only tests import it: it is never linked
// into a binary.
//
// Each test starts its own controller, watching namespaces of its own, so
// that tests do not see each other's objects.
package controllertest

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

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/keys"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/server"
	"github.com/sealsync/sealsync/internal/testkit"
)

// Bits keeps key generation fast in tests; the default 4096 is covered by
// package crypto.
const Bits = 2048

// Wait is how long the waits of this package wait: generous, for a loaded
// machine.
const Wait = 20 * time.Second

// TestServer serves a test controller's HTTP API on a free loopback port,
// so that tests running at once do not compete for one.
var TestServer = server.Options{Addr: "127.0.0.1:0"}

// Running is a controller started for one test, watching its own
// namespaces only.
type Running struct {
	*controller.Controller
	// KeyNS holds its keys; NS the objects it handles.
	KeyNS, NS string
	cancel    context.CancelFunc
	done      chan error
}

// Option changes the options a test starts the controller with.
type Option func(*controller.Options)

// Start runs a controller whose keys live in keyNS and which handles the
// objects of ns, reaching the API server through cfg, until the test
// ends. It has no leader election and no metrics endpoint, and serves its
// HTTP API on a free port.
func Start(t *testing.T, cfg *rest.Config, keyNS, ns string, opts ...Option) *Running {
	t.Helper()
	o := controller.Options{
		Keys: keys.Options{
			Namespace: keyNS, Prefix: keysecret.DefaultPrefix, Bits: Bits,
			ValidFor: crypto.DefaultCertValidity, RenewPeriod: 0,
		},
		MetricsAddr: "0", Server: TestServer, AllNamespaces: false, AdditionalNamespaces: []string{ns},
		AcceptV1Data: true, UpdateStatus: true, MaxUnsealRetries: 5, Workers: 4,
	}
	for _, f := range opts {
		f(&o)
	}
	return StartWith(t, cfg, o)
}

// StartWith runs a controller built from o exactly, reaching the API
// server through cfg, until the test ends. Its NS is the first namespace
// o watches besides its own.
func StartWith(t *testing.T, cfg *rest.Config, o controller.Options) *Running {
	t.Helper()
	c, err := controller.New(cfg, o, controller.SharedProcess())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Controller: c, KeyNS: o.Keys.Namespace, cancel: cancel, done: make(chan error, 1)}
	if len(o.AdditionalNamespaces) > 0 {
		r.NS = o.AdditionalNamespaces[0]
	}
	go func() { r.done <- c.Manager.Start(ctx) }()
	t.Cleanup(r.Stop)
	return r
}

// Setup starts a controller with a key namespace and a workload namespace
// of its own.
func Setup(t *testing.T, env *testkit.Env, opts ...Option) (*testkit.Env, *Running) {
	t.Helper()
	e := testkit.RequireEnv(t, env)
	return e, Start(t, e.Config, e.Namespace(t), e.Namespace(t), opts...)
}

// Stop stops the controller and waits until it has; later calls do
// nothing.
func (r *Running) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	<-r.done
}

// LatestKey waits for the controller to hold an active key and returns it.
func (r *Running) LatestKey(t *testing.T) *crypto.Key {
	t.Helper()
	var k *crypto.Key
	testkit.Eventually(t, 30*time.Second, func() (bool, error) {
		var err error
		k, err = r.Keys.Keyring().Latest()
		return err == nil, err
	})
	return k
}

// Seal seals data for ns/name with key k in scope, as the tenant's kubeseal
// would.
func Seal(t *testing.T, k *crypto.Key, ns, name string, scope crypto.Scope, data map[string]string) *ssv1alpha1.SealedSecret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	s.Annotations = sealing.SetScope(nil, scope)
	ss, err := sealing.NewSealer(rand.Reader, &k.PrivateKey.PublicKey).SealSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// Create creates obj or fails the test.
func Create(t *testing.T, e *testkit.Env, obj client.Object) {
	t.Helper()
	if err := e.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// WaitSecret waits until the Secret ns/name exists and check (if any)
// passes.
func WaitSecret(t *testing.T, e *testkit.Env, ns, name string, check func(*corev1.Secret) error) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	testkit.Eventually(t, Wait, func() (bool, error) {
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

// HasData checks that a Secret holds want, among other keys.
func HasData(want map[string]string) func(*corev1.Secret) error {
	return func(s *corev1.Secret) error {
		for k, v := range want {
			if string(s.Data[k]) != v {
				return fmt.Errorf("data %s is %q, want %q", k, s.Data[k], v)
			}
		}
		return nil
	}
}

// WaitSynced waits for a SealedSecret's Synced condition to have status
// and a message containing msg, at the object's current generation.
func WaitSynced(t *testing.T, e *testkit.Env, ns, name string, status corev1.ConditionStatus, msg string) *ssv1alpha1.SealedSecret {
	t.Helper()
	ss := &ssv1alpha1.SealedSecret{}
	testkit.Eventually(t, Wait, func() (bool, error) {
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

// UpdateSS applies mutate to the current SealedSecret, retrying on
// conflicts with the controller's status writes.
func UpdateSS(t *testing.T, e *testkit.Env, ns, name string, mutate func(*ssv1alpha1.SealedSecret)) {
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

// WaitEvent waits for an event with reason about the object named name.
func WaitEvent(t *testing.T, e *testkit.Env, ns, name, reason string) {
	t.Helper()
	testkit.Eventually(t, Wait, func() (bool, error) {
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

// EventNotes returns the messages of the events about object name.
func EventNotes(t *testing.T, e *testkit.Env, ns, name string) []string {
	t.Helper()
	var list corev1.EventList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name == name {
			notes = append(notes, ev.Message)
		}
	}
	return notes
}

// Gather returns the metrics of controller-runtime's registry, which every
// controller of the process shares, by name.
func Gather(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// RetriedErrors counts the reconciles of object ns/name that returned an
// error to be retried, in logs (the controllers' log lines, JSON):
// controller-runtime logs "Reconciler error" for every error a reconcile
// returns, and a permanent failure (reconcile.TerminalError, never
// retried) says "terminal error".
func RetriedErrors(logs []byte, ns, name string) int {
	n := 0
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, `"Reconciler error"`) && !strings.Contains(line, `"terminal error: `) &&
			strings.Contains(line, `"namespace":"`+ns+`"`) && strings.Contains(line, `"name":"`+name+`"`) {
			n++
		}
	}
	return n
}

// TokenSecret is a Secret as Kubernetes' token controller fills it for
// service account sa, created by the operator (envtest runs no token
// controller), with extra annotations.
func TokenSecret(ns, name, sa string, annotations map[string]string) *corev1.Secret {
	a := map[string]string{corev1.ServiceAccountNameKey: sa}
	for k, v := range annotations {
		a[k] = v
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: a},
		Type:       corev1.SecretTypeServiceAccountToken,
		Data:       map[string][]byte{corev1.ServiceAccountTokenKey: []byte(testkit.Canary())},
	}
}

// AssertUntouched fails the test if the Secret before was written since it
// was read.
func AssertUntouched(t *testing.T, e *testkit.Env, before *corev1.Secret) {
	t.Helper()
	var now corev1.Secret
	if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(before), &now); err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != before.ResourceVersion {
		t.Errorf("Secret %s was written", before.Name)
	}
}

// Greedy is a template that goes over the render budget: a range over a
// huge integer, which without a budget runs for hours.
const Greedy = `{{ range 100000000000 }}{{ end }}`

// Quiet is how long the tests watch for work that should not happen, such
// as renders over budget done again.
const Quiet = 3 * time.Second

// Main runs a controller test package from its TestMain, as
// os.Exit(controllertest.Main(m, &env, logs)): one control plane for all
// its tests (testkit.Main), and the controllers' log lines, at debug
// level, on stderr and in logs, for the tests that check no secret shows
// there. Debug is the most verbose level cmd/controller offers: no secret
// may show in debug lines (events among them) either. go test prints a
// passing package's output only with -v.
func Main(m *testing.M, env **testkit.Env, logs *testkit.LogBuffer) int {
	log.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(os.Stderr, logs)), zap.Level(zapcore.DebugLevel)))
	return testkit.Main(m, env)
}
