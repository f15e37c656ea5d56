package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/internal/devenv"
	"github.com/sealsync/sealsync/internal/manifest"
)

// cluster is one envtest API server and unthrottled clients for it: the
// bench's own traffic must never be what limits a measurement.
type cluster struct {
	env *devenv.Env
	// config reaches the API server as an administrator, without
	// client-side rate limiting.
	config *rest.Config
	// client writes and watches typed objects, sealsync's included.
	client client.WithWatch
	// clientset requests tokens and asks the server's version.
	clientset kubernetes.Interface
	// controlPlane are the PIDs of kube-apiserver and etcd, which compete
	// for the same cores as the controllers.
	controlPlane []int
}

// startCluster starts an envtest API server and registers its stop with c.
func startCluster(c *cleanups) (*cluster, error) {
	env, err := devenv.StartEnv()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	c.add(func() {
		progress("stopping the API server")
		if err := env.Stop(); err != nil {
			progress("stop envtest: %v", err)
		}
	})
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // a negative QPS turns the rate limiter off
	cfg.UserAgent = "sealsync-bench"
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: manifest.Scheme})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	k := &cluster{env: env, config: cfg, client: cl, clientset: cs}
	k.controlPlane, err = childPIDs("kube-apiserver", "etcd")
	if err != nil {
		return nil, err
	}
	return k, nil
}

// controlPlaneCPU returns the CPU time kube-apiserver and etcd have used.
func (k *cluster) controlPlaneCPU() (time.Duration, error) {
	var sum time.Duration
	for _, pid := range k.controlPlane {
		st, err := readProcStats(pid)
		if err != nil {
			return 0, err
		}
		sum += st.CPU
	}
	return sum, nil
}

// hostPort returns the API server's host and port.
func (k *cluster) hostPort() (host, port string, err error) {
	u, err := url.Parse(k.config.Host)
	if err != nil {
		return "", "", fmt.Errorf("API server address %q: %w", k.config.Host, err)
	}
	return u.Hostname(), u.Port(), nil
}

// writeKubeconfig writes a kubeconfig for the administrator's client
// certificate into dir and returns its path.
func (k *cluster) writeKubeconfig(dir string) (string, error) {
	cfg := k.env.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o600)
}

// parallel runs do(i) for i in [0, n) on workers goroutines and returns
// the first error; after an error or when ctx ends, no new i is started.
func parallel(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// progress prints a timestamped line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05.0"), fmt.Sprintf(format, args...))
}

// restClientConfig returns the administrator's config for a plain REST
// client, such as one reading the API server's /debug endpoints.
func (k *cluster) restClientConfig() *rest.Config {
	cfg := rest.CopyConfig(k.config)
	cfg.GroupVersion = &schema.GroupVersion{}
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return cfg
}
