package externalsecrets_test

import (
	"context"
	"os"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

// env is this package's control plane, one for all its tests.
var env *testkit.Env

// logs keeps every line the controllers log, for the tests that check no
// secret shows there and count retries.
var logs = &testkit.LogBuffer{}

func TestMain(m *testing.M) { os.Exit(controllertest.Main(m, &env, logs)) }

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
