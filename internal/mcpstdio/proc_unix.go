//go:build unix

package mcpstdio

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in its own process group, so shutdown can reach the
// grandchildren that launchers like npx and uvx start, and a Ctrl-C in the terminal reaches
// aigw only (which then shuts the child down in order).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup SIGKILLs what remains of the child's process group after the child itself
// has been stopped.
func killProcessGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
