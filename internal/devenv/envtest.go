package devenv

import (
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
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
