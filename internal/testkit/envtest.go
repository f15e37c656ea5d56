package testkit

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/sealsync/sealsync/internal/manifest"
)

// Env is a running envtest control plane: a real kube-apiserver and etcd
// with sealsync's CRDs installed.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is an uncached client for setting up and checking tests.
	Client client.Client
	// Scheme knows the core types and sealsync's APIs.
	Scheme *runtime.Scheme
	// CRDDir is the folder the CRDs were installed from.
	CRDDir string

	env *envtest.Environment
}

// Main starts one control plane for a test package, runs its tests and
// stops it; call it from TestMain as os.Exit(testkit.Main(m, &env)).
// Under -short no control plane starts, *env stays nil and tests that need
// it skip through [RequireEnv].
func Main(m *testing.M, env **Env) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	e, err := StartEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testkit: start envtest: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testkit: stop envtest: %v\n", err)
	}
	return code
}

// StartEnv starts a control plane with sealsync's CRDs installed.
func StartEnv() (*Env, error) {
	dir, err := LookupToolDir("envtest")
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	crds := filepath.Join(root, "config", "crd", "bases")
	te := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDDirectoryPaths:        []string{crds},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: manifest.Scheme})
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: manifest.Scheme, CRDDir: crds, env: te}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// RequireEnv skips the test under -short and fails it if the control plane
// did not start.
func RequireEnv(tb testing.TB, e *Env) *Env {
	tb.Helper()
	SkipIfShort(tb, "the envtest control plane")
	if e == nil {
		tb.Fatal("envtest control plane is not running: call testkit.Main from TestMain")
	}
	return e
}

// Namespace creates a namespace with a random name for one test and deletes
// it when the test ends.
func (e *Env) Namespace(tb testing.TB) string {
	tb.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + utilrand.String(8)}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		tb.Fatalf("create namespace: %v", err)
	}
	tb.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// Eventually polls cond every interval until it returns true or timeout
// passes, then fails the test with the last error cond reported.
func Eventually(tb testing.TB, timeout time.Duration, cond func() (bool, error)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %v: %v", timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
