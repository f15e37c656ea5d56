package main

// The ExternalSecrets benchmark, as issue 4 asks: on one envtest API
// server and one Vault dev server, 1,000 ExternalSecrets in 10 namespaces,
// each with 2 data refs (a property each) drawn from 100 KV v2 paths, one
// AppRole SecretStore per namespace, refreshInterval 1m, synced by our
// controller running as a process. Vault's file audit device records
// every request it receives with its time; the bench counts logins and
// reads in windows of one refresh interval placed between refresh slots,
// so that each window holds exactly one slot.

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/devenv"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

const (
	// esoNamespaces namespaces hold esoPerNamespace ExternalSecrets each,
	// and one SecretStore.
	esoNamespaces   = 10
	esoPerNamespace = 100
	esoCount        = esoNamespaces * esoPerNamespace
	// esoPaths KV v2 secrets under secret/bench/, each with the
	// properties esoProperties; every ExternalSecret has esoRefs data refs.
	esoPaths = 100
	esoRefs  = 2
	// esoInterval is every ExternalSecret's refreshInterval.
	esoInterval = time.Minute
	// esoMidCycle new ExternalSecrets are created one by one between two
	// refresh slots, and timed to Ready.
	esoMidCycle = 5
	// esoStore names the SecretStore of each namespace, esoAppRoleSecret
	// the Secret beside it holding the AppRole secret ID.
	esoStore         = "vault"
	esoAppRoleSecret = "vault-approle"
	// esoPolicy lets the AppRole read the bench's paths and nothing else.
	esoPolicy = "sealsync-bench-read"
	// esoSeed makes the refs drawn the same in every run.
	esoSeed = 4
)

// esoProperties are the fields of every bench secret; refs pick one.
var esoProperties = []string{"username", "password", "host", "port"}

// Goals of the ExternalSecrets benchmark, from the issue.
const (
	// goalReadsPerCycle and goalLoginsPerCycle bound the Vault requests
	// of one refresh interval; a per-reference design makes 2,000 reads
	// and 1,000 logins.
	goalReadsPerCycle  = 100
	goalLoginsPerCycle = 10
	// goalMidCycleReady bounds the time a new ExternalSecret created
	// between refresh slots takes to become Ready.
	goalMidCycleReady = 2 * time.Second
)

func parseESOFlags(args []string) (*cycleFlags, error) {
	o := &cycleFlags{}
	fs := flag.NewFlagSet("eso", flag.ContinueOnError)
	o.bind(fs, "Vault requests")
	return o, o.parse(fs, args)
}

// esoBench holds what the phases of the benchmark share.
type esoBench struct {
	k     *cluster
	v     *devenv.Vault
	audit string // Vault's audit log
	proc  *proc  // our controller
	role  devenv.AppRole
	// refreshes records when ExternalSecrets refreshed after their first
	// sync, as the watch saw their status.refreshTime advance.
	refreshes refreshLog
}

// esoReport is everything the benchmark measured.
type esoReport struct {
	CPUModel, GoVersion, APIServer, Vault string
	GOMAXPROCS                            int
	// Flags are the controller flags beyond the defaults.
	Flags []string
	Load  [2]string // before and after
	// StoresReady is from creating the SecretStores to all Ready, with
	// the logins Vault saw meanwhile.
	StoresReady       time.Duration
	StoresReadyLogins int
	// Creates is how long creating the ExternalSecrets took, AllReady
	// from the first create to all Ready.
	Creates, AllReady time.Duration
	// Initial is the Vault requests from the first create to all Ready,
	// InitialResyncs how often meanwhile an ExternalSecret already
	// synced once was synced again (in a refresh slot or not).
	Initial        requestCount
	InitialResyncs int
	// Cycles are the refresh intervals counted after the initial sync.
	Cycles []cycleCount
	// MidCycle are the times of the new ExternalSecrets to Ready.
	MidCycle []time.Duration
	// Synced and End are the controller's figures once all were Ready
	// and at the end.
	Synced, End procStats
}

// requestCount is Vault's requests over a span of time.
type requestCount struct {
	Logins, Reads, Other int
	// Paths is how many distinct secrets were read.
	Paths int
}

// cycleCount is one refresh interval's requests.
type cycleCount struct {
	From, To time.Time
	// Refreshed is how many ExternalSecrets refreshed in it, Span the
	// time from the first refresh seen to the last: how long the slot's
	// refreshes took to get through the controller.
	Refreshed int
	Span      time.Duration
	requestCount
}

func runESO(ctx context.Context, c *cleanups, args []string) (err error) {
	o, err := parseESOFlags(args)
	if err != nil {
		return err
	}
	rep := &esoReport{Load: [2]string{loadAverage(), ""}, GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(), GoVersion: runtime.Version(),
		Flags: o.extra}
	su, err := prepare(ctx, c, o.keep, &err)
	if err != nil {
		return err
	}
	dir, bin, keys := su.dir, su.controller, su.keys
	b := &esoBench{}

	progress("starting the API server and Vault")
	if b.k, err = startCluster(c); err != nil {
		return err
	}
	if v, err := b.k.clientset.Discovery().ServerVersion(); err == nil {
		rep.APIServer = v.GitVersion
	}
	kubeconfig, err := b.k.writeKubeconfig(dir)
	if err != nil {
		return err
	}
	if b.v, err = devenv.StartVault(ctx); err != nil {
		return err
	}
	c.add(func() {
		progress("stopping Vault")
		if err := b.v.Stop(); err != nil {
			progress("stop vault: %v", err)
		}
	})
	if h, err := b.v.Client.Sys().HealthWithContext(ctx); err == nil {
		rep.Vault = h.Version
	}
	if err := b.seedVault(ctx); err != nil {
		return err
	}
	if err := b.seedCluster(ctx, keys[len(keys)-1]); err != nil {
		return err
	}

	listen, err := listenFlags()
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "controller.log")
	progress("starting our controller (log %s)", logPath)
	b.proc, err = startProc(procSpec{
		name: nameOurs, path: bin, env: baseEnv(keyNamespace), logPath: logPath,
		// The key Secret is given and dated: no key generation or renewal
		// in what is measured.
		args: append(append([]string{"--kubeconfig", kubeconfig, "--key-renew-period=0"}, listen...), o.extra...),
	})
	if err != nil {
		return err
	}
	defer b.proc.stop()
	if err := waitReconciling(ctx, b.k, b.proc); err != nil {
		return err
	}

	if err := b.measureStores(ctx, rep); err != nil {
		return err
	}
	esw, err := b.watchExternalSecrets(ctx)
	if err != nil {
		return err
	}
	defer esw.stop()
	synced, err := b.measureInitialSync(ctx, rep, esw)
	if err != nil {
		return err
	}
	if err := b.measureCycles(ctx, rep, synced, o.cycles); err != nil {
		return err
	}
	if rep.MidCycle, err = b.measureMidCycle(ctx, esw); err != nil {
		return err
	}
	if rep.End, err = b.proc.stats(); err != nil {
		return err
	}

	rep.Load[1] = loadAverage()
	return finish(rep.markdown(), o.out, rep.missed())
}

// seedVault turns on the audit device, writes the bench's secrets, a
// policy reading them and the AppRole every store logs in with.
func (b *esoBench) seedVault(ctx context.Context) error {
	b.audit = filepath.Join(b.v.Dir, "audit.log")
	if err := b.v.EnableFileAudit(ctx, b.audit); err != nil {
		return err
	}
	progress("writing %d Vault secrets", esoPaths)
	kv := b.v.Client.KVv2("secret")
	for i := range esoPaths {
		data := map[string]any{
			"username": fmt.Sprintf("user-%03d", i),
			"password": crand.Text(),
			"host":     fmt.Sprintf("db-%03d.bench.svc", i),
			"port":     fmt.Sprint(5432 + i),
		}
		if _, err := kv.Put(ctx, esoPath(i), data); err != nil {
			return fmt.Errorf("put %s: %w", esoPath(i), err)
		}
	}
	err := b.v.Client.Sys().PutPolicyWithContext(ctx, esoPolicy, `path "secret/data/bench/*" { capabilities = ["read"] }`)
	if err != nil {
		return fmt.Errorf("write policy %s: %w", esoPolicy, err)
	}
	b.role, err = b.v.CreateAppRole(ctx, "sealsync-bench", esoPolicy)
	return err
}

// esoPath is the key of the i-th bench secret, relative to the stores'
// path secret/.
func esoPath(i int) string { return fmt.Sprintf("bench/app-%03d", i) }

func esoNamespace(i int) string { return fmt.Sprintf("eso-%02d", i+1) }

// seedCluster creates the namespaces, our controller's key Secret and,
// in each namespace, the Secret holding the AppRole secret ID.
func (b *esoBench) seedCluster(ctx context.Context, key *crypto.Key) error {
	for _, ns := range append([]string{keyNamespace}, esoNamespaceNames()...) {
		err := b.k.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	if err := b.k.client.Create(ctx, keysecret.New(key, keyNamespace, keysecret.DefaultPrefix, nil, nil)); err != nil {
		return fmt.Errorf("create key secret: %w", err)
	}
	for _, ns := range esoNamespaceNames() {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: esoAppRoleSecret, Namespace: ns},
			StringData: map[string]string{"secret-id": b.role.SecretID},
		}
		if err := b.k.client.Create(ctx, s); err != nil {
			return fmt.Errorf("create secret %s/%s: %w", ns, esoAppRoleSecret, err)
		}
	}
	return nil
}

func esoNamespaceNames() []string {
	ns := make([]string, esoNamespaces)
	for i := range ns {
		ns[i] = esoNamespace(i)
	}
	return ns
}

// waitReconciling waits until our controller reconciles SecretStores: it
// creates a store of the fake provider in the controller's namespace and
// waits for it to be Ready. From then on the controller has its lease
// and its caches, and what follows measures syncing, not starting.
func waitReconciling(ctx context.Context, k *cluster, p *proc) error {
	probe := &esv1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-probe", Namespace: keyNamespace},
		Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{
			Data: []esv1.FakeProviderData{{Key: "probe", Value: "probe"}},
		}}},
	}
	w, err := watchObjects(ctx, listWatch{cl: k.client, newList: func() client.ObjectList { return &esv1.SecretStoreList{} },
		opts: []client.ListOption{client.InNamespace(keyNamespace)}}, map[string]bool{keyNamespace + "/" + probe.Name: true}, storeReady, nil)
	if err != nil {
		return err
	}
	defer w.stop()
	if err := k.client.Create(ctx, probe); err != nil {
		return fmt.Errorf("create probe secret store: %w", err)
	}
	_, err = waitAll(ctx, p, w, "fake SecretStores", 1)
	return err
}

// measureStores creates one AppRole SecretStore per namespace and times
// them to Ready.
func (b *esoBench) measureStores(ctx context.Context, rep *esoReport) error {
	want := map[string]bool{}
	for _, ns := range esoNamespaceNames() {
		want[ns+"/"+esoStore] = true
	}
	w, err := watchObjects(ctx, listWatch{cl: b.k.client, newList: func() client.ObjectList { return &esv1.SecretStoreList{} }},
		want, storeReady, nil)
	if err != nil {
		return err
	}
	defer w.stop()
	progress("creating %d SecretStores", esoNamespaces)
	start := time.Now()
	for _, ns := range esoNamespaceNames() {
		if err := b.k.client.Create(ctx, b.store(ns)); err != nil {
			return fmt.Errorf("create secret store in %s: %w", ns, err)
		}
	}
	readyAt, err := waitAll(ctx, b.proc, w, "SecretStores", len(want))
	if err != nil {
		return err
	}
	rep.StoresReady = readyAt.Sub(start)
	log, err := devenv.ReadAuditLog(b.audit)
	if err != nil {
		return err
	}
	rep.StoresReadyLogins = log.Between(start, readyAt).Logins()
	progress("%d SecretStores Ready in %.2f s, %d logins", len(want), rep.StoresReady.Seconds(), rep.StoresReadyLogins)
	return nil
}

// store is the SecretStore of namespace ns, as a user would write it.
func (b *esoBench) store(ns string) *esv1.SecretStore {
	return &esv1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: esoStore, Namespace: ns},
		Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
			Server:  b.v.Addr,
			Path:    ptr.To("secret"),
			Version: esv1.VaultKVStoreV2,
			Auth: &esv1.VaultAuth{AppRole: &esv1.VaultAppRole{
				Path:      "approle",
				RoleID:    b.role.RoleID,
				SecretRef: esmeta.SecretKeySelector{Name: esoAppRoleSecret, Key: "secret-id"},
			}},
		}}},
	}
}

func storeReady(o client.Object) bool {
	s, ok := o.(*esv1.SecretStore)
	if !ok {
		return false
	}
	for _, c := range s.Status.Conditions {
		if c.Type == esv1.SecretStoreReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func externalSecretReady(o client.Object) bool {
	es, ok := o.(*esv1.ExternalSecret)
	if !ok {
		return false
	}
	for _, c := range es.Status.Conditions {
		if c.Type == esv1.ExternalSecretReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// watchExternalSecrets watches every ExternalSecret, waiting for the
// esoCount the bench creates, and logs their refreshes into b.refreshes.
func (b *esoBench) watchExternalSecrets(ctx context.Context) (*objectWatch, error) {
	want := map[string]bool{}
	for n := range esoNamespaces {
		for i := range esoPerNamespace {
			want[esoNamespace(n)+"/"+esoName(i)] = true
		}
	}
	return watchObjects(ctx, listWatch{cl: b.k.client, newList: func() client.ObjectList { return &esv1.ExternalSecretList{} }},
		want, externalSecretReady, b.refreshes.seen)
}

func esoName(i int) string { return fmt.Sprintf("app-%03d", i) }

// externalSecret is ExternalSecret ns/name: esoRefs data refs, each a
// property of a secret, drawn with r.
func externalSecret(r *rand.Rand, ns, name string) *esv1.ExternalSecret {
	es := &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Name: esoStore, Kind: esv1.SecretStoreKind},
			RefreshInterval: &metav1.Duration{Duration: esoInterval},
			Target:          esv1.ExternalSecretTarget{Name: name},
		},
	}
	for j := range esoRefs {
		prop := esoProperties[r.IntN(len(esoProperties))]
		es.Spec.Data = append(es.Spec.Data, esv1.ExternalSecretData{
			SecretKey: fmt.Sprintf("%s-%d", prop, j),
			RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: esoPath(r.IntN(esoPaths)), Property: prop},
		})
	}
	return es
}

// measureInitialSync creates the ExternalSecrets and times them to Ready.
// It returns when they all were.
func (b *esoBench) measureInitialSync(ctx context.Context, rep *esoReport, w *objectWatch) (time.Time, error) {
	r := rand.New(rand.NewPCG(esoSeed, esoSeed))
	var all []*esv1.ExternalSecret
	for n := range esoNamespaces {
		for i := range esoPerNamespace {
			all = append(all, externalSecret(r, esoNamespace(n), esoName(i)))
		}
	}
	progress("creating %d ExternalSecrets", len(all))
	start := time.Now()
	err := parallel(ctx, len(all), 4*runtime.GOMAXPROCS(0), func(ctx context.Context, i int) error {
		return b.k.client.Create(ctx, all[i])
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("create external secrets: %w", err)
	}
	rep.Creates = time.Since(start)
	syncedAt, err := waitAll(ctx, b.proc, w, "ExternalSecrets", len(all))
	if err != nil {
		return time.Time{}, err
	}
	rep.AllReady = syncedAt.Sub(start)
	if rep.Synced, err = b.proc.stats(); err != nil {
		return time.Time{}, err
	}
	log, err := devenv.ReadAuditLog(b.audit)
	if err != nil {
		return time.Time{}, err
	}
	rep.Initial = countRequests(log.Between(start, syncedAt))
	rep.InitialResyncs, _ = b.refreshes.between(start, syncedAt.Add(time.Nanosecond))
	progress("%d ExternalSecrets Ready %.2f s after the first create (creates took %.2f s): %d logins, %d reads, %d refreshed again",
		len(all), rep.AllReady.Seconds(), rep.Creates.Seconds(), rep.Initial.Logins, rep.Initial.Reads, rep.InitialResyncs)
	return syncedAt, nil
}

// waitAll waits until w sees all its wanted objects ok, or the
// controller p exits.
func waitAll(ctx context.Context, p *proc, w *objectWatch, what string, n int) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	at, err := w.wait(ctx, p.exited, p.errExited, func(ready int) {
		progress("%d/%d %s Ready", ready, n, what)
	})
	if err != nil {
		return at, fmt.Errorf("%d of %d %s Ready: %w; last lines of %s:\n%s", w.count(), n, what, err,
			p.spec.logPath, tail(p.spec.logPath, 20))
	}
	return at, nil
}

// measureCycles counts Vault's requests over cycles refresh intervals
// after synced. The windows start half an interval after the middle of
// the first refresh slot after synced, so each holds one slot and its
// edges fall between slots.
func (b *esoBench) measureCycles(ctx context.Context, rep *esoReport, synced time.Time, cycles int) error {
	from, err := firstWindow(ctx, &b.refreshes, synced, esoCount, esoInterval)
	if err != nil {
		return err
	}
	for i := range cycles {
		t := from.Add(time.Duration(i+1) * esoInterval)
		if err := sleepUntil(ctx, t, b.proc); err != nil {
			return err
		}
		progress("cycle %d of %d counted", i+1, cycles)
	}
	log, err := devenv.ReadAuditLog(b.audit)
	if err != nil {
		return err
	}
	for i := range cycles {
		cc := cycleCount{From: from.Add(time.Duration(i) * esoInterval)}
		cc.To = cc.From.Add(esoInterval)
		cc.requestCount = countRequests(log.Between(cc.From, cc.To))
		cc.Refreshed, cc.Span = b.refreshes.between(cc.From, cc.To)
		rep.Cycles = append(rep.Cycles, cc)
		progress("cycle %d: %d refreshes over %.1f s, %d logins, %d reads of %d paths, %d other requests",
			i+1, cc.Refreshed, cc.Span.Seconds(), cc.Logins, cc.Reads, cc.Paths, cc.Other)
	}
	return nil
}

// measureMidCycle creates esoMidCycle new ExternalSecrets one at a time,
// starting half an interval after a refresh slot, and times each from
// its create to Ready.
func (b *esoBench) measureMidCycle(ctx context.Context, w *objectWatch) ([]time.Duration, error) {
	r := rand.New(rand.NewPCG(esoSeed+1, esoSeed+1))
	var times []time.Duration
	for i := range esoMidCycle {
		ns, name := esoNamespace(i%esoNamespaces), fmt.Sprintf("mid-%d", i)
		d, err := timeToReady(ctx, b.k, w, externalSecret(r, ns, name))
		if err != nil {
			return nil, err
		}
		times = append(times, d)
		progress("new ExternalSecret %s/%s Ready in %.3f s", ns, name, d.Seconds())
		if err := sleepUntil(ctx, time.Now().Add(time.Second), b.proc); err != nil {
			return nil, err
		}
	}
	return times, nil
}

// sleepUntil waits until t, failing when ctx ends or the controller
// exits.
func sleepUntil(ctx context.Context, t time.Time, p *proc) error {
	select {
	case <-time.After(time.Until(t)):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-p.exited:
		return p.errExited()
	}
}

// countRequests sorts audit log requests into logins, reads of the
// bench's secrets and the rest (token lookups and renewals, mount
// checks).
func countRequests(log devenv.AuditLog) requestCount {
	rc := requestCount{Logins: log.Logins()}
	paths := map[string]bool{}
	for _, r := range log {
		if r.Operation == "read" && strings.HasPrefix(r.Path, "secret/data/bench/") {
			rc.Reads++
			paths[r.Path] = true
		}
	}
	rc.Paths = len(paths)
	rc.Other = len(log) - rc.Logins - rc.Reads
	return rc
}

// refreshLog records when ExternalSecrets refreshed: each time the watch
// sees an ExternalSecret's status.refreshTime advance past a earlier,
// non-zero one.
type refreshLog struct {
	mu   sync.Mutex
	last map[string]time.Time // status.refreshTime per ExternalSecret
	at   []time.Time          // when the bench saw each refresh
	more chan struct{}        // closed and replaced on every refresh
}

// seen is the watch's hook.
func (l *refreshLog) seen(o client.Object, at time.Time) {
	es, ok := o.(*esv1.ExternalSecret)
	if !ok {
		return
	}
	key := es.Namespace + "/" + es.Name
	rt := es.Status.RefreshTime.Time
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
		l.more = make(chan struct{})
	}
	prev := l.last[key]
	if rt.After(prev) {
		l.last[key] = rt
		if !prev.IsZero() {
			l.at = append(l.at, at)
			close(l.more)
			l.more = make(chan struct{})
		}
	}
}

// nthAfter returns when the n-th refresh after t was seen, waiting up
// to timeout for it.
func (l *refreshLog) nthAfter(ctx context.Context, t time.Time, n int, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		i, _ := slices.BinarySearchFunc(l.at, t, func(a, b time.Time) int { return a.Compare(b) })
		if i+n-1 < len(l.at) {
			at := l.at[i+n-1]
			l.mu.Unlock()
			return at, nil
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			return time.Time{}, fmt.Errorf("fewer than %d ExternalSecrets refreshed within %s after all were Ready", n, timeout)
		case <-ctx.Done():
			return time.Time{}, context.Cause(ctx)
		}
	}
}

// between counts the refreshes seen at or after from and before to, and
// returns the time from the first of them to the last.
func (l *refreshLog) between(from, to time.Time) (n int, span time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first, last time.Time
	for _, at := range l.at {
		if at.Before(from) || !at.Before(to) {
			continue
		}
		if n == 0 {
			first = at
		}
		last = at
		n++
	}
	return n, last.Sub(first)
}

func (r *esoReport) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## ExternalSecrets: %s ExternalSecrets × %d refs, %d Vault paths, %d AppRole SecretStores, refreshInterval %gm\n\n",
		thousands(esoCount), esoRefs, esoPaths, esoNamespaces, esoInterval.Minutes())
	w("%d × %s, GOMAXPROCS %d, %s, kube-apiserver %s (envtest), Vault %s (dev server, file audit device on). Load average before: %s; after: %s.\n\n",
		r.GOMAXPROCS, r.CPUModel, r.GOMAXPROCS, r.GoVersion, r.APIServer, r.Vault, r.Load[0], r.Load[1])
	if len(r.Flags) > 0 {
		w("Controller flags beyond the defaults: `%s`.\n\n", strings.Join(r.Flags, " "))
	}
	if l := loadOf(r.Load[0]); l > 0.5*float64(r.GOMAXPROCS) {
		w("**Note:** the load average was %.2f on %d cores before the run: other work competed for the CPU.\n\n", l, r.GOMAXPROCS)
	}
	w("| figure | value |\n|---|---|\n")
	w("| %d SecretStores Ready, from their creation | %.2f s, %d logins |\n", esoNamespaces, r.StoresReady.Seconds(), r.StoresReadyLogins)
	w("| %s ExternalSecrets Ready, from the first create | %.2f s (the creates took %.2f s) |\n", thousands(esoCount), r.AllReady.Seconds(), r.Creates.Seconds())
	w("| Vault requests meanwhile | %d logins, %d reads of %d paths, %d other |\n", r.Initial.Logins, r.Initial.Reads, r.Initial.Paths, r.Initial.Other)
	w("| ExternalSecrets whose status.refreshTime advanced again meanwhile (a refresh slot during the sync, or a second sync) | %d |\n", r.InitialResyncs)
	w("| controller once all were Ready | VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.2f s |\n", mib(r.Synced.RSS), mib(r.Synced.HWM), r.Synced.CPU.Seconds())
	w("| controller at the end | VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.2f s |\n", mib(r.End.RSS), mib(r.End.HWM), r.End.CPU.Seconds())
	if len(r.MidCycle) > 0 {
		med, hi := medianMax(r.MidCycle)
		w("| new ExternalSecret created between slots, to Ready (%d runs) | median %.3f s, max %.3f s |\n", len(r.MidCycle), med.Seconds(), hi.Seconds())
	}
	w("\nVault requests per refresh interval after the initial sync, from Vault's file audit log (one request line per request, by path: `auth/approle/login` is a login, a `read` of `secret/data/bench/…` a read; other is token lookups and renewals and mount checks). Each window is one interval, placed so that one refresh slot falls inside it; \"refreshed\" counts the ExternalSecrets whose status.refreshTime advanced in it, over the span from the first such change the bench's watch saw to the last.\n\n")
	w("| cycle | window | refreshed | span s | logins | reads | distinct paths read | other |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for i, c := range r.Cycles {
		w("| %d | %s–%s | %d | %.1f | %d | %d | %d | %d |\n", i+1, c.From.Format("15:04:05"), c.To.Format("15:04:05"),
			c.Refreshed, c.Span.Seconds(), c.Logins, c.Reads, c.Paths, c.Other)
	}
	w("\nGoals:\n")
	logins, reads := r.maxPerCycle()
	w("- ≤ %d logins per refresh cycle: at most %d — %s\n", goalLoginsPerCycle, logins, verdict(logins <= goalLoginsPerCycle))
	w("- ≤ %d reads per refresh cycle (a per-reference design makes %s): at most %d — %s\n", goalReadsPerCycle,
		thousands(esoCount*esoRefs), reads, verdict(reads <= goalReadsPerCycle))
	if len(r.MidCycle) > 0 {
		_, hi := medianMax(r.MidCycle)
		w("- a new ExternalSecret Ready in ≤ %.0f s: at most %.3f s — %s\n", goalMidCycleReady.Seconds(), hi.Seconds(), verdict(hi <= goalMidCycleReady))
	}
	return b.String()
}

// maxPerCycle returns the most logins and reads of any cycle.
func (r *esoReport) maxPerCycle() (logins, reads int) {
	for _, c := range r.Cycles {
		logins, reads = max(logins, c.Logins), max(reads, c.Reads)
	}
	return logins, reads
}

// missed names the goals the run missed.
func (r *esoReport) missed() []string {
	var missed []string
	logins, reads := r.maxPerCycle()
	if logins > goalLoginsPerCycle {
		missed = append(missed, fmt.Sprintf("%d logins in a cycle", logins))
	}
	if reads > goalReadsPerCycle {
		missed = append(missed, fmt.Sprintf("%d reads in a cycle", reads))
	}
	if _, hi := medianMax(r.MidCycle); hi > goalMidCycleReady {
		missed = append(missed, fmt.Sprintf("a new ExternalSecret took %.3f s to Ready", hi.Seconds()))
	}
	return missed
}

// medianMax returns the median (the lower middle one for an even count)
// and the largest of ds.
func medianMax(ds []time.Duration) (median, largest time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.SortFunc(s, cmp.Compare)
	return s[(len(s)-1)/2], s[len(s)-1]
}

// thousands formats n with a comma between thousands, as the issue
// writes its figures.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
