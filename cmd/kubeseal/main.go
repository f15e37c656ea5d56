// Command kubeseal seals Kubernetes Secrets into SealedSecrets that are safe
// to keep in Git. It is a drop-in replacement for Bitnami's kubeseal.
package main

import (
	"os"

	"github.com/sealsync/sealsync/internal/cli"
)

func main() { os.Exit(cli.Main()) }
