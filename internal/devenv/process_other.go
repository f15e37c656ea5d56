//go:build !linux

package devenv

import (
	"os"
	"syscall"
)

// vaultSysProcAttr: outside Linux the peer keeps the test's process group
// and is killed alone.
func vaultSysProcAttr() *syscall.SysProcAttr { return nil }

// killProcessGroup kills the process pid.
func killProcessGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
