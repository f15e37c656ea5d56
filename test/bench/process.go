package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/devenv"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK) needs cgo).
const userHZ = 100

// stopGrace is how long a controller gets to exit after SIGTERM before it
// is killed.
const stopGrace = 10 * time.Second

// setup is what every subcommand starts from: its work folder, our
// controller built into it, and the committed bench keys, oldest first.
type setup struct {
	dir, controller string
	keys            []*crypto.Key
}

// prepare makes a subcommand's setup; runErr is the subcommand's error,
// which decides whether the work folder is kept (see workDir).
func prepare(ctx context.Context, c *cleanups, keep bool, runErr *error) (*setup, error) {
	root, err := devenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := workDir(c, keep, runErr)
	if err != nil {
		return nil, err
	}
	keys, err := loadBenchKeys(root)
	if err != nil {
		return nil, err
	}
	bin, err := buildController(ctx, root, dir)
	if err != nil {
		return nil, err
	}
	return &setup{dir: dir, controller: bin, keys: keys}, nil
}

// buildController builds cmd/controller of the module at root into dir
// and returns the binary's path.
func buildController(ctx context.Context, root, dir string) (string, error) {
	progress("building cmd/controller")
	bin := filepath.Join(dir, "sealsync-controller")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/controller")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/controller: %w", err)
	}
	return bin, nil
}

// workDir creates the scratch folder of a subcommand: controller logs,
// the kubeconfig, the controller binary. It is removed with the cleanups
// when the subcommand succeeds, unless keep; *runErr is the subcommand's
// named error result, read when the cleanups run, and a failed run keeps
// the folder for its logs.
func workDir(c *cleanups, keep bool, runErr *error) (string, error) {
	dir, err := os.MkdirTemp("", "sealsync-bench-")
	if err != nil {
		return "", err
	}
	c.add(func() {
		if *runErr != nil || keep {
			progress("work folder kept: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir, nil
}

// procSpec says how to start a controller process.
type procSpec struct {
	// name is the contender's name, for messages.
	name string
	// path and args are the command line; env is the whole environment.
	path string
	args []string
	env  []string
	// logPath receives stdout and stderr.
	logPath string
}

// proc is a running controller process.
type proc struct {
	spec    procSpec
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid once exited is closed
}

// startProc starts spec's process in its own process group, so that a
// Ctrl-C in the terminal reaches only the bench, which then stops it in
// order, and with PR_SET_PDEATHSIG so that it dies if the bench dies.
func startProc(spec procSpec) (*proc, error) {
	log, err := os.Create(spec.logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Env = spec.env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{spec: spec, cmd: cmd, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		log.Close()
		close(p.exited)
	}()
	return p, nil
}

// pid returns the process ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// errExited reports a process that ended before it was stopped.
func (p *proc) errExited() error {
	return fmt.Errorf("exited before all Secrets existed (%v)", p.waitErr)
}

// stop sends SIGTERM to the process group, then SIGKILL after stopGrace,
// and waits for the process to end. It reports whether SIGKILL was needed.
func (p *proc) stop() (killed bool) {
	select {
	case <-p.exited:
		return false
	default:
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.exited:
		return false
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.exited
	return true
}

// procStats are what /proc tells about a process.
type procStats struct {
	// CPU is user plus system time.
	CPU time.Duration
	// HWM is the peak resident set size (VmHWM), RSS the current (VmRSS).
	HWM, RSS int64 // bytes
}

// stats reads the process's CPU time from /proc/PID/stat and its memory
// from /proc/PID/status. It must be called before the process is stopped.
func (p *proc) stats() (procStats, error) {
	return readProcStats(p.pid())
}

func readProcStats(pid int) (procStats, error) {
	var st procStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start after the last ')'. utime and stime are
	// fields 14 and 15, so 11 and 12 after the state (field 3).
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return st, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	st.CPU = time.Duration(ticks) * time.Second / userHZ

	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return st, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmHWM" {
			st.HWM = kb << 10
		} else {
			st.RSS = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	if st.HWM == 0 {
		return st, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
	}
	return st, nil
}

// childPIDs returns the PIDs of this process's children running the named
// commands, one each.
func childPIDs(commands ...string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := strconv.Itoa(os.Getpid())
	found := map[string]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended meanwhile
		}
		// "pid (comm) state ppid ..."
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		if f := strings.Fields(string(b[end+1:])); len(f) > 1 && f[1] == self {
			found[string(b[open+1:end])] = pid
		}
	}
	pids := make([]int, 0, len(commands))
	for _, c := range commands {
		// The kernel keeps only the first 15 bytes of a command name.
		pid, ok := found[c[:min(len(c), 15)]]
		if !ok {
			return nil, fmt.Errorf("no child process %q", c)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
