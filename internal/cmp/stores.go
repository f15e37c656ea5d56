package cmp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/sopsx"
	"github.com/sealsync/sealsync/providers"
)

// The layout of a project's folder under Config.StoresDir.
const (
	// storeFile is the project's store: a SecretStore manifest, as ESO
	// users write them; only its name and spec are used.
	storeFile = "store.yaml"
	// secretsDir holds the files a store's secretRefs name:
	// secrets/<name>/<key>, as a Kubernetes Secret volume lays them out.
	secretsDir = "secrets"
	// configMapsDir holds configmaps/<name>/<key> the same way.
	configMapsDir = "configmaps"
	// maxConfigFileSize bounds store.yaml and each credential file.
	maxConfigFileSize = 1 << 20
)

// ErrNoStore is wrapped when placeholders need a store and the project
// has none.
var ErrNoStore = errors.New("no secret store is configured for the project")

// OpenStore returns a client of the secret store the operator configured
// for project, in dir/<project>/store.yaml, built by the provider its
// spec names. The store's credential references resolve to files of the
// same folder ([fileKube]), never to the Kubernetes API: the sidecar has
// no identity of its own to lend.
func OpenStore(ctx context.Context, dir, project string, reg *providers.Registry) (providers.Client, error) {
	if dir == "" {
		return nil, ErrNoStore
	}
	if err := sopsx.ValidateProject(project); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoStore, err)
	}
	pdir := filepath.Join(dir, project)
	b, err := readLimited(filepath.Join(pdir, storeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s has no %s)", ErrNoStore, project, storeFile)
	}
	if err != nil {
		return nil, fmt.Errorf("project %s store: %w", project, err)
	}
	var store esv1.SecretStore
	if err := yaml.UnmarshalStrict(b, &store); err != nil {
		return nil, fmt.Errorf("project %s %s: %w", project, storeFile, err)
	}
	if reg == nil {
		return nil, fmt.Errorf("project %s store: %w", project, providers.ErrNotRegistered)
	}
	_, p, err := reg.For(&store.Spec)
	if err != nil {
		return nil, fmt.Errorf("project %s store: %w", project, err)
	}
	c, err := p.NewClient(ctx, providers.Store{Kind: "SecretStore", Name: store.Name, Namespace: project, Spec: &store.Spec}, fileKube{dir: pdir})
	if err != nil {
		return nil, fmt.Errorf("project %s store: %w", project, err)
	}
	return c, nil
}

// readLimited reads an operator's file of at most maxConfigFileSize bytes.
func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxConfigFileSize)
	}
	return b, nil
}

// fileKube is the Kubernetes access of a store in the sidecar: the
// Secrets and ConfigMaps its spec references are files the operator
// mounted into the project's folder. There are no ServiceAccount tokens to
// request and no controller identity to lend.
type fileKube struct{ dir string }

var _ providers.Kube = fileKube{}

func (k fileKube) SecretKey(_ context.Context, ref esmeta.SecretKeySelector) ([]byte, error) {
	return k.read(secretsDir, "Secret", ref.Name, ref.Namespace, ref.Key)
}

func (k fileKube) ConfigMapKey(_ context.Context, namespace, name, key string) ([]byte, error) {
	var ns *string
	if namespace != "" {
		ns = &namespace
	}
	return k.read(configMapsDir, "ConfigMap", name, ns, key)
}

// read returns dir/sub/name/key, checking the names so that a reference
// is one file of the folder.
func (k fileKube) read(sub, kind, name string, namespace *string, key string) ([]byte, error) {
	if namespace != nil && *namespace != "" {
		return nil, fmt.Errorf("%s %s: the plugin's stores read credentials from the project's folder; a namespace cannot be named", kind, name)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, fmt.Errorf("%s name %q is invalid", kind, name)
	}
	if !providers.ValidSecretKey(key) {
		return nil, fmt.Errorf("%s %s: key %q is invalid", kind, name, key)
	}
	b, err := readLimited(filepath.Join(k.dir, sub, name, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s %s has no key %s: mount it at %s/%s/%s/%s", kind, name, key, "<project folder>", sub, name, key)
	}
	return b, err
}

func (fileKube) ServiceAccountToken(context.Context, esmeta.ServiceAccountSelector, []string, int64) (string, error) {
	return "", errors.New("ServiceAccount tokens cannot be requested from the plugin's sidecar: give the store a token, AppRole or JWT from a file")
}

func (fileKube) ControllerToken(context.Context, []string) (string, error) {
	return "", fmt.Errorf("%w: the plugin's sidecar lends no identity of its own", providers.ErrControllerIdentity)
}

// KVVersioned is the optional ability of a store client whose backend has
// key-value engines of several layouts (Vault's KV versions 1 and 2):
// WithKVVersion returns a client that reads with layout version, sharing
// the receiver's login. argocd-vault-plugin's kv-version annotation uses
// it.
type KVVersioned interface {
	WithKVVersion(version int) (providers.Client, error)
}

// storeReader reads placeholders' secrets through a provider client.
type storeReader struct{ client providers.Client }

var _ placeholder.Reader = storeReader{}

// Read reads the secret at ref.Path whole, as JSON.
func (r storeReader) Read(ctx context.Context, ref placeholder.Ref) (map[string]any, error) {
	c := r.client
	if ref.KVVersion != "" {
		kv, ok := c.(KVVersioned)
		if !ok {
			return nil, fmt.Errorf("the project's store has no key-value layouts to choose from (kv-version %s)", ref.KVVersion)
		}
		v, err := strconv.Atoi(ref.KVVersion)
		if err != nil {
			return nil, fmt.Errorf("kv-version %q: %w", ref.KVVersion, err)
		}
		if c, err = kv.WithKVVersion(v); err != nil {
			return nil, err
		}
	}
	b, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: ref.Path, Version: ref.Version})
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		// The store's value is not quoted: it is a secret.
		return nil, fmt.Errorf("the secret at %s is not an object of fields", ref.Path)
	}
	return m, nil
}
