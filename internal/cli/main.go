// Package cli holds aigw's command tree. Each command is an options struct, a constructor that
// only fills the options from flags, and a plain run function; exit codes are decided here once.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// ExitCode is the process exit status that Main returns.
type ExitCode int

// Exit codes: 0 success, 1 a command failed, 2 the command line was wrong.
const (
	ExitOK    ExitCode = 0
	ExitError ExitCode = 1
	ExitUsage ExitCode = 2
)

// usageError marks an error in how the command was invoked; Main prints the usage with it.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf reports a command-line mistake.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// Main runs aigw with the given arguments (without the program name) and returns the exit code.
// The first SIGINT or SIGTERM cancels the command's context so servers shut down gracefully; a
// second one closes Factory.Forced, which ends the drain at once; a third gets the signal's
// default action.
func Main(args []string) ExitCode {
	f := NewSystemFactory()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	forced := make(chan struct{})
	f.Forced = forced
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer signal.Stop(sigs)
		for n := 0; n < 2; n++ {
			select {
			case <-sigs:
			case <-done:
				return
			}
			if n == 0 {
				cancel()
			} else {
				close(forced)
			}
		}
	}()
	return execute(ctx, f, args)
}

// execute runs the command tree; it is Main without the process globals, for tests.
func execute(ctx context.Context, f *Factory, args []string) ExitCode {
	root := NewRootCmd(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	code := exitCode(err)
	switch code {
	case ExitUsage:
		fmt.Fprintf(f.IO.ErrOut, "Error: %v\n\n%s", err, cmd.UsageString())
	case ExitError:
		fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
	}
	return code
}

// exitCode is the one mapping from a command's error to the process exit code.
func exitCode(err error) ExitCode {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitError
}
