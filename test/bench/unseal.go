package main

// The unseal benchmark, as the issue asks: on one envtest API server, 500
// SealedSecrets × 2 items sealed with the oldest of 12 keys (a year of
// 30-day renewal). Each contender is started as a process after its
// predecessor's Secrets are deleted and the SealedSecrets created afresh,
// and timed from process start until a watch has seen all 500 Secrets.
// The floor is measured first, in the same run. Then memory: each
// controller's VmHWM and VmRSS once it has synced, with no other Secrets
// and with 20,000 unrelated 1 KiB Secrets in the cluster.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spf13/pflag"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/controller"
	"github.com/sealsync/sealsync/internal/devenv"
	"github.com/sealsync/sealsync/internal/keys/keyfile"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
	"github.com/sealsync/sealsync/internal/sealing"
)

const (
	// keyNamespace is the controllers' namespace, holding the keys.
	keyNamespace = "kube-system"
	// benchKeys are the committed keys crypto/testdata/keys/bench-NN.pem,
	// bench-01 the oldest.
	benchKeys = 12
	// namespaceCount namespaces hold sealedCount SealedSecrets of two
	// items each, in strict scope.
	namespaceCount = 5
	sealedCount    = 500
	// targetLabel is on every Secret the controllers write (through the
	// template), so that one watch sees exactly those.
	targetLabel = "bench.sealsync.dev/unseal"
	// noiseNamespace holds noiseCount unrelated Secrets of noiseSize bytes
	// for the memory comparison.
	noiseNamespace = "bench-noise"
	noiseCount     = 20000
	noiseSize      = 1 << 10
	// settle is how long a controller runs on after its Secrets exist
	// before its memory is read.
	settle = 3 * time.Second
	// bitnamiDefaultWall is Bitnami's time with its default 5 QPS, for the
	// message when that run is skipped.
	bitnamiDefaultWall = "≈298 s"
)

// Contender names; the report finds the Bitnami baselines by name.
const (
	nameOurs           = "sealsync"
	nameOursUnhinted   = "sealsync, no key-id hint"
	nameBitnamiTuned   = "Bitnami v0.36.6, --kubeclient-qps=-1"
	nameBitnamiDefault = "Bitnami v0.36.6, default (5 QPS)"
)

// unsealBench holds what the runs share.
type unsealBench struct {
	k          *cluster
	dir        string
	kubeconfig string
	inCluster  *inCluster
	ours       string // our controller binary
	bitnami    string // Bitnami's controller binary
	timeout    time.Duration
	targets    map[string]bool // "namespace/name" of every Secret to be written
	leaseID    string          // our default leader election lease
}

// contender is one controller configuration to time.
type contender struct {
	name   string
	sealed []*ssv1alpha1.SealedSecret
	spec   func(logPath string) (procSpec, error)
}

// runResult is what one contender run measured.
type runResult struct {
	Name     string
	Wall     time.Duration // process start to all Secrets seen
	CPU      time.Duration // user+system until then
	HWM, RSS int64         // bytes, read after the settle time
	Killed   bool          // needed SIGKILL to stop
	// ControlPlaneCPU is what kube-apiserver and etcd used meanwhile: on
	// two cores they compete with the controller.
	ControlPlaneCPU time.Duration
}

// unsealOptions are the flags of the unseal subcommand.
type unsealOptions struct {
	skipSlow, skipRSS, keep bool
	out, profileDir         string
	profileFlags            []string
	timeout                 time.Duration
	count                   int
	run                     *regexp.Regexp
	try                     []string
}

func parseUnsealFlags(args []string) (*unsealOptions, error) {
	o := &unsealOptions{}
	fs := flag.NewFlagSet("unseal", flag.ContinueOnError)
	fs.BoolVar(&o.skipSlow, "skip-slow", false, "skip Bitnami with its default --kubeclient-qps=5 (≈5 min)")
	fs.BoolVar(&o.skipRSS, "skip-rss", false, "skip the memory comparison with 20,000 unrelated Secrets")
	fs.StringVar(&o.out, "o", "", "also write the report (markdown) to `FILE`")
	fs.StringVar(&o.profileDir, "profile", "", "also run our controller in-process with a CPU profile and API call counts, written to `DIR`")
	profileFlags := fs.String("profile-flags", "", "extra controller `FLAGS` for the -profile run, e.g. --kubeclient-qps=-1, to see what a change would gain")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up on a controller run after this long")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder (controller logs, kubeconfig) even on success")
	fs.IntVar(&o.count, "count", 1, "measure the floor and time each contender `N` times, interleaved, and report medians (Bitnami's default run is paced by its rate limiter and runs once)")
	run := fs.String("run", "", "time only the contenders whose name matches `REGEXP` (the floor is always measured)")
	fs.Func("try", "also time our controller with these extra `FLAGS` (space-separated; repeatable), e.g. -try=--kubeclient-qps=-1", func(v string) error {
		o.try = append(o.try, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.count < 1 {
		return nil, fmt.Errorf("-count must be at least 1")
	}
	var err error
	if o.run, err = regexp.Compile(*run); err != nil {
		return nil, fmt.Errorf("-run: %w", err)
	}
	o.profileFlags = strings.Fields(*profileFlags)
	return o, nil
}

func runUnseal(ctx context.Context, c *cleanups, args []string) (err error) {
	o, err := parseUnsealFlags(args)
	if err != nil {
		return err
	}
	rep := &unsealReport{Load: [2]string{loadAverage(), ""}, GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(), GoVersion: runtime.Version()}
	su, err := prepare(ctx, c, o.keep, &err)
	if err != nil {
		return err
	}
	dir, keys := su.dir, su.keys
	b := &unsealBench{dir: dir, ours: su.controller, timeout: o.timeout, leaseID: defaultLeaseID()}
	toolDir, err := devenv.LookupToolDir("kubeseal")
	if err != nil {
		return err
	}
	b.bitnami = filepath.Join(toolDir, "controller")

	progress("starting the API server")
	if b.k, err = startCluster(c); err != nil {
		return err
	}
	if v, err := b.k.clientset.Discovery().ServerVersion(); err == nil {
		rep.APIServer = v.GitVersion
	}
	if b.kubeconfig, err = b.k.writeKubeconfig(dir); err != nil {
		return err
	}
	if b.inCluster, err = prepareInCluster(ctx, b.k, keyNamespace, dir); err != nil {
		return err
	}

	progress("creating %d key Secrets, sealing %d SealedSecrets with the oldest key", len(keys), sealedCount)
	hinted, targets, err := b.setup(ctx, keys)
	if err != nil {
		return err
	}
	unhinted := make([]*ssv1alpha1.SealedSecret, len(hinted))
	for i, ss := range hinted {
		unhinted[i] = ss.DeepCopy()
		delete(unhinted[i].Annotations, ssv1alpha1.KeyIDAnnotation)
	}

	ours := b.oursContender(nameOurs, hinted)
	bitnamiTuned := b.bitnamiContender(nameBitnamiTuned, hinted, "--kubeclient-qps=-1")
	contenders := []contender{ours, b.oursContender(nameOursUnhinted, unhinted)}
	for _, flags := range o.try {
		contenders = append(contenders, b.oursContender(nameOurs+", "+flags, hinted, strings.Fields(flags)...))
	}
	contenders = append(contenders, bitnamiTuned, b.bitnamiContender(nameBitnamiDefault, hinted))
	for _, ct := range contenders {
		cr := &contenderResult{Name: ct.name}
		switch {
		case !o.run.MatchString(ct.name):
			cr.Skipped = "not selected by -run"
		case o.skipSlow && ct.name == nameBitnamiDefault:
			cr.Skipped = "-skip-slow (reference: " + bitnamiDefaultWall + ")"
		}
		rep.Contenders = append(rep.Contenders, cr)
	}
	if err := b.timeRounds(ctx, rep, o.count, contenders, func() (floor, error) {
		return measureFloor(ctx, b, keys[0], hinted, targets)
	}); err != nil {
		return err
	}
	if o.profileDir != "" {
		progress("profiling our controller in-process")
		if rep.Profile, err = b.profile(ctx, hinted, o.profileDir, o.profileFlags); err != nil {
			return err
		}
	}
	if !o.skipRSS {
		if rep.Memory, err = b.compareMemory(ctx, ours, bitnamiTuned); err != nil {
			return err
		}
	}

	rep.Load[1] = loadAverage()
	text := rep.markdown()
	fmt.Print(text)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(text), 0o644)
	}
	return nil
}

// timeRounds measures the floor and times every contender not skipped,
// count times. Rounds interleave the contenders, so that a burst of other
// work on a shared machine spreads over all of them instead of hitting
// one.
func (b *unsealBench) timeRounds(ctx context.Context, rep *unsealReport, count int, contenders []contender, measureFloor func() (floor, error)) error {
	for round := range count {
		progress("round %d of %d: measuring the floor", round+1, count)
		f, err := measureFloor()
		if err != nil {
			return err
		}
		rep.Floors = append(rep.Floors, f)
		progress("floor %.2f s (decrypt %.2f s, create %.2f s)", f.Total().Seconds(), f.Decrypt.Seconds(), f.Create.Seconds())
		for i, ct := range contenders {
			cr := rep.Contenders[i]
			// Bitnami's default run is paced by its rate limiter, not by
			// the machine: once is enough.
			if cr.Skipped != "" || (ct.name == nameBitnamiDefault && round > 0) {
				continue
			}
			r, err := b.run(ctx, ct, 0)
			if f := recorded(err); f != nil {
				cr.Failures = append(cr.Failures, f.short())
				continue
			}
			if err != nil {
				return err
			}
			cr.Runs = append(cr.Runs, r)
		}
	}
	return nil
}

// compareMemory reads each contender's memory once synced, then creates
// the unrelated Secrets and reads it again.
func (b *unsealBench) compareMemory(ctx context.Context, contenders ...contender) ([]memoryResult, error) {
	results := make([]memoryResult, len(contenders))
	for _, phase := range []string{"without", "with"} {
		with := phase == "with"
		if with {
			progress("creating %d unrelated %d-byte Secrets in %s", noiseCount, noiseSize, noiseNamespace)
			if err := b.createNoise(ctx); err != nil {
				return nil, err
			}
		}
		for i, ct := range contenders {
			m := &results[i]
			m.Name = ct.name
			r, err := b.run(ctx, ct, settle)
			if f := recorded(err); f != nil {
				m.Failures = append(m.Failures, phase+": "+f.short())
				continue
			}
			if err != nil {
				return nil, err
			}
			if with {
				m.With = r
			} else {
				m.Without = r
			}
		}
	}
	return results, nil
}

// loadBenchKeys reads the twelve bench keys, oldest first.
func loadBenchKeys(root string) ([]*crypto.Key, error) {
	var keys []*crypto.Key
	for i := 1; i <= benchKeys; i++ {
		path := filepath.Join(root, "crypto", "testdata", "keys", fmt.Sprintf("bench-%02d.pem", i))
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ks, err := keyfile.ParseKeys(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		keys = append(keys, ks[0])
	}
	return keys, nil
}

// defaultLeaseID is the name of our controller's leader election lease
// with default flags.
func defaultLeaseID() string {
	return controller.BindFlags(pflag.NewFlagSet("", pflag.ContinueOnError)).LeaderElectionID
}

// setup creates the namespaces and key Secrets and seals the SealedSecrets
// (without creating them) with keys[0]. It returns them with the Secrets
// they unseal to.
func (b *unsealBench) setup(ctx context.Context, keys []*crypto.Key) ([]*ssv1alpha1.SealedSecret, []*corev1.Secret, error) {
	for _, ns := range append(benchNamespaces(), keyNamespace, noiseNamespace) {
		err := b.k.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, nil, fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	for _, k := range keys {
		if err := b.k.client.Create(ctx, keysecret.New(k, keyNamespace, keysecret.DefaultPrefix, nil, nil)); err != nil {
			return nil, nil, fmt.Errorf("create key secret: %w", err)
		}
	}
	sealer := sealing.NewSealer(rand.Reader, &keys[0].PrivateKey.PublicKey)
	b.targets = map[string]bool{}
	var sealed []*ssv1alpha1.SealedSecret
	var targets []*corev1.Secret
	for i := range sealedCount {
		password := make([]byte, 24)
		if _, err := rand.Read(password); err != nil {
			return nil, nil, err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("app-%03d", i),
				Namespace: benchNamespaces()[i%namespaceCount],
				Labels:    map[string]string{targetLabel: "true"},
			},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{
				"username": fmt.Appendf(nil, "app-%03d", i),
				"password": []byte(base64.StdEncoding.EncodeToString(password)),
			},
		}
		ss, err := sealer.SealSecret(s)
		if err != nil {
			return nil, nil, err
		}
		sealed = append(sealed, ss)
		targets = append(targets, s)
		b.targets[s.Namespace+"/"+s.Name] = true
	}
	return sealed, targets, nil
}

func benchNamespaces() []string {
	ns := make([]string, namespaceCount)
	for i := range ns {
		ns[i] = "bench-" + strconv.Itoa(i+1)
	}
	return ns
}

// oursContender runs our controller with its default flags, plus a
// kubeconfig, free ports and --key-renew-period=0 as Bitnami gets (the
// bench keys' dates are fixed, and a renewal due at start would add a
// key generation and a thirteenth key to what is measured), plus extra.
func (b *unsealBench) oursContender(name string, sealed []*ssv1alpha1.SealedSecret, extra ...string) contender {
	return contender{name: name, sealed: sealed, spec: func(logPath string) (procSpec, error) {
		listen, err := listenFlags()
		if err != nil {
			return procSpec{}, err
		}
		args := append(append([]string{"--kubeconfig", b.kubeconfig, "--key-renew-period=0"}, listen...), extra...)
		return procSpec{name: name, path: b.ours, args: args, env: baseEnv(keyNamespace), logPath: logPath}, nil
	}}
}

// bitnamiContender runs Bitnami's controller as if in a pod, with the
// flags the reference measurements used plus extra.
func (b *unsealBench) bitnamiContender(name string, sealed []*ssv1alpha1.SealedSecret, extra ...string) contender {
	return contender{name: name, sealed: sealed, spec: func(logPath string) (procSpec, error) {
		listen, err := listenFlags()
		if err != nil {
			return procSpec{}, err
		}
		args := append(append([]string{"--key-renew-period=0", "--update-status"}, listen...), extra...)
		path, argv, env := b.inCluster.command(b.bitnami, args, keyNamespace)
		return procSpec{name: name, path: path, args: argv, env: env, logPath: logPath}, nil
	}}
}

// listenFlags returns --listen-addr and --listen-metrics-addr on free
// local ports.
func listenFlags() ([]string, error) {
	var flags []string
	for _, name := range []string{"--listen-addr", "--listen-metrics-addr"} {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		flags = append(flags, fmt.Sprintf("%s=127.0.0.1:%d", name, p))
	}
	return flags, nil
}

// reset deletes the previous run's Secrets and SealedSecrets and our
// leader lease, then creates sealed afresh, so that every run starts from
// the same state: no Secret, no status, no lease to wait for.
func (b *unsealBench) reset(ctx context.Context, sealed []*ssv1alpha1.SealedSecret) error {
	if err := b.deleteTargets(ctx); err != nil {
		return err
	}
	for _, ns := range benchNamespaces() {
		if err := b.k.client.DeleteAllOf(ctx, &ssv1alpha1.SealedSecret{}, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("delete sealed secrets in %s: %w", ns, err)
		}
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: b.leaseID, Namespace: keyNamespace}}
	if err := b.k.client.Delete(ctx, lease); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete lease: %w", err)
	}
	return parallel(ctx, len(sealed), 4*runtime.GOMAXPROCS(0), func(ctx context.Context, i int) error {
		return b.k.client.Create(ctx, sealed[i].DeepCopy())
	})
}

// deleteTargets deletes every Secret a run writes.
func (b *unsealBench) deleteTargets(ctx context.Context) error {
	for _, ns := range benchNamespaces() {
		if err := b.k.client.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(ns), client.HasLabels{targetLabel}); err != nil {
			return fmt.Errorf("delete secrets in %s: %w", ns, err)
		}
	}
	return nil
}

// run times one contender from a fresh start. With a settle time it lets
// the controller run that much longer before reading its memory.
func (b *unsealBench) run(ctx context.Context, ct contender, settle time.Duration) (runResult, error) {
	r := runResult{Name: ct.name}
	if err := b.reset(ctx, ct.sealed); err != nil {
		return r, err
	}
	w, err := watchSecrets(ctx, b.k.client, targetLabel, b.targets)
	if err != nil {
		return r, err
	}
	defer w.stop()
	if n := w.count(); n != 0 {
		return r, fmt.Errorf("%d Secrets of the previous run are still there", n)
	}
	logPath := filepath.Join(b.dir, fmt.Sprintf("%s-%d.log", slug(ct.name), time.Now().UnixNano()))
	spec, err := ct.spec(logPath)
	if err != nil {
		return r, err
	}
	cp0, err := b.k.controlPlaneCPU()
	if err != nil {
		return r, err
	}
	progress("%s: starting (log %s)", ct.name, logPath)
	p, err := startProc(spec)
	if err != nil {
		return r, err
	}
	defer p.stop()
	runCtx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	doneAt, err := w.wait(runCtx, p.exited, p.errExited, func(n int) {
		progress("%s: %d/%d Secrets after %.0f s", ct.name, n, len(b.targets), time.Since(p.started).Seconds())
	})
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if runCtx.Err() != nil {
			err = fmt.Errorf("%d of %d Secrets after %s", w.count(), len(b.targets), b.timeout)
		}
		return r, &runFailure{name: ct.name, err: err, log: logPath}
	}
	r.Wall = doneAt.Sub(p.started)
	st, err := p.stats()
	if err != nil {
		return r, err
	}
	r.CPU = st.CPU
	cp1, err := b.k.controlPlaneCPU()
	if err != nil {
		return r, err
	}
	r.ControlPlaneCPU = cp1 - cp0
	if settle > 0 {
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			return r, ctx.Err()
		}
		if st, err = p.stats(); err != nil {
			return r, err
		}
	}
	r.HWM, r.RSS = st.HWM, st.RSS
	r.Killed = p.stop()
	progress("%s: %d Secrets in %.2f s, CPU %.2f s, VmHWM %.1f MiB, VmRSS %.1f MiB%s", ct.name, len(b.targets),
		r.Wall.Seconds(), r.CPU.Seconds(), mib(r.HWM), mib(r.RSS), map[bool]string{true: " (needed SIGKILL)"}[r.Killed])
	return r, nil
}

// runFailure is a contender that did not finish its run: it exited early
// or timed out. The bench records it and goes on.
type runFailure struct {
	name string
	err  error
	log  string
}

func (f *runFailure) Error() string {
	return fmt.Sprintf("%s: %v; last lines of %s:\n%s", f.name, f.err, f.log, tail(f.log, 20))
}

// short is the failure in one line.
func (f *runFailure) short() string {
	msg, _, _ := strings.Cut(f.err.Error(), "\n")
	return msg
}

// recorded returns the failure err reports, after printing it, or nil
// when err is something else: an error that must end the bench.
func recorded(err error) *runFailure {
	var f *runFailure
	if errors.As(err, &f) {
		progress("run failed: %v", f)
		return f
	}
	return nil
}

// createNoise creates the unrelated Secrets, in parallel.
func (b *unsealBench) createNoise(ctx context.Context) error {
	start := time.Now()
	err := parallel(ctx, noiseCount, 8*runtime.GOMAXPROCS(0), func(ctx context.Context, i int) error {
		data := make([]byte, noiseSize)
		if _, err := rand.Read(data); err != nil {
			return err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("noise-%05d", i), Namespace: noiseNamespace},
			Data:       map[string][]byte{"blob": data},
		}
		if err := b.k.client.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		if (i+1)%5000 == 0 {
			progress("%d unrelated Secrets created", i+1)
		}
		return nil
	})
	progress("created %d unrelated Secrets in %.1f s", noiseCount, time.Since(start).Seconds())
	return err
}

// slug turns a contender name into a file name part.
func slug(s string) string {
	out := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			out = append(out, c)
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		case len(out) > 0 && out[len(out)-1] != '-':
			out = append(out, '-')
		}
	}
	return string(out)
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }
