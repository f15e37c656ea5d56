package cmp

import (
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/sealsync/sealsync/internal/cmp/placeholder"
	"github.com/sealsync/sealsync/internal/cmp/render"
	"github.com/sealsync/sealsync/internal/sopsx"
	"github.com/sealsync/sealsync/providers"
)

// Output is what becomes of the Secrets of a render.
type Output int

const (
	// Sealed writes every Secret as a SealedSecret.
	Sealed Output = iota
	// Plain writes Secrets as they are, in plain text, as
	// argocd-vault-plugin does.
	Plain
)

// ParseOutput parses "sealed" or "plain".
func ParseOutput(s string) (Output, error) {
	switch s {
	case "sealed":
		return Sealed, nil
	case "plain":
		return Plain, nil
	}
	return 0, fmt.Errorf("output %q: must be sealed or plain", s)
}

func (o Output) String() string {
	if o == Plain {
		return "plain"
	}
	return "sealed"
}

// Config is the operator's configuration of the plugin: the sidecar's
// flags and environment. Nothing in it comes from an application.
type Config struct {
	// AgeKeysDir holds one folder per Argo CD project whose *.txt files
	// are age identities (sopsx.LoadIdentities). Empty: no SOPS keys.
	AgeKeysDir string
	// StoresDir holds one folder per Argo CD project with the secret
	// store placeholders are read from: store.yaml (a SecretStore) and
	// the credential files it references (see OpenStore). Empty: no
	// placeholders.
	StoresDir string
	// Providers are the store providers this build has.
	Providers *providers.Registry

	// PlaceholderMode says what becomes of a Secret's placeholders:
	// resolved here, or referenced for the controller to sync.
	PlaceholderMode PlaceholderMode
	// Stores maps projects' paths to the controller's stores in
	// Reference mode (SEALSYNC_STORES_FILE).
	Stores *StoreMap

	// Output is the default output; an author may switch to Plain only
	// when AllowPlain is set.
	Output Output
	// AllowPlain lets an author ask for Plain output
	// (ARGOCD_ENV_SEALSYNC_OUTPUT=plain).
	AllowPlain bool
	// AllowPlaceholdersOutsideSecrets lets placeholders stand in objects
	// other than Secrets in Sealed output and in Reference mode (where
	// they are resolved from the project's store), putting those values
	// into Argo CD in plain text.
	AllowPlaceholdersOutsideSecrets bool
	// AllowSOPSOutsideSecrets lets objects other than Secrets hold values
	// decrypted from SOPS files in Sealed mode, putting those values into
	// Argo CD in plain text (see refuseSOPSOutsideSecrets).
	AllowSOPSOutsideSecrets bool
	// AllowAnyNamespace lets a Secret name a namespace other than the
	// application's destination, or ask for cluster-wide scope, in Sealed
	// mode.
	AllowAnyNamespace bool

	// Certificate is the public key of the cluster's sealing certificate;
	// required for Sealed output.
	Certificate *rsa.PublicKey
	// ConvergenceKey makes sealing convergent (see
	// sealing.NewConvergentSealer). Without it values are sealed with
	// fresh randomness each time, and every render differs.
	ConvergenceKey []byte

	// Limits bound the render.
	Limits render.Limits
	// SOPS bounds decryption.
	SOPS sopsx.Limits
	// Placeholders bound placeholder resolution.
	Placeholders placeholder.Limits
}

// Env is what Argo CD tells one generation, from the process environment.
type Env struct {
	// AppName is ARGOCD_APP_NAME, the Helm release name.
	AppName string
	// AppNamespace is ARGOCD_APP_NAMESPACE, the destination namespace.
	AppNamespace string
	// Project is ARGOCD_APP_PROJECT_NAME (Argo CD 3.0 and later); it
	// chooses the SOPS keys and the store.
	Project string
	// SourcePath is ARGOCD_APP_SOURCE_PATH, the application's folder in
	// the repository.
	SourcePath string
	// KubeVersion is KUBE_VERSION.
	KubeVersion string
	// APIVersions is KUBE_API_VERSIONS, split at commas.
	APIVersions []string
	// Author holds the Application's plugin env entries, ARGOCD_ENV_<NAME>
	// by NAME: the author's, untrusted.
	Author map[string]string
}

// Author-set variables the plugin reads (as ARGOCD_ENV_<name>).
const (
	// AuthorOutput asks for an output mode; honoured only as
	// Config.AllowPlain says.
	AuthorOutput = "SEALSYNC_OUTPUT"
	// AuthorHelmValues lists Helm values files, relative to the chart,
	// separated by commas or newlines.
	AuthorHelmValues = "HELM_VALUES"
)

// authorPrefix is how Argo CD prefixes the Application's plugin env.
const authorPrefix = "ARGOCD_ENV_"

// EnvFromEnviron reads Env from a process environment (os.Environ()).
func EnvFromEnviron(environ []string) Env {
	e := Env{Author: map[string]string{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "ARGOCD_APP_NAME":
			e.AppName = v
		case "ARGOCD_APP_NAMESPACE":
			e.AppNamespace = v
		case "ARGOCD_APP_PROJECT_NAME":
			e.Project = v
		case "ARGOCD_APP_SOURCE_PATH":
			e.SourcePath = v
		case "KUBE_VERSION":
			e.KubeVersion = v
		case "KUBE_API_VERSIONS":
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					e.APIVersions = append(e.APIVersions, a)
				}
			}
		default:
			if name, ok := strings.CutPrefix(k, authorPrefix); ok {
				e.Author[name] = v
			}
		}
	}
	return e
}

// output returns the output mode of a generation: the operator's, or
// the author's when the operator allows it.
func (c Config) output(e Env) (Output, error) {
	v, ok := e.Author[AuthorOutput]
	if !ok || v == "" {
		return c.Output, nil
	}
	o, err := ParseOutput(v)
	if err != nil {
		return 0, fmt.Errorf("%s%s: %w", authorPrefix, AuthorOutput, err)
	}
	if o == Plain && c.Output != Plain && !c.AllowPlain {
		return 0, fmt.Errorf("%s%s=plain: plain output is not allowed here (the operator sets SEALSYNC_ALLOW_PLAIN=true to allow it)", authorPrefix, AuthorOutput)
	}
	return o, nil
}

// helmValueFiles returns the values files the author lists.
func (e Env) helmValueFiles() []string {
	var out []string
	for _, f := range strings.FieldsFunc(e.Author[AuthorHelmValues], func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
