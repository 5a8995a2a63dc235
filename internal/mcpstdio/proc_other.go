//go:build !unix

package mcpstdio

import "os/exec"

// setProcessGroup is a no-op where process groups do not exist.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup is a no-op where process groups do not exist; the child itself has been
// stopped by then.
func killProcessGroup(int) {}
