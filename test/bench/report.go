package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
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
}

// unsealReport is everything the unseal benchmark prints.
type unsealReport struct {
	CPUModel, GoVersion, APIServer string
	GOMAXPROCS                     int
	Load                           [2]string // load averages before and after
	Floor                          floor
	Runs                           []runResult // ours first, then ours unhinted, Bitnami tuned, Bitnami default
	Profile                        *profileResult
	Memory                         []memoryResult
}

func (r *unsealReport) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Unseal: %d SealedSecrets × 2 items, %d keys, sealed with the oldest\n\n", sealedCount, benchKeys)
	w("%d × %s, GOMAXPROCS %d, %s, kube-apiserver %s (envtest). Load average before: %s; after: %s.\n\n",
		r.GOMAXPROCS, r.CPUModel, r.GOMAXPROCS, r.GoVersion, r.APIServer, r.Load[0], r.Load[1])
	if l, err := strconv.ParseFloat(strings.Fields(r.Load[0])[0], 64); err == nil && l > 0.5*float64(r.GOMAXPROCS) {
		w("**Note:** the load average was %.2f on %d cores before the run: other work competed for the CPU, and the figures are slower than on an idle machine.\n\n", l, r.GOMAXPROCS)
	}
	f := r.Floor
	w("Floor %.2f s = %d RSA-4096 OAEP decryptions with the right key on %d goroutines, %.2f s (%.2f s CPU: %.1f ms each, %.2f cores obtained) + %d two-item Secret creates, unthrottled, %d workers, %.2f s.\n\n",
		f.Total().Seconds(), f.Ops, f.DecryptWorkers, f.Decrypt.Seconds(), f.DecryptCPU.Seconds(),
		perOpMS(f.DecryptCPU, f.Ops), f.DecryptCPU.Seconds()/f.Decrypt.Seconds(), f.Creates, f.CreateWorkers, f.Create.Seconds())

	bitnamiDefault, bitnamiTuned := r.find("Bitnami v0.36.6, default (5 QPS)"), r.find("Bitnami v0.36.6, --kubeclient-qps=-1")
	w("| contender | wall s | objects/s | CPU s | peak RSS MiB | speed-up vs Bitnami default | speed-up vs Bitnami tuned | × floor | API server + etcd CPU s |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, run := range r.Runs {
		if run.Skipped != "" {
			w("| %s | skipped: %s | | | | | | | |\n", run.Name, run.Skipped)
			continue
		}
		w("| %s | %.2f | %.1f | %.2f | %.1f | %s | %s | %.2f | %.2f |\n", run.Name, run.Wall.Seconds(),
			float64(sealedCount)/run.Wall.Seconds(), run.CPU.Seconds(), mib(run.HWM),
			speedup(bitnamiDefault, run), speedup(bitnamiTuned, run), run.Wall.Seconds()/f.Total().Seconds(),
			run.ControlPlaneCPU.Seconds())
	}
	w("\nWall time runs from process start until a watch has seen all %d Secrets; CPU is the controller's user+system time until then (/proc/PID/stat), peak RSS its VmHWM.\n\n", sealedCount)

	if r.Profile != nil {
		r.Profile.markdown(&b)
	}

	if len(r.Memory) > 0 {
		w("Memory once synced (%d Secrets present, %s later), without and with %d unrelated %d-byte Secrets in %s:\n\n",
			sealedCount, settle, noiseCount, noiseSize, noiseNamespace)
		w("| controller | VmHWM MiB | VmRSS MiB | VmHWM MiB +%d | VmRSS MiB +%d | VmHWM ratio | VmRSS ratio |\n", noiseCount, noiseCount)
		w("|---|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range r.Memory {
			w("| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", m.Name, mib(m.Without.HWM), mib(m.Without.RSS),
				mib(m.With.HWM), mib(m.With.RSS), ratio(m.With.HWM, m.Without.HWM), ratio(m.With.RSS, m.Without.RSS))
		}
		w("\n")
	}

	w("Goals:\n")
	if len(r.Runs) > 0 {
		ours := r.Runs[0]
		for _, bn := range []*runResult{bitnamiDefault, bitnamiTuned} {
			if bn != nil {
				s := bn.Wall.Seconds() / ours.Wall.Seconds()
				w("- ≥ %.0f× faster than %s: %.1f× — %s\n", goalSpeedup, bn.Name, s, verdict(s >= goalSpeedup))
			}
		}
		x := ours.Wall.Seconds() / f.Total().Seconds()
		w("- within %.1f× of the floor: %.2f× — %s\n", goalFloor, x, verdict(x <= goalFloor))
	}
	if len(r.Memory) > 0 {
		m := r.Memory[0]
		h, s := ratio(m.With.HWM, m.Without.HWM), ratio(m.With.RSS, m.Without.RSS)
		w("- memory with %d unrelated Secrets within %.2f×: VmHWM %.2f×, VmRSS %.2f× — %s\n", noiseCount, goalMemory, h, s,
			verdict(h <= goalMemory && s <= goalMemory))
	}
	return b.String()
}

func (r *unsealReport) find(name string) *runResult {
	for i := range r.Runs {
		if r.Runs[i].Name == name && r.Runs[i].Skipped == "" {
			return &r.Runs[i]
		}
	}
	return nil
}

func speedup(base *runResult, run runResult) string {
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
