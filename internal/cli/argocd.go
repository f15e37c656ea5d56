package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/cmp"
	"github.com/sealsync/sealsync/internal/cmp/render"
	"github.com/sealsync/sealsync/internal/sealing"
	"github.com/sealsync/sealsync/internal/sopsx"
)

// argocdOptions are the flags of `kubeseal argocd`: the operator's
// configuration of the plugin's sidecar. Each flag is also read from the
// environment variable argocdEnv names, so a sidecar is configured by its
// container env alone. Nothing here comes from an application: Argo CD
// passes an author's settings as ARGOCD_ENV_*, which no flag reads.
type argocdOptions struct {
	root           *options
	ageKeysDir     string
	storesDir      string
	output         string
	placeholders   string
	storesFile     string
	allowPlain     bool
	allowOutside   bool
	allowSOPS      bool
	allowAnyNS     bool
	cert           string
	convergenceKey string
	sourceRoot     string
	limits         render.Limits
	sopsMaxFiles   int
}

// argocdEnv maps each flag of `kubeseal argocd` to its environment
// variable.
var argocdEnv = map[string]string{
	"age-keys-dir":                       "SEALSYNC_AGE_KEYS_DIR",
	"stores-dir":                         "SEALSYNC_STORES_DIR",
	"output":                             "SEALSYNC_OUTPUT",
	"placeholders":                       "SEALSYNC_PLACEHOLDERS",
	"stores-file":                        "SEALSYNC_STORES_FILE",
	"allow-plain":                        "SEALSYNC_ALLOW_PLAIN",
	"allow-placeholders-outside-secrets": "SEALSYNC_ALLOW_PLACEHOLDERS_OUTSIDE_SECRETS",
	"allow-sops-outside-secrets":         "SEALSYNC_ALLOW_SOPS_OUTSIDE_SECRETS",
	"allow-any-namespace":                "SEALSYNC_ALLOW_ANY_NAMESPACE",
	"cert":                               "SEALED_SECRETS_CERT",
	"convergence-key-file":               "SEALSYNC_CONVERGENCE_KEY_FILE",
	"source-root":                        "SEALSYNC_SOURCE_ROOT",
	"max-files":                          "SEALSYNC_MAX_FILES",
	"max-file-size":                      "SEALSYNC_MAX_FILE_SIZE",
	"max-total-size":                     "SEALSYNC_MAX_TOTAL_SIZE",
	"max-output-size":                    "SEALSYNC_MAX_OUTPUT_SIZE",
	"max-template-steps":                 "SEALSYNC_MAX_TEMPLATE_STEPS",
	"timeout":                            "SEALSYNC_TIMEOUT",
	"max-sops-files":                     "SEALSYNC_MAX_SOPS_FILES",
}

func newArgoCDCommand(o *options) *cobra.Command {
	a := &argocdOptions{root: o}
	cmd := &cobra.Command{
		Use:   "argocd",
		Short: "Argo CD config-management plugin: SOPS and Vault placeholders in, SealedSecrets out",
		Long: `The argocd commands are sealsync's Argo CD config-management plugin, run by
Argo CD's repo-server sidecar (config/argocd). generate renders an
application's source (plain manifests, Kustomize or a Helm chart), decrypts its
SOPS files with the keys of the application's Argo CD project, and writes
every Secret as a SealedSecret sealed with the cluster's certificate.

argocd-vault-plugin placeholders are handled as --placeholders says, which
only the operator sets: resolve (the default) replaces them with values read
from the project's secret store (--stores-dir), then seals; reference reads
nothing and turns each Secret that holds them into an ExternalSecret for the
controller on the destination cluster to sync and refresh, from the
SecretStore or ClusterSecretStore that --stores-file maps the application's
project and the placeholder's path to. SOPS-file placeholders are resolved
and sealed in both modes.

Every flag can be set from the environment (` + envList() + `).`,
		Args: cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return argocdFlagsFromEnv(cmd.Flags())
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&a.ageKeysDir, "age-keys-dir", "", "Folder with one folder per Argo CD project of age identity files (*.txt) for SOPS")
	pf.StringVar(&a.storesDir, "stores-dir", "", "Folder with one folder per Argo CD project holding store.yaml (a SecretStore) and its credential files, for placeholders")
	pf.StringVar(&a.output, "output", "sealed", "What Secrets become: sealed (SealedSecrets) or plain (as they are)")
	pf.StringVar(&a.placeholders, "placeholders", "resolve", "What Secrets with placeholders become: resolve (values read from the project's store here) or reference (ExternalSecrets the controller syncs; nothing is read here)")
	pf.StringVar(&a.storesFile, "stores-file", "", "Reference mode's mapping from Argo CD project and path prefix to the controller's SecretStore or ClusterSecretStore (YAML); not read in resolve mode")
	pf.BoolVar(&a.allowPlain, "allow-plain", false, "Let an application ask for plain output with ARGOCD_ENV_SEALSYNC_OUTPUT=plain")
	pf.BoolVar(&a.allowOutside, "allow-placeholders-outside-secrets", false, "Allow placeholders in objects other than Secrets in sealed output and reference mode: they are resolved here, and their values reach Argo CD in plain text")
	pf.BoolVar(&a.allowSOPS, "allow-sops-outside-secrets", false, "Allow values decrypted from SOPS files in objects other than Secrets in sealed output (they reach Argo CD in plain text)")
	pf.BoolVar(&a.allowAnyNS, "allow-any-namespace", false, "Allow Secrets for namespaces other than the application's destination, and cluster-wide scope")
	pf.StringVar(&a.cert, "cert", "", "Certificate file or URL to seal with (e.g. http://sealed-secrets-controller.kube-system:8080/v1/cert.pem); without it, fetched from the controller through the API server")
	pf.StringVar(&a.convergenceKey, "convergence-key-file", "", "File of at least 32 random bytes that makes sealing convergent: unchanged input gives unchanged output")
	pf.StringVar(&a.sourceRoot, "source-root", "", "The repository's root folder (default: the application folder minus ARGOCD_APP_SOURCE_PATH)")
	pf.IntVar(&a.limits.MaxFiles, "max-files", render.DefaultMaxFiles, "Most files a render reads")
	pf.Int64Var(&a.limits.MaxFileSize, "max-file-size", render.DefaultMaxFileSize, "Largest file a render reads, in bytes")
	pf.Int64Var(&a.limits.MaxTotalSize, "max-total-size", render.DefaultMaxTotalSize, "Most bytes a render reads in all")
	pf.Int64Var(&a.limits.MaxOutputSize, "max-output-size", render.DefaultMaxOutputSize, "Largest output, in bytes")
	pf.Int64Var(&a.limits.MaxTemplateSteps, "max-template-steps", render.DefaultMaxTemplateSteps, "Step budget of Helm templates")
	pf.DurationVar(&a.limits.Timeout, "timeout", render.DefaultTimeout, "Longest render (Argo CD's repo-server gives up after 60s)")
	pf.IntVar(&a.sopsMaxFiles, "max-sops-files", sopsx.DefaultMaxFiles, "Most SOPS files a render decrypts")
	cmd.AddCommand(a.generateCommand(), a.initCommand(), a.discoverCommand())
	return cmd
}

func envList() string {
	var names []string
	for _, f := range []string{"age-keys-dir", "stores-dir", "output", "placeholders", "stores-file", "allow-plain", "cert", "convergence-key-file"} {
		names = append(names, argocdEnv[f])
	}
	return strings.Join(names, ", ") + ", …"
}

// argocdFlagsFromEnv sets every flag not given on the command line from
// its environment variable.
func argocdFlagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		name, ok := argocdEnv[f.Name]
		if err != nil || f.Changed || !ok {
			return
		}
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s: %w", name, serr)
			}
		}
	})
	return err
}

func (a *argocdOptions) generateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "generate [PATH]",
		Short: "Render the application in PATH (default: the working directory) to manifests on stdout",
		Long: `generate renders the application in PATH, the working directory Argo CD runs
the plugin in by default, and writes one YAML stream to stdout. It fails, with
the reason on stderr and nothing on stdout, if anything fails or the render
holds no object.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.generate(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

func (a *argocdOptions) generate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := cmp.EnvFromEnviron(os.Environ())
	cfg, err := a.config(ctx, env, true)
	if err != nil {
		return err
	}
	req, closeRoot, err := a.request(args, env)
	if err != nil {
		return err
	}
	defer closeRoot()
	out, err := cmp.Generate(ctx, cfg, req, stderr)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

func (a *argocdOptions) initCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init [PATH]",
		Short: "Check the plugin's configuration for the application before generate runs",
		Long: `init checks what generate will need and fails early with a clear message: the
output mode, the certificate file and convergence key for sealed output, the
SOPS keys of the application's project, and that PATH is inside the source. A
certificate from a URL or from the controller is fetched by generate alone,
once per render. init writes nothing to stdout.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env := cmp.EnvFromEnviron(os.Environ())
			if _, err := a.config(cmd.Context(), env, false); err != nil {
				return err
			}
			if a.ageKeysDir != "" && env.Project != "" {
				if _, err := sopsx.LoadIdentities(a.ageKeysDir, env.Project); err != nil {
					return fmt.Errorf("project %s SOPS keys: %w", env.Project, err)
				}
			}
			_, closeRoot, err := a.request(args, env)
			if err != nil {
				return err
			}
			closeRoot()
			return nil
		},
	}
}

func (a *argocdOptions) discoverCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "discover [PATH]",
		Short: "Print a line and exit 0 if the application in PATH holds SOPS files or placeholders",
		Long: `discover answers Argo CD's find.command: it prints the first file of PATH
(default: the working directory) that is SOPS-encrypted or holds an
argocd-vault-plugin placeholder, and prints nothing if there is none. It reads
at most ` + fmt.Sprint(discoverMaxFiles) + ` files of ` + fmt.Sprint(discoverMaxFileSize>>10) + ` KiB, skipping folders whose name starts with ".".`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			name, err := discover(dir)
			if err != nil || name == "" {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), name)
			return err
		},
	}
}

// Bounds of discover, which Argo CD runs on every refresh of every
// application when the plugin has discovery.
const (
	discoverMaxFiles    = 2000
	discoverMaxFileSize = 256 << 10
	discoverTimeout     = 5 * time.Second
)

// placeholderMarkers are the strings that make a file argocd-vault-plugin's.
var placeholderMarkers = [][]byte{[]byte("<path:"), []byte("avp.kubernetes.io/path")}

// discover returns the first file under dir, in lexical order, that is
// SOPS-encrypted or holds a placeholder marker, or "".
func discover(dir string) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	deadline := time.Now().Add(discoverTimeout)
	found, files := "", 0
	errStop := errors.New("stop")
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // links are not followed
		}
		if files++; files > discoverMaxFiles || time.Now().After(deadline) {
			return errStop
		}
		b, err := readHead(root, p, discoverMaxFileSize)
		if err != nil {
			return nil
		}
		if sopsx.IsEncrypted(p, b) {
			found = p
			return errStop
		}
		for _, m := range placeholderMarkers {
			if bytes.Contains(b, m) {
				found = p
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return "", err
	}
	return found, nil
}

func readHead(root *os.Root, name string, n int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// config builds the plugin's configuration from the flags. fetch says
// whether a certificate that comes over the network (a URL, or the
// controller's through the API server) is fetched; a file is always read.
// init passes false: Argo CD runs generate right after it, which fetches
// the certificate anyway and fails with the same message, so one fetch
// per render is enough.
func (a *argocdOptions) config(ctx context.Context, env cmp.Env, fetch bool) (cmp.Config, error) {
	out, err := cmp.ParseOutput(a.output)
	if err != nil {
		return cmp.Config{}, fmt.Errorf("--output: %w", err)
	}
	mode, err := cmp.ParsePlaceholderMode(a.placeholders)
	if err != nil {
		return cmp.Config{}, fmt.Errorf("--placeholders: %w", err)
	}
	// The mapping is read in reference mode only, so that one install
	// can point SEALSYNC_STORES_FILE at an optional mount in both modes.
	var stores *cmp.StoreMap
	if mode == cmp.Reference && a.storesFile != "" {
		if stores, err = cmp.LoadStoreMap(a.storesFile); err != nil {
			return cmp.Config{}, fmt.Errorf("--stores-file: %w", err)
		}
	}
	cfg := cmp.Config{
		PlaceholderMode:                 mode,
		Stores:                          stores,
		AgeKeysDir:                      a.ageKeysDir,
		StoresDir:                       a.storesDir,
		Providers:                       a.root.providers,
		Output:                          out,
		AllowPlain:                      a.allowPlain,
		AllowPlaceholdersOutsideSecrets: a.allowOutside,
		AllowSOPSOutsideSecrets:         a.allowSOPS,
		AllowAnyNamespace:               a.allowAnyNS,
		Limits:                          a.limits,
		SOPS:                            sopsx.Limits{MaxFileSize: a.limits.MaxFileSize, MaxFiles: a.sopsMaxFiles},
	}
	if a.convergenceKey != "" {
		key, err := os.ReadFile(a.convergenceKey)
		if err != nil {
			return cmp.Config{}, fmt.Errorf("--convergence-key-file: %w", err)
		}
		if len(key) < sealing.MinConvergenceKeySize {
			return cmp.Config{}, fmt.Errorf("--convergence-key-file %s: %w", a.convergenceKey, sealing.ErrShortConvergenceKey)
		}
		cfg.ConvergenceKey = key
	}
	// The certificate is fetched only when a Secret may be sealed.
	if (out == cmp.Sealed || env.Author[cmp.AuthorOutput] == "sealed") && (fetch || a.certIsFile()) {
		pem, err := a.openCert(ctx)
		if err != nil {
			return cmp.Config{}, fmt.Errorf("certificate: %w", err)
		}
		_, pub, err := crypto.ParseSealingCertificate(pem, now())
		if err != nil {
			return cmp.Config{}, fmt.Errorf("certificate: %w", err)
		}
		cfg.Certificate = pub
	}
	return cfg, nil
}

// certIsFile reports whether --cert names a file, which is read without
// the network.
func (a *argocdOptions) certIsFile() bool {
	isFile, err := isFilename(a.cert)
	return a.cert != "" && err == nil && isFile
}

func (a *argocdOptions) openCert(ctx context.Context) ([]byte, error) {
	if a.cert != "" {
		return openCertLocal(ctx, a.cert)
	}
	c, err := a.root.controller()
	if err != nil {
		return nil, err
	}
	return c.fetchCert(ctx)
}

// request opens the source: the repository root, found from the
// application's folder and ARGOCD_APP_SOURCE_PATH, through os.Root so
// that no path of the source leads out of it.
func (a *argocdOptions) request(args []string, env cmp.Env) (cmp.Request, func(), error) {
	appDir := "."
	if len(args) == 1 {
		appDir = args[0]
	}
	appDir, err := filepath.Abs(appDir)
	if err != nil {
		return cmp.Request{}, nil, err
	}
	rootDir, dir := a.sourceRoot, "."
	if rootDir == "" {
		rootDir, dir = sourceRoot(appDir, env.SourcePath)
	} else {
		if rootDir, err = filepath.Abs(rootDir); err != nil {
			return cmp.Request{}, nil, err
		}
		rel, err := filepath.Rel(rootDir, appDir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return cmp.Request{}, nil, fmt.Errorf("%s is not inside --source-root %s", appDir, rootDir)
		}
		dir = filepath.ToSlash(rel)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return cmp.Request{}, nil, err
	}
	return cmp.Request{Source: root.FS(), Dir: dir, Env: env}, func() { root.Close() }, nil
}

// sourceRoot splits appDir into the repository root and the application's
// folder in it: the trailing folders of appDir that are the trailing
// segments of sourcePath (Argo CD sends the repository, or with
// manifest-generate-paths the part of it under a common root, and runs the
// plugin in the application's folder).
func sourceRoot(appDir, sourcePath string) (root, dir string) {
	segs := strings.Split(path.Clean(filepath.ToSlash(sourcePath)), "/")
	root = appDir
	var taken []string
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if s == "." || s == "" || s == ".." || filepath.Base(root) != s {
			break
		}
		taken = append([]string{s}, taken...)
		root = filepath.Dir(root)
	}
	if len(taken) == 0 {
		return appDir, "."
	}
	return root, strings.Join(taken, "/")
}
