package tui

import (
	"context"
	"errors"
	"io"

	tea "charm.land/bubbletea/v2"
)

// RunOptions are what Run needs besides the model's Options.
type RunOptions struct {
	Options
	// Replay is how many past events to ask for on connecting: 0 for DefaultReplay, <0 for none.
	Replay int
	In     io.Reader
	Out    io.Writer
	// Environ is the environment (NO_COLOR, TERM) the terminal is judged by.
	Environ []string
	// FPS caps the frame rate (default 30).
	FPS int
}

// DefaultReplay is how many events are replayed on connecting unless told otherwise: as many as
// the gateway keeps.
const DefaultReplay = 4096

// Run shows the TUI until the user quits or ctx is done. One goroutine reads the event stream and
// hands events to the program with Send; the program itself does no I/O in Update.
func Run(ctx context.Context, o RunOptions) error {
	switch {
	case o.Replay == 0:
		o.Replay = DefaultReplay
	case o.Replay < 0:
		o.Replay = 0
	}
	if o.FPS <= 0 {
		o.FPS = 30
	}
	m := New(o.Options)
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(o.FPS), tea.WithoutSignalHandler()}
	if o.In != nil {
		opts = append(opts, tea.WithInput(o.In))
	}
	if o.Out != nil {
		opts = append(opts, tea.WithOutput(o.Out))
	}
	if o.Environ != nil {
		opts = append(opts, tea.WithEnvironment(o.Environ))
	}
	p := tea.NewProgram(m, opts...)
	subCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &Client{Admin: o.Admin, Replay: o.Replay}
		c.Run(subCtx, p.Send)
	}()
	_, err := p.Run()
	stop()
	<-done
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the context ended the program: a signal, or the gateway of `aigw run --tui` stopped
	}
	return err
}
