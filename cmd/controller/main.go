// Command controller is the sealsync in-cluster controller: it unseals
// SealedSecrets into Secrets and syncs ExternalSecrets from providers.
package main

import (
	"fmt"
	"os"

	"github.com/sealsync/sealsync/internal/version"
)

func main() {
	fmt.Fprintf(os.Stdout, "sealsync controller %s\n", version.String())
}
