package cli

import (
	"bytes"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/k8sgen"
	"github.com/aigw/aigw/internal/run"
)

// RenderOptions are the inputs of `aigw render manifests`.
type RenderOptions struct {
	IO                 *IOStreams
	Dirs               config.Dirs
	Getenv             func(string) string
	ConfigPath         string
	MCPConfigPath      string // --mcp-config: MCP JSON file
	MCPJSON            string // --mcp-json: MCP JSON text
	Demo               bool
	Namespace          string
	Output             string // "yaml" or "json"
	OutDir             string
	GatewayClass       string
	RenderGatewayClass bool
	IncludeSecrets     bool
}

func newRenderCmd(f *Factory, g *globalOptions, runF func(context.Context, *RenderOptions) error) *cobra.Command {
	render := &cobra.Command{
		Use:   "render",
		Short: "Render the configuration for other platforms",
	}
	opts := &RenderOptions{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "manifests [config.yaml]",
		Short: "Render the configuration as Kubernetes manifests for Envoy AI Gateway",
		Long: `Render what ` + "`aigw run`" + ` would serve from the same inputs (a config file, config.yaml in
the config home, or the provider environment variables, and the MCP servers of --mcp-config or
--mcp-json) as Kubernetes manifests for Envoy AI Gateway: Gateway, AIGatewayRoute,
AIServiceBackend, Envoy Gateway Backend, BackendTLSPolicy, BackendSecurityPolicy with its Secret,
BackendTrafficPolicy, GatewayConfig and MCPRoute.

Secrets get a placeholder value and a kubectl hint on stderr unless --include-secrets is given.
A stdio MCP server cannot run in a cluster: it becomes a comment saying what to deploy instead.`,
		Example: `  aigw render manifests configs/multi-provider-fallback.yaml | kubectl apply -f -
  OPENAI_API_KEY=sk-... aigw render manifests -n ai --out-dir deploy/ && kubectl apply -k deploy/
  aigw render manifests --mcp-config ~/.cursor/mcp.json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ConfigPath = args[0]
			}
			if opts.Output != "yaml" && opts.Output != "json" {
				return usageErrorf("--output must be yaml or json, not %q", opts.Output)
			}
			if opts.OutDir != "" && opts.Output != "yaml" {
				return usageErrorf("--out-dir writes YAML files; leave out --output json")
			}
			if opts.Demo {
				return usageErrorf("--demo cannot be rendered: its simulated provider exists only inside aigw; render a config file or your provider keys (OPENAI_API_KEY, ...)")
			}
			opts.RenderGatewayClass = cmd.Flags().Changed("gateway-class")
			dirs, err := g.dirs(f)
			if err != nil {
				return err
			}
			opts.Dirs = dirs
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return renderRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.MCPConfigPath, "mcp-config", "", "MCP JSON file ({\"mcpServers\": {...}}) whose servers become an MCPRoute, as aigw run serves them")
	fl.StringVar(&opts.MCPJSON, "mcp-json", "", "MCP JSON text, as --mcp-config")
	fl.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the rendered objects (default: kubectl's current namespace)")
	fl.StringVarP(&opts.Output, "output", "o", "yaml", "output format: yaml (a multi-document stream) or json (a v1 List)")
	fl.StringVar(&opts.OutDir, "out-dir", "", "write one file per kind and a kustomization.yaml to this directory instead of stdout")
	fl.StringVar(&opts.GatewayClass, "gateway-class", k8sgen.DefaultGatewayClass, "GatewayClass of the Gateway; when given, a GatewayClass for Envoy Gateway's controller is rendered too")
	fl.BoolVar(&opts.IncludeSecrets, "include-secrets", false, "write the real credential values into the Secrets (default: placeholders)")
	fl.BoolVar(&opts.Demo, "demo", false, "refused: the demo's simulator cannot run in a cluster")
	_ = fl.MarkHidden("demo")
	render.AddCommand(cmd)
	return render
}

func renderRun(_ context.Context, opts *RenderOptions) error {
	m, err := run.LoadModel(run.Options{Dirs: opts.Dirs, ConfigPath: opts.ConfigPath, MCPConfigPath: opts.MCPConfigPath,
		MCPJSON: opts.MCPJSON, Demo: opts.Demo, Getenv: opts.Getenv})
	if err != nil {
		return err
	}
	res, err := k8sgen.Render(m, k8sgen.Options{
		Namespace:          opts.Namespace,
		GatewayClass:       opts.GatewayClass,
		RenderGatewayClass: opts.RenderGatewayClass,
		IncludeSecrets:     opts.IncludeSecrets,
		SecretEnv:          func(b *config.Backend) string { return config.EnvKeyVariable(m, b) },
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	errOut := opts.IO.ErrOut
	for _, w := range m.Warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w)
	}
	if opts.IncludeSecrets && len(res.Secrets) > 0 {
		fmt.Fprintf(errOut, "warning: --include-secrets: the output holds %d credential(s) in clear text; do not commit it\n", len(res.Secrets))
	} else {
		for _, s := range res.Secrets {
			fmt.Fprintln(errOut, secretHint(s))
		}
	}
	if opts.OutDir != "" {
		files, err := k8sgen.WriteDir(opts.OutDir, m.Source, res.Objects)
		if err != nil {
			return err
		}
		fmt.Fprintf(errOut, "wrote %d objects to %d files in %s (kubectl apply -k %s)\n", len(res.Objects), len(files), opts.OutDir, opts.OutDir)
		return nil
	}
	var buf bytes.Buffer
	if opts.Output == "json" {
		err = k8sgen.WriteJSON(&buf, res.Objects)
	} else {
		err = k8sgen.WriteYAML(&buf, m.Source, res.Objects)
	}
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(buf.Bytes())
	return err
}

// secretHint is the one line that creates or replaces a rendered Secret with its real value.
func secretHint(s k8sgen.SecretInfo) string {
	value, from := "<value>", "--from-literal"
	switch {
	case s.Env != "":
		value = `"$` + s.Env + `"`
	case s.Path != "":
		value, from = s.Path, "--from-file"
	case s.File:
		value, from = "<file>", "--from-file"
	}
	ns := ""
	if s.Namespace != "" {
		ns = " -n " + s.Namespace
	}
	more := ""
	for _, k := range s.MoreKeys {
		more += " " + from + "=" + k + "=" + value
	}
	holds := "a placeholder"
	if s.Empty {
		holds = "no value"
	}
	return fmt.Sprintf("secret %s holds %s; set it with: kubectl%s create secret generic %s %s=%s=%s%s --dry-run=client -o yaml | kubectl%s apply -f -",
		s.Name, holds, ns, s.Name, from, s.Key, value, more, ns)
}
