package main

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Goals of the unseal benchmark, from the issue.
const (
	// goalSpeedup: our wall time at least this many times faster than
	// Bitnami's.
	goalSpeedup = 5.0
	// goalFloor: our wall time within this factor of the floor.
	goalFloor = 1.5
	// goalMemory: our memory with the unrelated Secrets within this
	// factor of it without.
	goalMemory = 1.25
)

// memoryResult is one controller's memory without and with the unrelated
// Secrets.
type memoryResult struct {
	Name          string
	Without, With runResult
	Failures      []string // runs that did not finish, and why
}

// contenderResult holds every timed run of one contender.
type contenderResult struct {
	Name     string
	Runs     []runResult
	Failures []string // runs that did not finish, and why
	Skipped  string   // why it did not run
}

// median returns the run with the median wall time (the faster of the two
// middle ones for an even count), or nil if there was none.
func (c *contenderResult) median() *runResult {
	if len(c.Runs) == 0 {
		return nil
	}
	runs := slices.Clone(c.Runs)
	slices.SortFunc(runs, func(a, b runResult) int { return cmp.Compare(a.Wall, b.Wall) })
	return &runs[(len(runs)-1)/2]
}

// wall returns the median wall time, with the range when there are
// several runs.
func (c *contenderResult) wall() string {
	m := c.median()
	if len(c.Runs) == 1 {
		return fmt.Sprintf("%.2f", m.Wall.Seconds())
	}
	lo, hi := c.Runs[0].Wall, c.Runs[0].Wall
	for _, r := range c.Runs {
		lo, hi = min(lo, r.Wall), max(hi, r.Wall)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", m.Wall.Seconds(), lo.Seconds(), hi.Seconds())
}

// unsealReport is everything the unseal benchmark prints.
type unsealReport struct {
	CPUModel, GoVersion, APIServer string
	GOMAXPROCS                     int
	Load                           [2]string // load averages before and after
	Floors                         []floor   // one a round
	// Contenders are ours, ours unhinted, Bitnami tuned, Bitnami default.
	Contenders []*contenderResult
	Profile    *profileResult
	Memory     []memoryResult
}

// floor returns the floor with the median total.
func (r *unsealReport) floor() floor {
	fs := slices.Clone(r.Floors)
	slices.SortFunc(fs, func(a, b floor) int { return cmp.Compare(a.Total(), b.Total()) })
	return fs[(len(fs)-1)/2]
}

func (r *unsealReport) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Unseal: %d SealedSecrets × 2 items, %d keys, sealed with the oldest\n\n", sealedCount, benchKeys)
	w("%d × %s, GOMAXPROCS %d, %s, kube-apiserver %s (envtest). Load average before: %s; after: %s.\n\n",
		r.GOMAXPROCS, r.CPUModel, r.GOMAXPROCS, r.GoVersion, r.APIServer, r.Load[0], r.Load[1])
	if l := loadOf(r.Load[0]); l > 0.5*float64(r.GOMAXPROCS) {
		w("**Note:** the load average was %.2f on %d cores before the run: other work competed for the CPU, and the figures are slower than on an idle machine.\n\n", l, r.GOMAXPROCS)
	}
	if len(r.Floors) == 0 {
		return b.String()
	}
	f := r.floor()
	rounds := ""
	if n := len(r.Floors); n > 1 {
		rounds = fmt.Sprintf(" (median of %d rounds; wall times are medians with their range)", n)
	}
	w("Floor%s %.2f s = %d RSA-4096 OAEP decryptions with the right key on %d goroutines, %.2f s (%.2f s CPU: %.1f ms each, %.2f cores obtained) + %d two-item Secret creates, unthrottled, %d workers, %.2f s (API server + etcd CPU %.2f s).\n\n",
		rounds, f.Total().Seconds(), f.Ops, f.DecryptWorkers, f.Decrypt.Seconds(), f.DecryptCPU.Seconds(),
		perOpMS(f.DecryptCPU, f.Ops), f.DecryptCPU.Seconds()/f.Decrypt.Seconds(), f.Creates, f.CreateWorkers, f.Create.Seconds(),
		f.CreateControlPlaneCPU.Seconds())

	bitnamiDefault, bitnamiTuned := r.median(nameBitnamiDefault), r.median(nameBitnamiTuned)
	w("| contender | wall s | objects/s | CPU s | peak RSS MiB | speed-up vs Bitnami default | speed-up vs Bitnami tuned | × floor | API server + etcd CPU s |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.Contenders {
		run := c.median()
		switch {
		case c.Skipped != "":
			w("| %s | skipped: %s | | | | | | | |\n", c.Name, c.Skipped)
			continue
		case run == nil:
			w("| %s | failed | | | | | | | |\n", c.Name)
			continue
		}
		w("| %s | %s | %.1f | %.2f | %.1f | %s | %s | %.2f | %.2f |\n", c.Name, c.wall(),
			float64(sealedCount)/run.Wall.Seconds(), run.CPU.Seconds(), mib(run.HWM),
			speedup(bitnamiDefault, run), speedup(bitnamiTuned, run), run.Wall.Seconds()/f.Total().Seconds(),
			run.ControlPlaneCPU.Seconds())
	}
	w("\nWall time runs from process start until a watch has seen all %d Secrets; CPU is the controller's user+system time until then (/proc/PID/stat), peak RSS its VmHWM.\n\n", sealedCount)
	var failed bool
	for _, c := range r.Contenders {
		for _, f := range c.Failures {
			if !failed {
				w("Failed runs (left out of the medians):\n\n")
				failed = true
			}
			w("- %s: %s\n", c.Name, f)
		}
	}
	if failed {
		w("\n")
	}

	if r.Profile != nil {
		r.Profile.markdown(&b)
	}

	if len(r.Memory) > 0 {
		w("Memory once synced (%d Secrets present, %s later), without and with %d unrelated %d-byte Secrets in %s:\n\n",
			sealedCount, settle, noiseCount, noiseSize, noiseNamespace)
		w("| controller | VmHWM MiB | VmRSS MiB | VmHWM MiB +%d | VmRSS MiB +%d | VmHWM ratio | VmRSS ratio |\n", noiseCount, noiseCount)
		w("|---|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range r.Memory {
			if len(m.Failures) > 0 {
				w("| %s | failed: %s | | | | | |\n", m.Name, strings.Join(m.Failures, "; "))
				continue
			}
			w("| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", m.Name, mib(m.Without.HWM), mib(m.Without.RSS),
				mib(m.With.HWM), mib(m.With.RSS), ratio(m.With.HWM, m.Without.HWM), ratio(m.With.RSS, m.Without.RSS))
		}
		w("\n")
	}

	w("Goals:\n")
	if ours := r.median(nameOurs); ours != nil {
		for _, bn := range []*runResult{bitnamiDefault, bitnamiTuned} {
			if bn != nil {
				s := bn.Wall.Seconds() / ours.Wall.Seconds()
				w("- ≥ %.0f× faster than %s: %.1f× — %s\n", goalSpeedup, bn.Name, s, verdict(s >= goalSpeedup))
			}
		}
		x := ours.Wall.Seconds() / f.Total().Seconds()
		w("- within %.1f× of the floor: %.2f× — %s\n", goalFloor, x, verdict(x <= goalFloor))
	}
	if len(r.Memory) > 0 && len(r.Memory[0].Failures) == 0 {
		m := r.Memory[0]
		h, s := ratio(m.With.HWM, m.Without.HWM), ratio(m.With.RSS, m.Without.RSS)
		w("- memory with %d unrelated Secrets within %.2f×: VmHWM %.2f×, VmRSS %.2f× — %s\n", noiseCount, goalMemory, h, s,
			verdict(h <= goalMemory && s <= goalMemory))
	}
	return b.String()
}

// median returns the median run of the named contender, or nil.
func (r *unsealReport) median(name string) *runResult {
	for _, c := range r.Contenders {
		if c.Name == name {
			return c.median()
		}
	}
	return nil
}

func speedup(base, run *runResult) string {
	if base == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f×", base.Wall.Seconds()/run.Wall.Seconds())
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func perOpMS(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return d.Seconds() * 1000 / float64(n)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// loadAverage returns the 1, 5 and 15 minute load averages: on a shared
// machine they say whether other work ran beside the measurement.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// loadOf returns the 1-minute figure of a loadAverage result, 0 if
// unknown.
func loadOf(load string) float64 {
	var l float64
	if _, err := fmt.Sscan(load, &l); err != nil {
		return 0
	}
	return l
}

// cpuModel returns the first CPU's model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
