package cli

import (
	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/version"
)

// globalOptions are the flags every command shares: where aigw keeps its files.
type globalOptions struct {
	configHome, dataHome, stateHome, runtimeDir string
}

// dirs resolves the directories from flags, then AIGW_* variables, then XDG defaults.
func (g *globalOptions) dirs(f *Factory) (config.Dirs, error) {
	return config.ResolveDirs(config.Dirs{
		ConfigHome: g.configHome,
		DataHome:   g.dataHome,
		StateHome:  g.stateHome,
		RuntimeDir: g.runtimeDir,
	}, f.Getenv)
}

// NewRootCmd builds the aigw command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "aigw",
		Short: "A terminal-first AI gateway: one endpoint for every LLM provider and MCP server",
		Long: `aigw runs an OpenAI- and Anthropic-compatible gateway in front of LLM providers and
MCP servers on your machine, with token and cost accounting, metrics and traces.`,
		Version:       version.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configHome, "config-home", "", "configuration directory (env AIGW_CONFIG_HOME; default ~/.config/aigw)")
	pf.StringVar(&g.dataHome, "data-home", "", "data directory for downloads (env AIGW_DATA_HOME; default ~/.local/share/aigw)")
	pf.StringVar(&g.stateHome, "state-home", "", "state directory for logs (env AIGW_STATE_HOME; default ~/.local/state/aigw)")
	pf.StringVar(&g.runtimeDir, "runtime-dir", "", "runtime directory for sockets (env AIGW_RUNTIME_DIR; default /tmp/aigw-$UID)")

	root.AddCommand(
		newRunCmd(f, g, nil),
		newVersionCmd(f, nil),
		newHealthcheckCmd(f, nil),
		newCompletionCmd(f),
		newMCPCmd(f),
		newTUICmd(f, nil),
		newRenderCmd(f, g, nil),
		newDownloadEnvoyCmd(f, g, nil),
	)
	return root
}

// maxArgs is cobra.MaximumNArgs reported as a usage error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
