package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	clientmetrics "k8s.io/client-go/tools/metrics"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/controller"
)

// The profile run starts our controller in the bench's own process, with
// exactly the options the binary derives from the same flags, to see where
// its wall time goes: a CPU profile, every API call it makes (count,
// round-trip time and time spent waiting for client-go's rate limiter)
// and controller-runtime's reconcile and queue metrics.

// profileResult is what the in-process run found.
type profileResult struct {
	Extra      string // flags added to the defaults
	Wall       time.Duration
	CPU        time.Duration // of the whole bench process while it ran
	Workers    int
	QPS        float32
	Burst      int
	Calls      []*callStat
	Reconciles reconcileStats
	Top        string // go tool pprof -top
	Dir        string
}

// callStat sums the API calls of one verb on one resource.
type callStat struct {
	Verb, Resource string
	Count          int
	RoundTrip      time.Duration // summed
	Throttled      time.Duration // summed wait in the client-side rate limiter
	first, last    time.Time
}

// reconcileStats come from controller-runtime's metrics for the
// SealedSecret controller.
type reconcileStats struct {
	Count     float64
	Busy      float64 // seconds spent in Reconcile, summed over workers
	QueueWait float64 // seconds items waited in the queue, summed
}

// apiCalls records the calls of one controller.
type apiCalls struct {
	mu    sync.Mutex
	calls map[string]*callStat
}

func (a *apiCalls) stat(verb string, u *url.URL) *callStat {
	resource := resourceOf(u.Path)
	if verb == http.MethodGet && u.Query().Get("watch") == "true" {
		verb = "WATCH"
	}
	key := verb + " " + resource
	s, ok := a.calls[key]
	if !ok {
		s = &callStat{Verb: verb, Resource: resource}
		a.calls[key] = s
	}
	return s
}

// countingTransport records every request a controller's clients send.
type countingTransport struct {
	next  http.RoundTripper
	calls *apiCalls
}

// RoundTrip implements http.RoundTripper.
func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	d := time.Since(start)
	t.calls.mu.Lock()
	s := t.calls.stat(req.Method, req.URL)
	s.Count++
	if u := req.URL.Query(); u.Get("watch") != "true" {
		s.RoundTrip += d
	}
	if s.first.IsZero() {
		s.first = start
	}
	s.last = start
	t.calls.mu.Unlock()
	return resp, err
}

// Observe implements client-go's rate limiter latency metric.
func (a *apiCalls) Observe(_ context.Context, verb string, u url.URL, latency time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stat(verb, &u).Throttled += latency
}

// resourceOf returns "resource" or "resource/subresource" of an API path.
func resourceOf(path string) string {
	p := strings.Split(strings.Trim(path, "/"), "/")
	// /api/v1/... or /apis/group/version/...
	switch {
	case len(p) >= 2 && p[0] == "api":
		p = p[2:]
	case len(p) >= 3 && p[0] == "apis":
		p = p[3:]
	default:
		return path
	}
	if len(p) >= 2 && p[0] == "namespaces" && len(p) > 2 {
		p = p[2:]
	}
	switch len(p) {
	case 0:
		return path
	case 1, 2:
		return p[0]
	}
	return p[0] + "/" + p[2]
}

// profile runs our controller in-process on sealed from a fresh start,
// with its default flags plus extra, and a CPU profile written to dir.
func (b *unsealBench) profile(ctx context.Context, sealed []*ssv1alpha1.SealedSecret, dir string, extra []string) (*profileResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	listen, err := listenFlags()
	if err != nil {
		return nil, err
	}
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	flags := controller.BindFlags(fs)
	args := append(append([]string{"--kubeconfig", b.kubeconfig, "--key-renew-period=0"}, listen...), extra...)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg, err := controller.RESTConfig(flags.Kubeconfig, flags.KubeClientQPS, flags.KubeClientBurst)
	if err != nil {
		return nil, err
	}
	calls := &apiCalls{calls: map[string]*callStat{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, calls} })
	// Registration is once per process and controller-runtime has done
	// it; the variable is the hook client-go reads.
	clientmetrics.RateLimiterLatency = calls
	opts, err := flags.Options(keyNamespace)
	if err != nil {
		return nil, err
	}
	ctrl.SetLogger(logr.Discard())

	if err := b.reset(ctx, sealed); err != nil {
		return nil, err
	}
	w, err := watchSecrets(ctx, b.k.client, targetLabel, b.targets)
	if err != nil {
		return nil, err
	}
	defer w.stop()

	res := &profileResult{Extra: strings.Join(extra, " "), Workers: opts.Workers, QPS: cfg.QPS, Burst: cfg.Burst, Dir: dir}
	profPath := filepath.Join(dir, "cpu.pprof")
	pf, err := os.Create(profPath)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	cpu0, err := readProcStats(os.Getpid())
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		return nil, err
	}
	profiling := true
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	// The API server's own CPU profile over the same run (kube-apiserver
	// serves /debug/pprof unless started with --profiling=false).
	apiProf := make(chan error, 1)
	go func() {
		apiProf <- b.apiServerProfile(ctx, filepath.Join(dir, "apiserver.pprof"), apiServerProfileSeconds)
	}()
	defer func() {
		if err := <-apiProf; err != nil {
			progress("no API server profile: %v", err)
		}
	}()
	start := time.Now()
	c, err := controller.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	mctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- c.Manager.Start(mctx) }()
	defer func() {
		stop()
		select {
		case <-stopped:
		case <-time.After(stopGrace):
			progress("in-process controller did not stop within %s", stopGrace)
		}
	}()
	runCtx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	exited := make(chan struct{})
	var startErr error
	go func() {
		select {
		case startErr = <-stopped:
			close(exited)
		case <-mctx.Done():
		}
	}()
	doneAt, err := w.wait(runCtx, exited, func() error { return fmt.Errorf("controller stopped: %v", startErr) }, func(n int) {
		progress("in-process: %d/%d Secrets after %.0f s", n, len(b.targets), time.Since(start).Seconds())
	})
	if err != nil {
		return nil, err
	}
	res.Wall = doneAt.Sub(start)
	pprof.StopCPUProfile()
	profiling = false
	cpu1, err := readProcStats(os.Getpid())
	if err != nil {
		return nil, err
	}
	res.CPU = cpu1.CPU - cpu0.CPU

	calls.mu.Lock()
	for _, s := range calls.calls {
		res.Calls = append(res.Calls, s)
	}
	calls.mu.Unlock()
	slices.SortFunc(res.Calls, func(a, b *callStat) int { return b.Count - a.Count })
	res.Reconciles = reconcileMetrics()

	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", profPath).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %w", err)
	}
	res.Top = string(top)
	if err := os.WriteFile(filepath.Join(dir, "top.txt"), top, 0o644); err != nil {
		return nil, err
	}
	progress("in-process: %d Secrets in %.2f s; CPU profile %s", len(b.targets), res.Wall.Seconds(), profPath)
	return res, nil
}

// reconcileMetrics reads the SealedSecret controller's reconcile and
// queue metrics from controller-runtime's registry.
func reconcileMetrics() reconcileStats {
	var st reconcileStats
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return st
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			ours := false
			for _, l := range m.GetLabel() {
				if (l.GetName() == "controller" || l.GetName() == "name") && l.GetValue() == "sealedsecret" {
					ours = true
				}
			}
			if !ours || m.GetHistogram() == nil {
				continue
			}
			switch f.GetName() {
			case "controller_runtime_reconcile_time_seconds":
				st.Count, st.Busy = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			case "workqueue_queue_duration_seconds":
				st.QueueWait = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return st
}

func (p *profileResult) markdown(w io.Writer) {
	flags := "default flags"
	if p.Extra != "" {
		flags += " + " + p.Extra
	}
	fmt.Fprintf(w, "In-process profile of our controller (%s: %d workers, client QPS %g burst %d): %.2f s wall, %.2f s CPU (whole bench process). Files in %s.\n\n",
		flags, p.Workers, p.QPS, p.Burst, p.Wall.Seconds(), p.CPU.Seconds(), p.Dir)
	r := p.Reconciles
	if r.Count > 0 {
		fmt.Fprintf(w, "Reconciles: %.0f, %.2f s inside Reconcile summed over workers (%.0f%% of %d workers × wall); an item waited %.2f s in the queue on average.\n\n",
			r.Count, r.Busy, 100*r.Busy/(float64(p.Workers)*p.Wall.Seconds()), p.Workers, r.QueueWait/r.Count)
	}
	fmt.Fprintf(w, "| API call | count | calls/s (first to last) | round trip ms avg | client-side throttle s summed |\n|---|---:|---:|---:|---:|\n")
	for _, c := range p.Calls {
		rate := ""
		if span := c.last.Sub(c.first).Seconds(); c.Count > 1 && span > 0 {
			rate = fmt.Sprintf("%.0f", float64(c.Count-1)/span)
		}
		fmt.Fprintf(w, "| %s %s | %d | %s | %.1f | %.2f |\n", c.Verb, c.Resource, c.Count, rate,
			perOpMS(c.RoundTrip, c.Count), c.Throttled.Seconds())
	}
	fmt.Fprintf(w, "\nCPU profile, top functions:\n\n```\n%s```\n\n", p.Top)
}

// apiServerProfileSeconds is how long the API server's CPU profile runs:
// about as long as our controller takes.
const apiServerProfileSeconds = 10

// apiServerProfile writes the API server's CPU profile of the next
// seconds to path.
func (b *unsealBench) apiServerProfile(ctx context.Context, path string, seconds int) error {
	rc, err := rest.RESTClientFor(b.k.restClientConfig())
	if err != nil {
		return err
	}
	body, err := rc.Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(seconds)).Timeout(time.Duration(seconds+30) * time.Second).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("get the API server's profile: %w", err)
	}
	return os.WriteFile(path, body, 0o644)
}
