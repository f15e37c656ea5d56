package testkit

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/internal/devenv"
)

// Env is a running envtest control plane: a real kube-apiserver and etcd
// with sealsync's CRDs installed (see [devenv.Env] for its fields), with
// what tests add to it.
type Env struct {
	*devenv.Env
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
	e, err := devenv.StartEnv()
	if err != nil {
		return nil, err
	}
	return &Env{e}, nil
}

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

// WaitForGrant waits until ServiceAccount saNS/sa may do what attrs
// says. The API server's RBAC authorizer reads Roles and bindings from
// its own informers, so a grant takes effect some time after it is
// written; a test that relies on it waits for it, as an operator would.
func (e *Env) WaitForGrant(tb testing.TB, saNS, sa string, attrs authzv1.ResourceAttributes) {
	tb.Helper()
	e.waitForReview(tb, saNS, sa, authzv1.SubjectAccessReviewSpec{ResourceAttributes: &attrs},
		fmt.Sprintf("%s %s/%s in %q", attrs.Verb, attrs.Resource, attrs.Name, attrs.Namespace))
}

// WaitForPathGrant is [Env.WaitForGrant] for a non-resource URL, such as
// get /metrics. It matters all the more to servers that authorize
// through the API server with a cache (controller-runtime's metrics
// filter keeps a denial for 30 s): asked too early, they go on denying
// long after the grant holds.
func (e *Env) WaitForPathGrant(tb testing.TB, saNS, sa string, attrs authzv1.NonResourceAttributes) {
	tb.Helper()
	e.waitForReview(tb, saNS, sa, authzv1.SubjectAccessReviewSpec{NonResourceAttributes: &attrs},
		fmt.Sprintf("%s %s", attrs.Verb, attrs.Path))
}

// waitForReview waits until a SubjectAccessReview of spec for
// ServiceAccount saNS/sa is allowed; what describes spec in the failure.
func (e *Env) waitForReview(tb testing.TB, saNS, sa string, spec authzv1.SubjectAccessReviewSpec, what string) {
	tb.Helper()
	spec.User = "system:serviceaccount:" + saNS + ":" + sa
	spec.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + saNS, "system:authenticated"}
	Eventually(tb, 30*time.Second, func() (bool, error) {
		sar := &authzv1.SubjectAccessReview{Spec: spec}
		if err := e.Client.Create(context.Background(), sar); err != nil {
			return false, fmt.Errorf("subject access review: %w", err)
		}
		return sar.Status.Allowed, fmt.Errorf("%s may not %s yet", spec.User, what)
	})
}

// NonLoopbackIP returns an IPv4 address of this machine that the API
// server's service proxy will dial (see [devenv.NonLoopbackIP]).
func NonLoopbackIP() (net.IP, error) { return devenv.NonLoopbackIP() }

// ExposeService makes a server listening on ip:port reachable as Service
// ns/name (port "http", 8080) through the API server's service proxy (see
// [devenv.ExposeService]).
func ExposeService(ctx context.Context, c client.Client, ns, name string, ip net.IP, port int32) error {
	return devenv.ExposeService(ctx, c, ns, name, ip, port)
}
