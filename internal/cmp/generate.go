package cmp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/cmp/render"
	"github.com/sealsync/sealsync/internal/redact"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/sopsx"
	"github.com/sealsync/sealsync/providers"
)

// Request is one generation: the repository Argo CD sent and where in it
// the application lies.
type Request struct {
	// Source is the repository (or the part of it Argo CD sent). A
	// kustomization may reach any folder of it, nothing outside.
	Source fs.FS
	// Dir is the application's folder in Source.
	Dir string
	// Env is what Argo CD tells the generation.
	Env Env
}

// ErrWithheld is returned instead of an error whose message would quote
// a value decrypted or read from a store.
var ErrWithheld = errors.New("the error's details are withheld: they quote a secret value")

// Generate renders req and returns the YAML stream for Argo CD. Warnings
// (plain output, random sealing) go to warn. An error leaves nothing to
// write; its message quotes no secret value.
func Generate(ctx context.Context, cfg Config, req Request, warn io.Writer) (out []byte, err error) {
	values := &redact.Values{}
	var dec *sopsx.Decryptor
	defer func() {
		if err != nil {
			err = withhold(err, dec, values)
		}
	}()
	mode, err := cfg.output(req.Env)
	if err != nil {
		return nil, err
	}
	var sealer *sealing.Sealer
	if mode == Sealed {
		if sealer, err = newSealer(cfg, warn); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintln(warn, "warning: output is plain: Secrets are written in plain text and Argo CD keeps them in its cache (argocd-vault-plugin's behaviour)")
	}

	ids, err := identities(cfg, req.Env, warn)
	if err != nil {
		return nil, err
	}
	dec = sopsx.NewDecryptor(ids, cfg.SOPS)
	objs, err := render.Render(ctx, req.Source, req.Dir, render.Options{
		Decrypter: dec,
		Helm: render.HelmOptions{
			ReleaseName: req.Env.AppName,
			Namespace:   req.Env.AppNamespace,
			KubeVersion: req.Env.KubeVersion,
			APIVersions: req.Env.APIVersions,
			ValueFiles:  req.Env.helmValueFiles(),
		},
		Limits: cfg.Limits,
	})
	if err != nil {
		return nil, err
	}
	if objs, err = flattenLists(objs); err != nil {
		return nil, err
	}
	r := newPlaceholderReader(cfg, req, dec)
	defer r.close(ctx)
	if cfg.PlaceholderMode == Reference {
		local := func(p string) bool { _, _, ok := r.sopsFile(p); return ok }
		if err := referenceSecrets(cfg, req.Env, local, objs); err != nil {
			return nil, err
		}
	}
	// Before placeholders are resolved, when the Decryptor holds only
	// what the render decrypted: placeholders have their own rule. An
	// ExternalSecret of reference mode is checked too: its template's
	// literal text reaches Argo CD as it is.
	if mode == Sealed && !cfg.AllowSOPSOutsideSecrets {
		if err := refuseSOPSOutsideSecrets(objs, dec.Plaintexts()); err != nil {
			return nil, err
		}
	}

	replaced, err := resolvePlaceholders(ctx, cfg, objs, r, values)
	if err != nil {
		return nil, err
	}
	if mode == Sealed {
		if objs, err = sealSecrets(cfg, req.Env, objs, replaced, sealer); err != nil {
			return nil, err
		}
	}
	return render.Stream(objs, cfg.Limits.MaxOutputSize)
}

// newSealer returns the sealer of Sealed output: convergent with the
// operator's key, else random with a warning.
func newSealer(cfg Config, warn io.Writer) (*sealing.Sealer, error) {
	if cfg.Certificate == nil {
		return nil, errors.New("sealed output needs the cluster's certificate (--cert or SEALED_SECRETS_CERT)")
	}
	if cfg.ConvergenceKey == nil {
		fmt.Fprintln(warn, "warning: no convergence key (SEALSYNC_CONVERGENCE_KEY_FILE): values are sealed with fresh randomness, so every render differs and Argo CD shows the SealedSecrets OutOfSync after each cache miss")
		return sealing.NewSealer(rand.Reader, cfg.Certificate), nil
	}
	s, err := sealing.NewConvergentSealer(cfg.ConvergenceKey, cfg.Certificate)
	if err != nil {
		return nil, fmt.Errorf("convergence key: %w", err)
	}
	return s, nil
}

// identities returns the age identities of the application's project.
func identities(cfg Config, env Env, warn io.Writer) ([]age.Identity, error) {
	if cfg.AgeKeysDir == "" {
		return nil, nil
	}
	if env.Project == "" {
		fmt.Fprintln(warn, "warning: ARGOCD_APP_PROJECT_NAME is not set (Argo CD before 3.0 does not pass it): no SOPS keys are used")
		return nil, nil
	}
	ids, err := sopsx.LoadIdentities(cfg.AgeKeysDir, env.Project)
	if err != nil {
		return nil, fmt.Errorf("project %s SOPS keys: %w", env.Project, err)
	}
	return ids, nil
}

// newPlaceholderReader returns the reader of placeholders' secrets: SOPS
// files of the source, or the project's store, opened on the first read.
func newPlaceholderReader(cfg Config, req Request, dec *sopsx.Decryptor) *placeholderReader {
	maxSize := cfg.Limits.MaxFileSize
	if maxSize <= 0 {
		maxSize = render.DefaultMaxFileSize
	}
	return &placeholderReader{
		src: req.Source, dir: req.Dir, dec: dec, maxSize: maxSize,
		openStore: func(ctx context.Context) (providers.Client, error) {
			return OpenStore(ctx, cfg.StoresDir, req.Env.Project, cfg.Providers)
		},
	}
}

// resolvePlaceholders replaces the placeholders of objs with values r
// reads, and returns how many each object had. With none it reads
// nothing.
func resolvePlaceholders(ctx context.Context, cfg Config, objs []*unstructured.Unstructured, r *placeholderReader, values *redact.Values) ([]int, error) {
	n, annotated, err := placeholder.Count(objs)
	if err != nil {
		return nil, err
	}
	// In Reference mode an annotated object with no placeholder left is
	// not read for: the render needs no store.
	if n == 0 && (!annotated || cfg.PlaceholderMode == Reference) {
		return make([]int, len(objs)), nil
	}
	res, err := placeholder.Resolve(ctx, objs, r, cfg.Placeholders, values)
	if err != nil {
		return nil, fmt.Errorf("placeholders: %w", err)
	}
	return res.Replaced, nil
}

// maxErrorSize is how much of an error message a generation returns:
// Argo CD shows it in its UI.
const maxErrorSize = 4 << 10

// withhold replaces err by ErrWithheld if its message quotes a value
// decrypted or read, and cuts long messages.
func withhold(err error, dec *sopsx.Decryptor, values *redact.Values) error {
	msg := err.Error()
	if (dec != nil && dec.Quotes(msg)) || values.Quotes(msg) {
		return ErrWithheld
	}
	if len(msg) > maxErrorSize {
		return &cutError{msg: msg[:maxErrorSize] + " (cut)", err: err}
	}
	return err
}

// cutError is an error whose message was cut; errors.Is still sees the
// original.
type cutError struct {
	msg string
	err error
}

func (e *cutError) Error() string { return e.msg }
func (e *cutError) Unwrap() error { return e.err }
