// Package cli is kubeseal: the sealing CLI, flag for flag compatible with
// Bitnami kubeseal v0.36.6, plus subcommands for key management and bulk
// re-encryption.
//
// # Compatibility
//
// The root command takes Bitnami's flags and writes Bitnami's output, so
// scripts and CI jobs keep working. Every flag can also be set from the
// environment as SEALED_SECRETS_<FLAG> (upper case, dashes as
// underscores); a flag on the command line wins. Differences are
// deliberate: every sealed object carries the sealsync.dev/key-id
// annotation, an explicit --scope always wins over the input's
// annotations, --merge-into seals with the scope of the file it merges
// into and refuses another, decode errors never quote input,
// --recovery-unseal takes several documents and writes its plaintext
// output file with mode 0600.
package cli

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/version"
	"github.com/sealsync/sealsync/providers"

	// Auth plugins (exec, OIDC) for kubeconfigs that use them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

// envPrefix is the prefix of the environment variables that set flags.
const envPrefix = "SEALED_SECRETS_"

// Streams are the standard streams of one run.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// options hold the root command's flags, named as Bitnami's.
type options struct {
	certURL        string
	controllerNs   string
	controllerName string
	outputFormat   string
	outputFileName string
	inputFileName  string
	kubeconfig     string
	fetchCert      bool
	allowEmptyData bool
	validate       bool
	mergeInto      string
	raw            bool
	secretName     string
	fromFile       []string
	scope          scopeFlag
	reEncrypt      bool
	recoveryUnseal bool
	privKeys       []string
	recovery       identityFlags

	overrides clientcmd.ConfigOverrides
	streams   Streams
	// providers are the secret-store providers this build has (for the
	// argocd plugin's placeholders); cmd/kubeseal wires them.
	providers *providers.Registry
}

// Option configures a kubeseal run beyond its arguments.
type Option func(*options)

// WithProviders gives kubeseal the secret-store providers of this build,
// which the argocd plugin resolves placeholders through. The CLI names no
// provider itself: cmd/kubeseal registers them.
func WithProviders(r *providers.Registry) Option {
	return func(o *options) { o.providers = r }
}

// clientConfig returns the kubeconfig the flags describe, loaded lazily so
// that offline use never needs one.
func (o *options) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	rules.ExplicitPath = o.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &o.overrides)
}

const rootExamples = `  # Seal a Secret with the cluster's certificate
  kubectl create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml \
    | kubeseal -o yaml > db-sealed.yaml

  # Seal offline with a certificate file (or URL, or SEALED_SECRETS_CERT)
  kubeseal --cert pub-cert.pem -f db.yaml -w db-sealed.yaml

  # Seal for any name in a namespace, or for anywhere in the cluster
  kubeseal --cert pub-cert.pem --scope namespace-wide < db.yaml
  kubeseal --cert pub-cert.pem --scope cluster-wide < db.yaml

  # Seal one value, e.g. to add a key by hand
  echo -n s3cr3t | kubeseal --cert pub-cert.pem --raw -n prod --name db --from-file=/dev/stdin

  # Add or update keys of an existing SealedSecret file in place
  kubectl create secret generic db --from-literal=user=app --dry-run=client -o yaml \
    | kubeseal --cert pub-cert.pem --merge-into db-sealed.yaml

  # Disaster recovery: unseal offline with backed-up private keys
  kubeseal --recovery-unseal --recovery-private-key backup.yaml < db-sealed.yaml

  # ... or with a key backup bundle (kubeseal keys backup) and its identity
  kubeseal --recovery-unseal --recovery-private-key keys.age --recovery-identity offline.key < db-sealed.yaml`

// NewCommand returns the kubeseal root command.
func NewCommand(streams Streams, opts ...Option) *cobra.Command {
	o := &options{streams: streams}
	for _, opt := range opts {
		opt(o)
	}
	cmd := &cobra.Command{
		Use:   "kubeseal",
		Short: "Seal Kubernetes Secrets so they can live in Git",
		Long: `kubeseal encrypts a Secret into a SealedSecret that only the controller in
your cluster can decrypt, so it is safe to commit. It reads Secrets as JSON or
YAML from stdin or --secret-file and writes SealedSecrets to stdout or
--sealed-secret-file. Sealed values are compatible with Bitnami Sealed Secrets.`,
		Example:       rootExamples,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd)
		},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.Err)
	cmd.SetVersionTemplate("kubeseal version: {{.Version}}\n")

	f := cmd.Flags()
	f.StringVar(&o.certURL, "cert", "", "Certificate / public key file/URL to use for encryption. Overrides --controller-*")
	f.StringVarP(&o.outputFormat, "format", "o", "json", "Output format for sealed secret. Either json or yaml")
	f.StringVarP(&o.outputFileName, "sealed-secret-file", "w", "", "Sealed-secret (output) file")
	f.StringVarP(&o.inputFileName, "secret-file", "f", "", "Secret (input) file")
	f.BoolVar(&o.fetchCert, "fetch-cert", false, "Write certificate to stdout. Useful for later use with --cert")
	f.BoolVar(&o.allowEmptyData, "allow-empty-data", false, "Allow empty data in the secret object")
	f.BoolVar(&o.validate, "validate", false, "Validate that the sealed secret can be decrypted")
	f.StringVar(&o.mergeInto, "merge-into", "", "Merge items from secret into an existing sealed secret file, updating the file in-place instead of writing to stdout.")
	f.BoolVar(&o.raw, "raw", false, "Encrypt a raw value passed via the --from-* flags instead of the whole secret object")
	f.StringVar(&o.secretName, "name", "", "Name of the sealed secret (required with --raw and default (strict) scope)")
	f.StringSliceVar(&o.fromFile, "from-file", nil, "(only with --raw) Secret items can be sourced from files. Pro-tip: you can use /dev/stdin to read pipe input. This flag tries to follow the same syntax as in kubectl")
	f.Var(&o.scope, "scope", "Set the scope of the sealed secret: strict, namespace-wide, cluster-wide (defaults to strict). Mandatory for --raw, otherwise the 'sealedsecrets.bitnami.com/cluster-wide' and 'sealedsecrets.bitnami.com/namespace-wide' annotations on the input secret can be used to select the scope.")
	f.BoolVar(&o.reEncrypt, "re-encrypt", false, "Re-encrypt the given sealed secret to use the latest cluster key.")
	f.BoolVar(&o.reEncrypt, "rotate", false, "")
	_ = f.MarkDeprecated("rotate", "please use --re-encrypt instead")
	f.BoolVar(&o.recoveryUnseal, "recovery-unseal", false, "Decrypt a sealed secrets file obtained from stdin, using the private key passed with --recovery-private-key. Intended to be used in disaster recovery mode.")
	f.StringSliceVar(&o.privKeys, "recovery-private-key", nil, "Private key filename used by the --recovery-unseal command. Multiple files accepted either via comma separated list or by repetition of the flag. Either PEM encoded private keys or a backup of a json/yaml encoded k8s sealed-secret controller secret (and v1.List) are accepted. ")
	f.StringArrayVar(&o.recovery.files, "recovery-identity", nil, "Identity file that opens a --recovery-private-key backup bundle (kubeseal keys backup): age-keygen's output or an SSH private key. Repeatable")
	o.recovery.passphrase.bind(f, "recovery-", "Open a --recovery-private-key backup bundle")

	addClientFlags(cmd, o)
	cmd.AddCommand(newKeysCommand(o), newReencryptCommand(o), newArgoCDCommand(o))

	_ = cmd.RegisterFlagCompletionFunc("scope", fixedCompletions("strict", "namespace-wide", "cluster-wide"))
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletions("json", "yaml"))
	for _, name := range []string{"secret-file", "sealed-secret-file", "merge-into", "from-file", "recovery-private-key", "recovery-identity", "recovery-passphrase-file"} {
		_ = cmd.MarkFlagFilename(name)
	}
	_ = cmd.MarkFlagFilename("cert", "pem", "crt")
	return cmd
}

// addClientFlags adds the flags shared by every command that may talk to a
// cluster: --kubeconfig, kubectl's override flags, the controller's
// location and klog's verbosity flags.
func addClientFlags(cmd *cobra.Command, o *options) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kube config. Only required if out-of-cluster")
	pf.StringVar(&o.controllerNs, "controller-namespace", "kube-system", "Namespace of sealed-secrets controller.")
	pf.StringVar(&o.controllerName, "controller-name", "sealed-secrets-controller", "Name of sealed-secrets controller.")
	clientcmd.BindOverrideFlags(&o.overrides, pf, clientcmd.RecommendedConfigOverrideFlags(""))
	gofs := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(gofs)
	pf.AddGoFlagSet(gofs)
}

func fixedCompletions(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// flagsFromEnv sets every flag not given on the command line from
// SEALED_SECRETS_<FLAG>, as Bitnami's kubeseal does.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := envPrefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(f.Name))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s: %w", name, serr)
			}
		}
	})
	return err
}

// scopeFlag is the --scope flag: validated when set, so a bad value from
// the environment is reported with the variable's name.
type scopeFlag struct{ crypto.Scope }

func (f *scopeFlag) Set(v string) error {
	s, err := crypto.ParseScope(v)
	if err != nil {
		return errors.New("must be one of: strict, namespace-wide, cluster-wide")
	}
	f.Scope = s
	return nil
}

func (f *scopeFlag) Type() string { return "string" }

// Main runs kubeseal with the process's arguments and streams and returns
// its exit code.
func Main(opts ...Option) int {
	return Run(context.Background(), os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, opts...)
}

// Run runs kubeseal with args and returns its exit code, printing errors as
// Bitnami's kubeseal does ("error: ...").
func Run(ctx context.Context, args []string, streams Streams, opts ...Option) int {
	cmd := NewCommand(streams, opts...)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(streams.Err, "error: %v\n", err)
		return 1
	}
	return 0
}
