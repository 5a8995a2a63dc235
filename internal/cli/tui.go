package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aigw/aigw/internal/run"
	"github.com/aigw/aigw/internal/tui"
)

// TUIOptions are the inputs of `aigw tui`.
type TUIOptions struct {
	IO *IOStreams
	// Admin is the admin server's base URL.
	Admin string
	// Buffer is how many requests the TUI keeps; Replay how many past events it asks for.
	Buffer, Replay int
	NoColor        bool
	Environ        []string
}

func newTUICmd(f *Factory, runF func(context.Context, *TUIOptions) error) *cobra.Command {
	opts := &TUIOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "Watch a running aigw live: requests, tokens, costs, latency and traces",
		Long: `Attach to a running aigw's admin server and show its requests as they happen: a live table
(tab 1), totals per model, backend and route with sparklines (tab 2), and the trace of one
request (enter, tab 3). It reconnects by itself when aigw restarts.

To run the gateway and watch it in the same terminal, use ` + "`aigw run --tui`" + `.`,
		Example: `  aigw tui
  aigw tui --admin http://127.0.0.1:1064`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.Contains(opts.Admin, "://") {
				opts.Admin = "http://" + opts.Admin
			}
			opts.Admin = strings.TrimSuffix(opts.Admin, "/")
			if opts.Buffer < 1 || opts.Replay < 0 {
				return usageErrorf("--buffer must be positive and --replay not negative")
			}
			opts.NoColor = f.Getenv("NO_COLOR") != ""
			if f.Environ != nil {
				opts.Environ = f.Environ()
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return tuiRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Admin, "admin", "http://127.0.0.1:1064", "admin server URL of the aigw to watch")
	fl.IntVar(&opts.Buffer, "buffer", tui.DefaultBuffer, "most requests kept in memory (the oldest go first)")
	fl.IntVar(&opts.Replay, "replay", tui.DefaultReplay, "past events to replay on connecting (0: none)")
	return cmd
}

// errNoTerminal is the error of a TUI started without a terminal to draw on.
var errNoTerminal = errors.New("aigw tui needs a terminal: stdout is not one (for data, read GET /events or /stats on the admin server)")

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func tuiRun(ctx context.Context, opts *TUIOptions) error {
	if !isTerminal(opts.IO.Out) {
		return errNoTerminal
	}
	replay := opts.Replay
	if replay == 0 {
		replay = -1
	}
	return tui.Run(ctx, tui.RunOptions{
		Options: tui.Options{Admin: opts.Admin, Buffer: opts.Buffer, NoColor: opts.NoColor},
		Replay:  replay,
		In:      opts.IO.In,
		Out:     opts.IO.Out,
		Environ: opts.Environ,
	})
}

// runWithTUI is `aigw run --tui`: the gateway runs as usual, and the TUI, attached to its admin
// server, takes the terminal. Status lines and logs go to the run log only, never over the TUI.
// Quitting the TUI stops the gateway; a gateway that stops ends the TUI and reports why.
func runWithTUI(ctx context.Context, ro run.Options, streams *IOStreams, noColor bool, environ []string) error {
	if !isTerminal(streams.Out) {
		return errors.New("aigw run --tui needs a terminal: stdout is not one (drop --tui, and watch with `aigw tui` elsewhere)")
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	readyc := make(chan run.Ready, 1)
	onReady := ro.OnReady
	ro.OnReady = func(r run.Ready) {
		if onReady != nil {
			onReady(r)
		}
		readyc <- r
	}
	ro.Status = nil // the run log has every line; nothing may write over the TUI
	done := make(chan error, 1)
	go func() { done <- run.Run(ctx, ro) }()
	var ready run.Ready
	select {
	case ready = <-readyc:
	case err := <-done:
		return err
	}
	tuiCtx, stopTUI := context.WithCancel(ctx)
	defer stopTUI()
	runErr := make(chan error, 1)
	go func() {
		err := <-done
		runErr <- err
		stopTUI()
	}()
	tuiErr := tui.Run(tuiCtx, tui.RunOptions{
		Options: tui.Options{Admin: ready.Admin, NoColor: noColor},
		In:      streams.In,
		Out:     streams.Out,
		Environ: environ,
	})
	stop() // the TUI is gone: stop the gateway, letting requests in flight finish
	fmt.Fprintf(streams.ErrOut, "aigw: stopping, letting requests in flight finish (ctrl+c twice stops at once); log %s\n", ready.LogFile)
	return errors.Join(<-runErr, tuiErr)
}
