package controller_test

import (
	"context"
	"errors"
	"os"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller/controllertest"
	"github.com/sealsync/sealsync/internal/testkit"
)

var env *testkit.Env

// logs keeps every line the controllers log, for the tests that check no
// secret shows there.
var logs = &testkit.LogBuffer{}

func TestMain(m *testing.M) { os.Exit(controllertest.Main(m, &env, logs)) }

var ctx = context.Background()

// testBits keeps key generation fast in tests.
const testBits = controllertest.Bits

// running is a controller started for one test (controllertest.Running).
type running struct {
	*controllertest.Running
	keyNS, ns string
}

func (r *running) stop()                              { r.Stop() }
func (r *running) latestKey(t *testing.T) *crypto.Key { return r.LatestKey(t) }

type optionFunc = controllertest.Option

// start runs a controller whose keys live in keyNS and which handles
// SealedSecrets in ns.
func start(t *testing.T, keyNS, ns string, opts ...optionFunc) *running {
	t.Helper()
	return &running{Running: controllertest.Start(t, env.Config, keyNS, ns, opts...), keyNS: keyNS, ns: ns}
}

// setup starts a controller with its own key and workload namespaces.
func setup(t *testing.T, opts ...optionFunc) (*testkit.Env, *running) {
	t.Helper()
	e := testkit.RequireEnv(t, env)
	return e, start(t, e.Namespace(t), e.Namespace(t), opts...)
}

// The waits and fixtures this package shares with the product packages'
// suites.
var (
	seal       = controllertest.Seal
	create     = controllertest.Create
	waitSecret = controllertest.WaitSecret
	hasData    = controllertest.HasData
	waitSynced = controllertest.WaitSynced
	waitEvent  = controllertest.WaitEvent
	updateSS   = controllertest.UpdateSS
)

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

var errNotYet = errors.New("not yet")
