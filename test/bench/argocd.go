package main

// The Argo CD plugin benchmark, as issue 11 asks: one application source
// of 200 SOPS-encrypted Secrets (encrypted by the real sops CLI) and 500
// placeholders over 50 distinct Vault KV v2 paths, rendered by `kubeseal
// argocd generate` as the plugin's sidecar runs it (a process, the
// sidecar's environment, sealed output, convergent), against a Vault dev
// server whose file audit log counts the reads. Beside it, in the same
// run, the usual way: `sops --decrypt` once per file in a loop, and one
// Vault read per placeholder in a row, as argocd-vault-plugin reads.
//
// Then, as issue 14 asks, the 500 placeholders alone (their folder as its
// own application) in both placeholder modes: resolve, as above, and
// reference, with a sidecar that has the operator's store mapping and no
// store credentials at all, so that every Vault request it made would
// show in the audit log.

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/sealsync/sealsync/internal/devenv"
)

const (
	// cmpSecrets SOPS-encrypted Secrets of cmpItems items each.
	cmpSecrets = 200
	cmpItems   = 2
	// cmpPlaceholders placeholders over cmpPaths Vault paths of
	// cmpFields fields each, in cmpPlaceholderFiles Secrets.
	cmpPlaceholders     = 500
	cmpPaths            = 50
	cmpFields           = 10
	cmpPlaceholderFiles = 50
	// cmpProject is the Argo CD project of the bench application.
	cmpProject = "bench"
)

// Goals of the plugin benchmark, from issues 11 and 14.
const (
	goalCMPWall  = 3 * time.Second
	goalCMPReads = cmpPaths
	// goalRefWall bounds a reference-mode render of the placeholders,
	// which reads nothing; goalRefRequests is how many Vault requests it
	// may make.
	goalRefWall     = 500 * time.Millisecond
	goalRefRequests = 0
)

// cmpStoresFile is the operator's mapping of reference mode: the bench
// project's paths to the SecretStore the controller would read them
// from.
const cmpStoresFile = `projects:
  ` + cmpProject + `:
  - path: secret/data/bench
    key: bench
    store:
      kind: SecretStore
      name: bench
`

type cmpOptions struct {
	runs int
	out  string
	keep bool
}

func parseCMPFlags(args []string) (*cmpOptions, error) {
	o := &cmpOptions{}
	fs := flag.NewFlagSet("argocd", flag.ContinueOnError)
	fs.IntVar(&o.runs, "runs", 5, "timed renders (the median is judged)")
	fs.StringVar(&o.out, "o", "", "also write the report to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.runs < 1 {
		return nil, errors.New("-runs must be at least 1")
	}
	return o, nil
}

// cmpReport is what the plugin benchmark prints.
type cmpReport struct {
	CPUModel, GoVersion, Vault string
	GOMAXPROCS                 int
	Load                       [2]string
	Walls                      []time.Duration // one per timed render
	Reads                      []int           // Vault reads of each render
	Objects                    int             // objects in one render's output
	Sealed                     int             // SealedSecrets among them
	SOPSLoop                   time.Duration   // sops --decrypt per file
	VaultLoop                  time.Duration   // one read per placeholder
	// The placeholders' folder alone, in each placeholder mode.
	Resolve, Reference cmpRuns
	External           int // ExternalSecrets in a reference render
}

// cmpRuns are the timed renders of one source in one mode.
type cmpRuns struct {
	Walls    []time.Duration // one per render
	Requests []int           // Vault requests counted during each render
	output   []byte          // the first render's output
}

func runArgoCD(ctx context.Context, c *cleanups, args []string) (err error) {
	o, err := parseCMPFlags(args)
	if err != nil {
		return err
	}
	rep := &cmpReport{Load: [2]string{loadAverage(), ""}, GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(), GoVersion: runtime.Version()}
	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := workDir(c, o.keep, &err)
	if err != nil {
		return err
	}
	keys, err := loadBenchKeys(root)
	if err != nil {
		return err
	}
	progress("building cmd/kubeseal")
	kubeseal := filepath.Join(dir, "kubeseal")
	build := exec.CommandContext(ctx, "go", "build", "-o", kubeseal, "./cmd/kubeseal")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/kubeseal: %w", err)
	}
	sopsDir, err := devenv.LookupToolDir("sops")
	if err != nil {
		return err
	}
	sops := filepath.Join(sopsDir, "sops")

	// The operator's side: the project's age key, certificate,
	// convergence key.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "age", cmpProject, "key.txt")
	if err := writeBenchFile(keyFile, []byte(fmt.Sprintf("# public key: %s\n%s\n", id.Recipient(), id))); err != nil {
		return err
	}
	cert := filepath.Join(dir, "cert.pem")
	if err := writeBenchFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: keys[len(keys)-1].Certificate.Raw})); err != nil {
		return err
	}
	conv := make([]byte, 32)
	if _, err := crand.Read(conv); err != nil {
		return err
	}
	if err := writeBenchFile(filepath.Join(dir, "convergence.key"), conv); err != nil {
		return err
	}

	progress("starting Vault")
	v, err := devenv.StartVault(ctx)
	if err != nil {
		return err
	}
	c.add(func() {
		if err := v.Stop(); err != nil {
			progress("stop vault: %v", err)
		}
	})
	if h, err := v.Client.Sys().HealthWithContext(ctx); err == nil {
		rep.Vault = h.Version
	}
	audit := filepath.Join(v.Dir, "audit.log")
	token, err := seedCMPVault(ctx, v, audit)
	if err != nil {
		return err
	}
	store := fmt.Sprintf("apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: bench\nspec:\n  provider:\n    vault:\n      server: %s\n      version: v2\n      auth:\n        tokenSecretRef:\n          name: vault-token\n          key: token\n", v.Addr)
	if err := writeBenchFile(filepath.Join(dir, "stores", cmpProject, "store.yaml"), []byte(store)); err != nil {
		return err
	}
	if err := writeBenchFile(filepath.Join(dir, "stores", cmpProject, "secrets", "vault-token", "token"), []byte(token)); err != nil {
		return err
	}

	// The tenant's side: the source.
	app := filepath.Join(dir, "repo", "apps", "bench")
	encrypted, err := writeCMPSource(ctx, app, sops, id.Recipient().String(), dir)
	if err != nil {
		return err
	}

	env := []string{
		"PATH=/usr/bin:/bin", "HOME=" + dir, "KUBECONFIG=" + filepath.Join(dir, "none"),
		"ARGOCD_APP_NAME=bench", "ARGOCD_APP_NAMESPACE=bench", "ARGOCD_APP_PROJECT_NAME=" + cmpProject,
		"ARGOCD_APP_SOURCE_PATH=apps/bench", "KUBE_VERSION=1.31.2",
		"SEALSYNC_AGE_KEYS_DIR=" + filepath.Join(dir, "age"),
		"SEALSYNC_STORES_DIR=" + filepath.Join(dir, "stores"),
		"SEALED_SECRETS_CERT=" + cert,
		"SEALSYNC_CONVERGENCE_KEY_FILE=" + filepath.Join(dir, "convergence.key"),
	}
	full, err := timeCMP(ctx, "render", o.runs, kubeseal, app, env, func() (int, error) { return countCMPReads(audit) })
	if err != nil {
		return err
	}
	rep.Walls, rep.Reads = full.Walls, full.Requests
	rep.Objects = bytes.Count(full.output, []byte("\n---\n")) + 1
	rep.Sealed = bytes.Count(full.output, []byte("\nkind: SealedSecret\n"))
	if bytes.Contains(full.output, []byte("\nkind: Secret\n")) {
		return errors.New("a plain Secret in the output")
	}

	if err := runCMPModes(ctx, rep, o.runs, kubeseal, dir, app, env, audit); err != nil {
		return err
	}

	progress("the usual way: sops --decrypt per file")
	start := time.Now()
	for _, f := range encrypted {
		cmd := exec.CommandContext(ctx, sops, "--disable-version-check", "decrypt", f)
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "SOPS_AGE_KEY_FILE=" + keyFile}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("sops --decrypt %s: %w\n%s", f, err, out)
		}
	}
	rep.SOPSLoop = time.Since(start)

	progress("the usual way: one Vault read per placeholder, in a row")
	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: v.Addr})
	if err != nil {
		return err
	}
	vc.SetToken(token)
	start = time.Now()
	for i := range cmpPlaceholders {
		if _, err := vc.KVv2("secret").Get(ctx, cmpPath(i%cmpPaths)); err != nil {
			return err
		}
	}
	rep.VaultLoop = time.Since(start)

	rep.Load[1] = loadAverage()
	text := rep.markdown(o.runs)
	fmt.Print(text)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
			return err
		}
	}
	if missed := rep.missed(); len(missed) > 0 {
		return fmt.Errorf("goals missed: %s", strings.Join(missed, "; "))
	}
	return nil
}

func cmpPath(i int) string { return fmt.Sprintf("bench/plugin-%02d", i) }

// timeCMP runs `kubeseal argocd generate` runs times in app with env,
// counting Vault's requests around each render with count. Every render
// must give the first one's bytes.
func timeCMP(ctx context.Context, name string, runs int, kubeseal, app string, env []string, count func() (int, error)) (*cmpRuns, error) {
	r := &cmpRuns{}
	for i := range runs {
		before, err := count()
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, kubeseal, "argocd", "generate")
		cmd.Dir, cmd.Env = app, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err = cmd.Run()
		wall := time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("%s: kubeseal argocd generate: %w\n%s", name, err, stderr.String())
		}
		after, err := count()
		if err != nil {
			return nil, err
		}
		r.Walls = append(r.Walls, wall)
		r.Requests = append(r.Requests, after-before)
		progress("%s %d: %.2fs, %d Vault requests", name, i+1, wall.Seconds(), after-before)
		if r.output == nil {
			r.output = stdout.Bytes()
		} else if !bytes.Equal(r.output, stdout.Bytes()) {
			return nil, fmt.Errorf("%s: two renders of the unchanged source differ", name)
		}
	}
	return r, nil
}

// runCMPModes renders the placeholders' folder alone as its own
// application, in resolve mode with the sidecar's store credentials, and
// in reference mode with none: no stores folder, no age keys, only the
// operator's mapping file, the certificate and the convergence key. In
// reference mode every Vault request counts, not only reads of the
// bench's paths.
func runCMPModes(ctx context.Context, rep *cmpReport, runs int, kubeseal, dir, app string, env []string, audit string) error {
	phApp := filepath.Join(app, "placeholders")
	phEnv := slices.Clone(env)
	for i, kv := range phEnv {
		if strings.HasPrefix(kv, "ARGOCD_APP_SOURCE_PATH=") {
			phEnv[i] = "ARGOCD_APP_SOURCE_PATH=apps/bench/placeholders"
		}
	}
	res, err := timeCMP(ctx, "placeholders, resolve", runs, kubeseal, phApp, phEnv, func() (int, error) { return countCMPReads(audit) })
	if err != nil {
		return err
	}
	rep.Resolve = *res

	storesFile := filepath.Join(dir, "stores-file.yaml")
	if err := writeBenchFile(storesFile, []byte(cmpStoresFile)); err != nil {
		return err
	}
	refEnv := []string{"SEALSYNC_PLACEHOLDERS=reference", "SEALSYNC_STORES_FILE=" + storesFile}
	for _, kv := range phEnv {
		if !strings.HasPrefix(kv, "SEALSYNC_STORES_DIR=") && !strings.HasPrefix(kv, "SEALSYNC_AGE_KEYS_DIR=") {
			refEnv = append(refEnv, kv)
		}
	}
	ref, err := timeCMP(ctx, "placeholders, reference", runs, kubeseal, phApp, refEnv, func() (int, error) {
		log, err := devenv.ReadAuditLog(audit)
		return len(log), err
	})
	if err != nil {
		return err
	}
	rep.Reference = *ref
	out := ref.output
	rep.External = bytes.Count(out, []byte("\nkind: ExternalSecret\n"))
	switch {
	case rep.External != cmpPlaceholderFiles:
		return fmt.Errorf("reference mode: %d ExternalSecrets in the output, want %d", rep.External, cmpPlaceholderFiles)
	case bytes.Count(out, []byte("\n    sealsync.dev/rendered-as: reference\n")) != cmpPlaceholderFiles:
		return errors.New("reference mode: an ExternalSecret without sealsync.dev/rendered-as: reference")
	case bytes.Contains(out, []byte("\nkind: Secret\n")), bytes.Contains(out, []byte("\nkind: SealedSecret\n")):
		return errors.New("reference mode: a Secret or SealedSecret in the output")
	case bytes.Contains(out, []byte("value-")):
		return errors.New("reference mode: a Vault value in the output")
	}
	return nil
}

// seedCMPVault writes the bench's paths and returns a token that may read
// them and nothing else.
func seedCMPVault(ctx context.Context, v *devenv.Vault, audit string) (string, error) {
	if err := v.EnableFileAudit(ctx, audit); err != nil {
		return "", err
	}
	for p := range cmpPaths {
		fields := map[string]any{}
		for f := range cmpFields {
			fields[fmt.Sprintf("k%d", f)] = fmt.Sprintf("value-%02d-%d-%s", p, f, strings.Repeat("x", 24))
		}
		if _, err := v.Client.KVv2("secret").Put(ctx, cmpPath(p), fields); err != nil {
			return "", err
		}
	}
	if err := v.Client.Sys().PutPolicyWithContext(ctx, "sealsync-plugin-bench", `path "secret/data/bench/*" { capabilities = ["read"] }`); err != nil {
		return "", err
	}
	tok, err := v.Client.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"sealsync-plugin-bench"}, NoDefaultPolicy: true})
	if err != nil {
		return "", err
	}
	return tok.Auth.ClientToken, nil
}

// writeCMPSource writes the application: cmpSecrets Secrets encrypted by
// the real sops CLI (two at a time; this is setup, not measured) and
// cmpPlaceholderFiles Secrets holding cmpPlaceholders inline placeholders
// over cmpPaths paths, each path named by placeholders of several files.
// It returns the encrypted files.
func writeCMPSource(ctx context.Context, app, sops, recipient, home string) ([]string, error) {
	progress("encrypting %d Secrets with the sops CLI", cmpSecrets)
	files := make([]string, cmpSecrets)
	err := parallel(ctx, cmpSecrets, 2, func(ctx context.Context, i int) error {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-%03d\ntype: Opaque\nstringData:\n", i)
		for item := range cmpItems {
			fmt.Fprintf(&b, "  item%d: sops-value-%03d-%d-%s\n", item, i, item, strings.Repeat("y", 24))
		}
		plain := filepath.Join(home, "plain", fmt.Sprintf("s%03d.yaml", i))
		if err := writeBenchFile(plain, []byte(b.String())); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, sops, "--disable-version-check", "encrypt", "--age", recipient, "--encrypted-regex", "^(data|stringData)$", plain)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("sops encrypt: %w", err)
		}
		files[i] = filepath.Join(app, "sops", fmt.Sprintf("s%03d.sops.yaml", i))
		return writeBenchFile(files[i], out)
	})
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(home, "plain")); err != nil {
		return nil, err
	}
	per := cmpPlaceholders / cmpPlaceholderFiles
	for f := range cmpPlaceholderFiles {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: placeholders-%02d\ntype: Opaque\nstringData:\n", f)
		for j := range per {
			n := f*per + j
			fmt.Fprintf(&b, "  v%d: <path:secret/data/%s#k%d>\n", j, cmpPath((n*7)%cmpPaths), n%cmpFields)
		}
		if err := writeBenchFile(filepath.Join(app, "placeholders", fmt.Sprintf("p%02d.yaml", f)), []byte(b.String())); err != nil {
			return nil, err
		}
	}
	slices.Sort(files)
	return files, nil
}

// countCMPReads counts the KV reads of the bench's paths in the audit log.
func countCMPReads(audit string) (int, error) {
	log, err := devenv.ReadAuditLog(audit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range log {
		if r.Operation == "read" && strings.HasPrefix(r.Path, "secret/data/bench/plugin-") {
			n++
		}
	}
	return n, nil
}

func writeBenchFile(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o600)
}

func (r *cmpReport) median() time.Duration { return medianWall(r.Walls) }

func medianWall(walls []time.Duration) time.Duration {
	w := slices.Clone(walls)
	slices.Sort(w)
	return w[(len(w)-1)/2]
}

func (r *cmpReport) missed() []string {
	var missed []string
	if m := r.median(); m > goalCMPWall {
		missed = append(missed, fmt.Sprintf("render took %.2fs, goal %s", m.Seconds(), goalCMPWall))
	}
	if n := slices.Max(r.Reads); n > goalCMPReads {
		missed = append(missed, fmt.Sprintf("%d Vault reads, goal %d", n, goalCMPReads))
	}
	if m := medianWall(r.Reference.Walls); m > goalRefWall {
		missed = append(missed, fmt.Sprintf("reference-mode render took %.2fs, goal %s", m.Seconds(), goalRefWall))
	}
	if n := slices.Max(r.Reference.Requests); n > goalRefRequests {
		missed = append(missed, fmt.Sprintf("%d Vault requests in reference mode, goal %d", n, goalRefRequests))
	}
	return missed
}

func (r *cmpReport) markdown(runs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	w("## Argo CD plugin: %d SOPS Secrets and %d placeholders over %d Vault paths\n\n", cmpSecrets, cmpPlaceholders, cmpPaths)
	w("%s, GOMAXPROCS %d, %s, Vault %s; load average %s before, %s after.\n\n", r.CPUModel, r.GOMAXPROCS, r.GoVersion, r.Vault, r.Load[0], r.Load[1])
	lo, hi := slices.Min(r.Walls), slices.Max(r.Walls)
	w("| figure | goal | measured | |\n|---|---:|---:|---|\n")
	w("| wall time of one `kubeseal argocd generate`, sealed output (median of %d; range) | ≤ %gs | %.2fs (%.2f–%.2f) | %s |\n",
		runs, goalCMPWall.Seconds(), r.median().Seconds(), lo.Seconds(), hi.Seconds(), verdict(r.median() <= goalCMPWall))
	w("| Vault reads per render (audit log; most of any run) | ≤ %d | %d | %s |\n", goalCMPReads, slices.Max(r.Reads), verdict(slices.Max(r.Reads) <= goalCMPReads))
	w("| objects in the output, of which SealedSecrets | | %d, %d | |\n", r.Objects, r.Sealed)
	w("| the usual way: `sops --decrypt` of the %d files, one process per file, in a loop (decryption only) | | %.2fs | |\n", cmpSecrets, r.SOPSLoop.Seconds())
	w("| the usual way: %d Vault reads, one per placeholder, in a row (argocd-vault-plugin's pattern) | | %.2fs | |\n", cmpPlaceholders, r.VaultLoop.Seconds())
	res, ref := r.Resolve, r.Reference
	w("| the %d placeholder Secrets alone, resolve mode: wall time of one `generate`, sealed output (median of %d; range) | | %.2fs (%.2f–%.2f) | |\n",
		cmpPlaceholderFiles, runs, medianWall(res.Walls).Seconds(), slices.Min(res.Walls).Seconds(), slices.Max(res.Walls).Seconds())
	w("| the same, resolve mode: Vault reads per render (audit log; most of any run) | ≤ %d | %d | %s |\n", goalCMPReads, slices.Max(res.Requests), verdict(slices.Max(res.Requests) <= goalCMPReads))
	w("| the same, reference mode, no store credentials in the sidecar: wall time of one `generate` (median of %d; range) | ≤ %gs | %.2fs (%.2f–%.2f) | %s |\n",
		runs, goalRefWall.Seconds(), medianWall(ref.Walls).Seconds(), slices.Min(ref.Walls).Seconds(), slices.Max(ref.Walls).Seconds(), verdict(medianWall(ref.Walls) <= goalRefWall))
	w("| the same, reference mode: Vault requests of any kind per render (audit log; most of any run) | %d | %d | %s |\n", goalRefRequests, slices.Max(ref.Requests), verdict(slices.Max(ref.Requests) <= goalRefRequests))
	w("| the same, reference mode: ExternalSecrets in the output | | %d | |\n\n", r.External)
	return b.String()
}
