package cli

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

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

func tuiRun(ctx context.Context, opts *TUIOptions) error {
	if out, ok := opts.IO.Out.(*os.File); !ok || !term.IsTerminal(int(out.Fd())) {
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
