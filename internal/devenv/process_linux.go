package devenv

import "syscall"

// vaultSysProcAttr puts a peer in its own process group, so killing the
// group takes any children with it, and has the kernel kill it if the test
// binary dies first rather than leave it holding its port.
func vaultSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProcessGroup kills the process group led by pid.
func killProcessGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
