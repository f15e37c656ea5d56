package main

// The AWS benchmark, as issue 10 asks: on one envtest API server and
// sealsync's in-memory AWS (internal/awstest: no AWS emulator is reachable
// here), 500 ExternalSecrets in 5 namespaces, each with 2 data refs (a
// property each) of 200 Secrets Manager secrets, one SecretStore per
// namespace with static keys and an assumed role, refreshInterval 1m,
// synced by our controller running as a process. The test server counts
// every request it answers, by action; the bench reads the counts at the
// edges of windows of one refresh interval placed between refresh slots,
// so that each window holds exactly one slot.

import (
	"context"
	crand "crypto/rand"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
	esmeta "github.com/sealsync/sealsync/api/meta/v1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/awstest"
	"github.com/sealsync/sealsync/internal/keys/keysecret"
)

const (
	// awsNamespaces namespaces hold awsPerNamespace ExternalSecrets each,
	// and one SecretStore.
	awsNamespaces   = 5
	awsPerNamespace = 100
	awsCount        = awsNamespaces * awsPerNamespace
	// awsSecrets Secrets Manager secrets bench/app-NNN, each a JSON object
	// of the properties esoProperties; every ExternalSecret has awsRefs
	// data refs, and together they read every secret.
	awsSecrets = 200
	awsRefs    = 2
	// awsInterval is every ExternalSecret's refreshInterval.
	awsInterval = time.Minute
	// awsMidCycle new ExternalSecrets are created one by one between two
	// refresh slots, and timed to Ready.
	awsMidCycle = 5
	// awsStore names the SecretStore of each namespace, awsKeys the Secret
	// beside it holding the access key, awsRole the role every store
	// assumes.
	awsStore = "aws"
	awsKeys  = "aws-keys"
	awsRole  = "bench-reader"
	// awsSeed makes the properties drawn the same in every run.
	awsSeed = 10
)

// Goals of the AWS benchmark, from the issue.
const (
	// goalBatchPerCycle bounds the BatchGetSecretValue calls of one
	// refresh interval; one call per reference, as ESO makes them, is
	// 1,000 GetSecretValue calls.
	goalBatchPerCycle = 10
	// goalGetPerCycle and goalSTSPerCycle: no GetSecretValue and no STS
	// call in a refresh interval once credentials are cached.
	goalGetPerCycle = 0
	goalSTSPerCycle = 0
)

// awsOptions are the flags of the aws subcommand.
type awsOptions struct {
	cycleFlags
	batch bool
}

func parseAWSFlags(args []string) (*awsOptions, error) {
	o := &awsOptions{}
	fs := flag.NewFlagSet("aws", flag.ContinueOnError)
	o.bind(fs, "AWS requests")
	fs.BoolVar(&o.batch, "batch", true, "batch provider reads (false runs the controller with --batch-provider-reads=false, for comparison; its goals are not judged)")
	return o, o.parse(fs, args)
}

// awsBench holds what the phases of the benchmark share.
type awsBench struct {
	k    *cluster
	srv  *awstest.Server
	proc *proc
	user awstest.Credentials
	role string
	// refreshes records when ExternalSecrets refreshed after their first
	// sync.
	refreshes refreshLog
}

// awsCalls are the requests the test server answered over a span, by
// kind.
type awsCalls struct {
	Batch, Get int // BatchGetSecretValue, GetSecretValue
	STS        int // every STS action
	Other      int // other Secrets Manager actions
	Failed     int // answered with an error, of all the above
}

// callsBetween returns the requests answered between two snapshots of
// the server's counts.
func callsBetween(before, after map[awstest.Call]int) awsCalls {
	var c awsCalls
	for k, n := range after {
		n -= before[k]
		switch {
		case k.Service == awstest.STS:
			c.STS += n
		case k.Action == "BatchGetSecretValue":
			c.Batch += n
		case k.Action == "GetSecretValue":
			c.Get += n
		default:
			c.Other += n
		}
		if k.Code != "" {
			c.Failed += n
		}
	}
	return c
}

// awsCycle is one refresh interval's requests.
type awsCycle struct {
	From, To  time.Time
	Refreshed int
	Span      time.Duration
	awsCalls
}

// awsReport is everything the benchmark measured.
type awsReport struct {
	CPUModel, GoVersion, APIServer string
	GOMAXPROCS                     int
	Batch                          bool
	Flags                          []string
	Load                           [2]string
	// StoresReady is from creating the SecretStores to all Ready, with
	// the requests meanwhile.
	StoresReady time.Duration
	StoresCalls awsCalls
	// Creates is how long creating the ExternalSecrets took, AllReady
	// from the first create to all Ready, Initial the requests meanwhile.
	Creates, AllReady time.Duration
	Initial           awsCalls
	InitialResyncs    int
	Cycles            []awsCycle
	// MidCycle are the new ExternalSecrets' times to Ready and the
	// requests each made.
	MidCycle      []time.Duration
	MidCycleCalls []awsCalls
	Synced, End   procStats
}

func runAWS(ctx context.Context, c *cleanups, args []string) (err error) {
	o, err := parseAWSFlags(args)
	if err != nil {
		return err
	}
	rep := &awsReport{Load: [2]string{loadAverage(), ""}, GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), Batch: o.batch, Flags: o.extra}
	su, err := prepare(ctx, c, o.keep, &err)
	if err != nil {
		return err
	}
	b := &awsBench{}

	progress("starting the API server and the AWS test server")
	if b.k, err = startCluster(c); err != nil {
		return err
	}
	if v, err := b.k.clientset.Discovery().ServerVersion(); err == nil {
		rep.APIServer = v.GitVersion
	}
	kubeconfig, err := b.k.writeKubeconfig(su.dir)
	if err != nil {
		return err
	}
	b.srv = awstest.New(awstest.Options{})
	if err := b.srv.Start(); err != nil {
		return err
	}
	c.add(func() { _ = b.srv.Close() })
	if err := b.seedAWS(ctx); err != nil {
		return err
	}
	if err := b.seedCluster(ctx, su.keys[len(su.keys)-1]); err != nil {
		return err
	}

	listen, err := listenFlags()
	if err != nil {
		return err
	}
	args = append([]string{"--kubeconfig", kubeconfig, "--key-renew-period=0"}, listen...)
	if !o.batch {
		args = append(args, "--batch-provider-reads=false")
	}
	logPath := filepath.Join(su.dir, "controller.log")
	progress("starting our controller (log %s)", logPath)
	env := append(baseEnv(keyNamespace),
		// The operator's endpoints, as for VPC endpoints; ESO reads the same.
		"AWS_SECRETSMANAGER_ENDPOINT="+b.srv.URL(), "AWS_SSM_ENDPOINT="+b.srv.URL(), "AWS_STS_ENDPOINT="+b.srv.URL())
	b.proc, err = startProc(procSpec{name: nameOurs, path: su.controller, env: env, logPath: logPath, args: append(args, o.extra...)})
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
	esw, err := watchObjects(ctx, listWatch{cl: b.k.client, newList: func() client.ObjectList { return &esv1.ExternalSecretList{} }},
		b.wanted(), externalSecretReady, b.refreshes.seen)
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
	if err := b.measureMidCycle(ctx, rep, esw); err != nil {
		return err
	}
	if rep.End, err = b.proc.stats(); err != nil {
		return err
	}

	rep.Load[1] = loadAverage()
	return finish(rep.markdown(), o.out, rep.missed())
}

// seedAWS writes the bench's secrets, the role every store assumes (it
// reads them) and the user whose keys the stores hold (it may only assume
// the role).
func (b *awsBench) seedAWS(ctx context.Context) error {
	admin := b.srv.AddUser(awstest.User{Name: "admin", Policy: awstest.AllowAll})
	sm := secretsmanager.NewFromConfig(awssdk.Config{
		Region: b.srv.Region(), BaseEndpoint: awssdk.String(b.srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, ""),
	})
	progress("writing %d Secrets Manager secrets", awsSecrets)
	for i := range awsSecrets {
		v := fmt.Sprintf(`{"username":"user-%03d","password":%q,"host":"db-%03d.bench.svc","port":"%d"}`, i, crand.Text(), i, 5432+i)
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String(awsSecretName(i)), SecretString: &v}); err != nil {
			return fmt.Errorf("create secret %s: %w", awsSecretName(i), err)
		}
	}
	b.role = b.srv.AddRole(awstest.Role{
		Name: awsRole,
		Policy: awstest.Policy{
			{Actions: []string{"secretsmanager:BatchGetSecretValue"}, Resources: []string{"*"}},
			{Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
				Resources: []string{fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:bench/*", b.srv.Region(), b.srv.Account())}},
		},
		TrustedPrincipals: []string{b.srv.UserARN("bench")},
	})
	b.user = b.srv.AddUser(awstest.User{Name: "bench", Policy: awstest.Allow([]string{"sts:AssumeRole"}, b.role)})
	return nil
}

func awsSecretName(i int) string { return fmt.Sprintf("bench/app-%03d", i) }

func awsNamespace(i int) string { return fmt.Sprintf("aws-%02d", i+1) }

func awsNamespaceNames() []string {
	ns := make([]string, awsNamespaces)
	for i := range ns {
		ns[i] = awsNamespace(i)
	}
	return ns
}

// seedCluster creates the namespaces, our controller's key Secret and, in
// each namespace, the Secret holding the access key.
func (b *awsBench) seedCluster(ctx context.Context, key *crypto.Key) error {
	for _, ns := range append([]string{keyNamespace}, awsNamespaceNames()...) {
		err := b.k.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	if err := b.k.client.Create(ctx, keysecret.New(key, keyNamespace, keysecret.DefaultPrefix, nil, nil)); err != nil {
		return fmt.Errorf("create key secret: %w", err)
	}
	for _, ns := range awsNamespaceNames() {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: awsKeys, Namespace: ns},
			StringData: map[string]string{"access-key": b.user.AccessKeyID, "secret-access-key": b.user.SecretAccessKey},
		}
		if err := b.k.client.Create(ctx, s); err != nil {
			return fmt.Errorf("create secret %s/%s: %w", ns, awsKeys, err)
		}
	}
	return nil
}

// store is the SecretStore of namespace ns, as ESO's docs write it: static
// keys and a role to assume.
func (b *awsBench) store(ns string) *esv1.SecretStore {
	return &esv1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: awsStore, Namespace: ns},
		Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{AWS: &esv1.AWSProvider{
			Service: esv1.AWSServiceSecretsManager, Region: b.srv.Region(), Role: b.role,
			Auth: &esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
				AccessKeyID:     &esmeta.SecretKeySelector{Name: awsKeys, Key: "access-key"},
				SecretAccessKey: &esmeta.SecretKeySelector{Name: awsKeys, Key: "secret-access-key"},
			}},
		}}},
	}
}

// measureStores creates the SecretStores and times them to Ready.
func (b *awsBench) measureStores(ctx context.Context, rep *awsReport) error {
	want := map[string]bool{}
	for _, ns := range awsNamespaceNames() {
		want[ns+"/"+awsStore] = true
	}
	w, err := watchObjects(ctx, listWatch{cl: b.k.client, newList: func() client.ObjectList { return &esv1.SecretStoreList{} }},
		want, storeReady, nil)
	if err != nil {
		return err
	}
	defer w.stop()
	progress("creating %d SecretStores", awsNamespaces)
	before, start := b.srv.Calls(), time.Now()
	for _, ns := range awsNamespaceNames() {
		if err := b.k.client.Create(ctx, b.store(ns)); err != nil {
			return fmt.Errorf("create secret store in %s: %w", ns, err)
		}
	}
	readyAt, err := waitAll(ctx, b.proc, w, "SecretStores", len(want))
	if err != nil {
		return err
	}
	rep.StoresReady, rep.StoresCalls = readyAt.Sub(start), callsBetween(before, b.srv.Calls())
	progress("%d SecretStores Ready in %.2f s, %d STS calls", len(want), rep.StoresReady.Seconds(), rep.StoresCalls.STS)
	return nil
}

// wanted names every ExternalSecret the bench creates before the
// mid-cycle ones.
func (b *awsBench) wanted() map[string]bool {
	want := map[string]bool{}
	for n := range awsNamespaces {
		for i := range awsPerNamespace {
			want[awsNamespace(n)+"/"+esoName(i)] = true
		}
	}
	return want
}

// awsExternalSecret is ExternalSecret ns/name reading a property of the
// secrets a and b, properties drawn with r.
func awsExternalSecret(r *rand.Rand, ns, name string, a, b int) *esv1.ExternalSecret {
	es := &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Name: awsStore, Kind: esv1.SecretStoreKind},
			RefreshInterval: &metav1.Duration{Duration: awsInterval},
			Target:          esv1.ExternalSecretTarget{Name: name},
		},
	}
	for j, secret := range []int{a, b} {
		prop := esoProperties[r.IntN(len(esoProperties))]
		es.Spec.Data = append(es.Spec.Data, esv1.ExternalSecretData{
			SecretKey: fmt.Sprintf("%s-%d", prop, j),
			RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: awsSecretName(secret), Property: prop},
		})
	}
	return es
}

// measureInitialSync creates the ExternalSecrets and times them to Ready.
// It returns when they all were.
func (b *awsBench) measureInitialSync(ctx context.Context, rep *awsReport, w *objectWatch) (time.Time, error) {
	r := rand.New(rand.NewPCG(awsSeed, awsSeed))
	var all []*esv1.ExternalSecret
	for n := range awsNamespaces {
		for i := range awsPerNamespace {
			k := n*awsPerNamespace + i
			// Every secret is read: 1,000 refs, 5 of each secret.
			all = append(all, awsExternalSecret(r, awsNamespace(n), esoName(i), (awsRefs*k)%awsSecrets, (awsRefs*k+1)%awsSecrets))
		}
	}
	progress("creating %d ExternalSecrets", len(all))
	before, start := b.srv.Calls(), time.Now()
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
	rep.AllReady, rep.Initial = syncedAt.Sub(start), callsBetween(before, b.srv.Calls())
	if rep.Synced, err = b.proc.stats(); err != nil {
		return time.Time{}, err
	}
	rep.InitialResyncs, _ = b.refreshes.between(start, syncedAt.Add(time.Nanosecond))
	progress("%d ExternalSecrets Ready %.2f s after the first create (creates took %.2f s): %s",
		len(all), rep.AllReady.Seconds(), rep.Creates.Seconds(), rep.Initial)
	return syncedAt, nil
}

// String says what the calls were, for progress lines.
func (c awsCalls) String() string {
	return fmt.Sprintf("%d BatchGetSecretValue, %d GetSecretValue, %d STS, %d other, %d failed", c.Batch, c.Get, c.STS, c.Other, c.Failed)
}

// measureCycles counts the server's requests over cycles refresh
// intervals after synced, in windows that start half an interval after
// the middle of the first refresh slot after synced, so each holds one
// slot and its edges fall between slots.
func (b *awsBench) measureCycles(ctx context.Context, rep *awsReport, synced time.Time, cycles int) error {
	from, err := firstWindow(ctx, &b.refreshes, synced, awsCount, awsInterval)
	if err != nil {
		return err
	}
	if err := sleepUntil(ctx, from, b.proc); err != nil {
		return err
	}
	snap := b.srv.Calls()
	for i := range cycles {
		cc := awsCycle{From: from.Add(time.Duration(i) * awsInterval)}
		cc.To = cc.From.Add(awsInterval)
		if err := sleepUntil(ctx, cc.To, b.proc); err != nil {
			return err
		}
		next := b.srv.Calls()
		cc.awsCalls, snap = callsBetween(snap, next), next
		cc.Refreshed, cc.Span = b.refreshes.between(cc.From, cc.To)
		rep.Cycles = append(rep.Cycles, cc)
		progress("cycle %d: %d refreshes over %.1f s: %s", i+1, cc.Refreshed, cc.Span.Seconds(), cc.awsCalls)
	}
	return nil
}

// measureMidCycle creates awsMidCycle new ExternalSecrets one at a time,
// half an interval after a refresh slot, and times each from its create
// to Ready, counting the requests it made.
func (b *awsBench) measureMidCycle(ctx context.Context, rep *awsReport, w *objectWatch) error {
	r := rand.New(rand.NewPCG(awsSeed+1, awsSeed+1))
	for i := range awsMidCycle {
		ns, name := awsNamespace(i%awsNamespaces), fmt.Sprintf("mid-%d", i)
		before := b.srv.Calls()
		d, err := timeToReady(ctx, b.k, w, awsExternalSecret(r, ns, name, r.IntN(awsSecrets), r.IntN(awsSecrets)))
		if err != nil {
			return err
		}
		calls := callsBetween(before, b.srv.Calls())
		rep.MidCycle, rep.MidCycleCalls = append(rep.MidCycle, d), append(rep.MidCycleCalls, calls)
		progress("new ExternalSecret %s/%s Ready in %.3f s: %s", ns, name, d.Seconds(), calls)
		if err := sleepUntil(ctx, time.Now().Add(time.Second), b.proc); err != nil {
			return err
		}
	}
	return nil
}

func (r *awsReport) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	mode := "batching on (the default)"
	if !r.Batch {
		mode = "batching off (`--batch-provider-reads=false`), for comparison"
	}
	w("## AWS: %d ExternalSecrets × %d refs, %d Secrets Manager secrets, %d SecretStores (static keys, an assumed role), refreshInterval %gm, %s\n\n",
		awsCount, awsRefs, awsSecrets, awsNamespaces, awsInterval.Minutes(), mode)
	w("%d × %s, GOMAXPROCS %d, %s, kube-apiserver %s (envtest), AWS: sealsync's in-memory test server (internal/awstest). Load average before: %s; after: %s.\n\n",
		r.GOMAXPROCS, r.CPUModel, r.GOMAXPROCS, r.GoVersion, r.APIServer, r.Load[0], r.Load[1])
	if len(r.Flags) > 0 {
		w("Controller flags beyond the defaults: `%s`.\n\n", strings.Join(r.Flags, " "))
	}
	if l := loadOf(r.Load[0]); l > 0.5*float64(r.GOMAXPROCS) {
		w("**Note:** the load average was %.2f on %d cores before the run: other work competed for the CPU.\n\n", l, r.GOMAXPROCS)
	}
	w("| figure | value |\n|---|---|\n")
	w("| %d SecretStores Ready, from their creation | %.2f s; %s |\n", awsNamespaces, r.StoresReady.Seconds(), r.StoresCalls)
	w("| %d ExternalSecrets Ready, from the first create | %.2f s (the creates took %.2f s) |\n", awsCount, r.AllReady.Seconds(), r.Creates.Seconds())
	w("| AWS requests meanwhile | %s |\n", r.Initial)
	w("| ExternalSecrets whose status.refreshTime advanced again meanwhile | %d |\n", r.InitialResyncs)
	w("| controller once all were Ready | VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.2f s |\n", mib(r.Synced.RSS), mib(r.Synced.HWM), r.Synced.CPU.Seconds())
	w("| controller at the end | VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.2f s |\n", mib(r.End.RSS), mib(r.End.HWM), r.End.CPU.Seconds())
	if len(r.MidCycle) > 0 {
		med, hi := medianMax(r.MidCycle)
		batch, get := 0, 0
		for _, c := range r.MidCycleCalls {
			batch, get = max(batch, c.Batch), max(get, c.Get)
		}
		w("| new ExternalSecret created between slots, to Ready (%d runs) | median %.3f s, max %.3f s; at most %d BatchGetSecretValue and %d GetSecretValue each |\n",
			len(r.MidCycle), med.Seconds(), hi.Seconds(), batch, get)
	}
	w("\nAWS requests per refresh interval after the initial sync, as the test server counted them. Each window is one interval, placed so that one refresh slot falls inside it; \"refreshed\" counts the ExternalSecrets whose status.refreshTime advanced in it, over the span from the first such change the bench's watch saw to the last.\n\n")
	w("| cycle | window | refreshed | span s | BatchGetSecretValue | GetSecretValue | STS | other | failed |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, c := range r.Cycles {
		w("| %d | %s–%s | %d | %.1f | %d | %d | %d | %d | %d |\n", i+1, c.From.Format("15:04:05"), c.To.Format("15:04:05"),
			c.Refreshed, c.Span.Seconds(), c.Batch, c.Get, c.STS, c.Other, c.Failed)
	}
	if !r.Batch {
		w("\nGoals are not judged with batching off. One call per reference, as ESO makes them, would be %s GetSecretValue calls per cycle.\n", thousands(awsCount*awsRefs))
		return b.String()
	}
	batch, get, sts := r.maxPerCycle()
	w("\nGoals:\n")
	w("- ≤ %d BatchGetSecretValue per refresh cycle (one call per reference, as ESO makes them, is %s GetSecretValue): at most %d — %s\n",
		goalBatchPerCycle, thousands(awsCount*awsRefs), batch, verdict(batch <= goalBatchPerCycle))
	w("- %d GetSecretValue per refresh cycle: at most %d — %s\n", goalGetPerCycle, get, verdict(get <= goalGetPerCycle))
	w("- %d STS calls per refresh cycle once credentials are cached: at most %d — %s\n", goalSTSPerCycle, sts, verdict(sts <= goalSTSPerCycle))
	if len(r.MidCycle) > 0 {
		_, hi := medianMax(r.MidCycle)
		w("- a new ExternalSecret Ready in ≤ %.0f s: at most %.3f s — %s\n", goalMidCycleReady.Seconds(), hi.Seconds(), verdict(hi <= goalMidCycleReady))
	}
	return b.String()
}

// maxPerCycle returns the most BatchGetSecretValue, GetSecretValue and
// STS calls of any cycle.
func (r *awsReport) maxPerCycle() (batch, get, sts int) {
	for _, c := range r.Cycles {
		batch, get, sts = max(batch, c.Batch), max(get, c.Get), max(sts, c.STS)
	}
	return batch, get, sts
}

// missed names the goals the run missed; none are judged with batching
// off.
func (r *awsReport) missed() []string {
	if !r.Batch {
		return nil
	}
	var missed []string
	batch, get, sts := r.maxPerCycle()
	if batch > goalBatchPerCycle {
		missed = append(missed, fmt.Sprintf("%d BatchGetSecretValue in a cycle", batch))
	}
	if get > goalGetPerCycle {
		missed = append(missed, fmt.Sprintf("%d GetSecretValue in a cycle", get))
	}
	if sts > goalSTSPerCycle {
		missed = append(missed, fmt.Sprintf("%d STS calls in a cycle", sts))
	}
	if _, hi := medianMax(r.MidCycle); hi > goalMidCycleReady {
		missed = append(missed, fmt.Sprintf("a new ExternalSecret took %.3f s to Ready", hi.Seconds()))
	}
	return missed
}
