// Command controller is the sealsync in-cluster controller: it unseals
// SealedSecrets into Secrets and keeps the sealing keys, as Bitnami's
// Sealed Secrets controller does, and syncs ExternalSecrets from their
// stores' providers into Secrets, as the External Secrets Operator does.
// It takes Bitnami's controller flags, so it can replace the Bitnami image
// in an existing Deployment, ESO's, so the arguments of ESO's chart start
// it too, plus flags of its own for ExternalSecrets
// (docs/compatibility.md lists what each upstream flag does here). The work is
// in internal/controller; this command wires in the providers it is built
// with.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/version"
	"github.com/sealsync/sealsync/providers"
	"github.com/sealsync/sealsync/providers/aws"
	"github.com/sealsync/sealsync/providers/fake"
	"github.com/sealsync/sealsync/providers/vault"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	flags := controller.BindFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if err := controller.FlagsFromEnv(fs); err != nil {
		return err
	}
	if err := flags.Resolve(); err != nil {
		return err
	}
	if flags.Version {
		fmt.Printf("controller version: %s\n", version.String())
		return nil
	}
	logger, err := flags.Logger()
	if err != nil {
		return err
	}
	ctrl.SetLogger(logger)
	flags.LogUpstream(logger)
	cfg, err := controller.RESTConfig(flags.Kubeconfig, flags.KubeClientQPS, flags.KubeClientBurst)
	if err != nil {
		return err
	}
	ns := controller.ControllerNamespace()
	opts, err := flags.Options(ns)
	if err != nil {
		return err
	}
	if flags.ExternalSecrets {
		opts.ES.Providers = registry()
	}
	logger.Info("starting sealsync controller", "version", version.String(), "namespace", ns)
	return controller.Run(ctrl.SetupSignalHandler(), cfg, opts)
}

// registry wires the providers this build includes; the core never imports
// a provider itself.
func registry() *providers.Registry {
	r := providers.NewRegistry()
	awsOpts := aws.OptionsFromEnvironment()
	// Vault's AWS method (auth.iam) assumes roles through the same STS
	// endpoint as the AWS provider.
	r.Register(providers.Vault, vault.NewWithOptions(vault.Options{AWS: awsOpts}))
	r.Register(providers.AWS, aws.New(awsOpts))
	r.Register(providers.Fake, fake.New())
	return r
}
