package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams is where a command reads and writes: data on Out, status on ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY reports whether ErrOut is a terminal, so colour and progress appear only there.
	ErrTTY bool
}

// Factory carries what commands share: their streams and the process environment.
type Factory struct {
	IO *IOStreams
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE, for substitution and child processes.
	Environ func() []string
	// Forced is closed when the user asks a shutdown under way to stop waiting (a second
	// SIGINT/SIGTERM); nil never closes.
	Forced <-chan struct{}
}

// NewSystemFactory is the Factory of a real process: os streams and os environment.
func NewSystemFactory() *Factory {
	return &Factory{
		IO: &IOStreams{
			In:     os.Stdin,
			Out:    os.Stdout,
			ErrOut: os.Stderr,
			ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		},
		Getenv:  os.Getenv,
		Environ: os.Environ,
	}
}
