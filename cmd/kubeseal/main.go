// Command kubeseal seals Kubernetes Secrets into SealedSecrets that are safe
// to keep in Git. It is a drop-in replacement for Bitnami's kubeseal, and
// sealsync's Argo CD config-management plugin (kubeseal argocd).
package main

import (
	"os"

	"github.com/sealsync/sealsync/internal/cli"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/vault"
)

func main() { os.Exit(cli.Main(cli.WithProviders(registry()))) }

// registry wires the providers the argocd plugin resolves placeholders
// through; the plugin's core never imports a provider.
func registry() *providers.Registry {
	r := providers.NewRegistry()
	r.Register(providers.Vault, vault.New())
	return r
}
