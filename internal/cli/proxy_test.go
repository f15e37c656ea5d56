package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/internal/testkit"
)

// env is the package's envtest control plane, nil under -short.
var env *testkit.Env

// controllerName is the Service kubeseal looks for by default.
const controllerName = "sealed-secrets-controller"

// nonLoopbackIP returns an IPv4 address of this machine that is neither
// loopback nor link-local: the API server's service proxy only dials
// endpoints it may, and EndpointSlice validation refuses loopback and
// link-local addresses.
func nonLoopbackIP(tb testing.TB) net.IP {
	tb.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		tb.Fatalf("list interface addresses: %v", err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip := n.IP.To4(); ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return ip
		}
	}
	tb.Fatalf("this machine has no non-loopback IPv4 address among %v: the API server's service proxy cannot reach a test server", addrs)
	return nil
}

// serveController serves h as the sealed-secrets controller in namespace
// ns, reachable through the API server's service proxy exactly as in a
// cluster: a Service named sealed-secrets-controller with a port named
// http, and an EndpointSlice pointing at a Pod whose IP is a non-loopback
// address of this machine, where h listens.
//
// envtest runs no kubelet and no endpoint controllers, so the Pod never
// runs and its status and the EndpointSlice are written here. The API
// server proxies only to endpoints whose targetRef is a Pod of the
// Service's namespace with that IP in status.podIPs.
func serveController(tb testing.TB, ns string, h http.Handler) {
	tb.Helper()
	e := testkit.RequireEnv(tb, env)
	ip := nonLoopbackIP(tb)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		tb.Fatalf("listen on %s: %v", ip, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	port := int32(ln.Addr().(*net.TCPAddr).Port)

	ctx := context.Background()
	c := e.Client
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: controllerName + "-0", Namespace: ns, Labels: map[string]string{"app": controllerName}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "controller", Image: "sealsync.invalid/controller"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		tb.Fatalf("create pod: %v", err)
	}
	pod.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		PodIP:      ip.String(),
		PodIPs:     []corev1.PodIP{{IP: ip.String()}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	if err := c.Status().Update(ctx, pod); err != nil {
		tb.Fatalf("set pod status: %v", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: controllerName, Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Port: 8080, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP,
		}}},
	}
	if err := c.Create(ctx, svc); err != nil {
		tb.Fatalf("create service: %v", err)
	}
	ready := true
	portName := "http"
	tcp := corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: controllerName + "-test", Namespace: ns,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: controllerName,
				discoveryv1.LabelManagedBy:   "sealsync-tests",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &tcp}},
	}
	if err := c.Create(ctx, slice); err != nil {
		tb.Fatalf("create endpointslice: %v", err)
	}

	// The API server finds endpoints through an informer: wait until the
	// proxy reaches h, and report its last answer if it never does.
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		tb.Fatal(err)
	}
	testkit.Eventually(tb, 30*time.Second, func() (bool, error) {
		b, err := cs.CoreV1().Services(ns).ProxyGet("http", controllerName, "http", "/healthz", nil).DoRaw(ctx)
		if err != nil {
			return false, fmt.Errorf("GET /healthz through the service proxy: %w (%s)", err, bytes.TrimSpace(b))
		}
		if string(b) != "ok\n" {
			return false, fmt.Errorf("GET /healthz through the service proxy: %q", b)
		}
		return true, nil
	})
}

// writeKubeconfig writes a kubeconfig for the envtest API server as its
// administrator and returns its path.
func writeKubeconfig(tb testing.TB) string {
	tb.Helper()
	cfg := testkit.RequireEnv(tb, env).Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: "default"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(tb.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// kubeseal runs kubeseal in process with stdin and returns its stdout,
// stderr and exit code.
func kubeseal(stdin []byte, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
