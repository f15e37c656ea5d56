package externalsecrets_test

import (
	"context"
	"io"
	"os"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// env is this package's control plane, one for all its tests.
var env *testkit.Env

// logs keeps every line the controllers log, for the tests that check no
// secret shows there and count retries.
var logs = &testkit.LogBuffer{}

func TestMain(m *testing.M) {
	// Debug is the most verbose level cmd/controller offers: no secret may
	// show in debug lines (events among them) either.
	log.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(os.Stderr, logs)), zap.Level(zapcore.DebugLevel)))
	os.Exit(testkit.Main(m, &env))
}

var ctx = context.Background()

// setup starts the whole controller with its own key and workload
// namespaces (r.KeyNS, r.NS).
func setup(t *testing.T, opts ...controllertest.Option) (*testkit.Env, *controllertest.Running) {
	t.Helper()
	return controllertest.Setup(t, env, opts...)
}

// start starts the whole controller for keyNS and ns, as a restart would.
func start(t *testing.T, keyNS, ns string, opts ...controllertest.Option) *controllertest.Running {
	t.Helper()
	return controllertest.Start(t, env.Config, keyNS, ns, opts...)
}

// startAs is start with the controller reaching the API server through
// cfg, as some identity other than the test's administrator.
func startAs(t *testing.T, cfg *rest.Config, keyNS, ns string, opts ...controllertest.Option) *controllertest.Running {
	t.Helper()
	return controllertest.Start(t, cfg, keyNS, ns, opts...)
}

// fakeStore is a SecretStore "fake" of the fake provider (tenant input).
const fakeStore = controllertest.FakeStore

// The waits and fixtures of controllertest, by short names.
var (
	create     = controllertest.Create
	apply      = controllertest.Apply
	waitSecret = controllertest.WaitSecret
	hasData    = controllertest.HasData
	waitES     = controllertest.WaitES
	waitEvent  = controllertest.WaitEvent
)
