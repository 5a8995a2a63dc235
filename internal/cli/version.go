package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/version"
)

// VersionOptions are the inputs of `aigw version`.
type VersionOptions struct {
	IO     *IOStreams
	Output string // "text" or "json"
}

func newVersionCmd(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the aigw version",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return usageErrorf("--output must be text or json, not %q", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	if opts.Output == "json" {
		return json.NewEncoder(opts.IO.Out).Encode(map[string]string{
			"version": version.Version(),
			"go":      runtime.Version(),
			"os":      runtime.GOOS,
			"arch":    runtime.GOARCH,
		})
	}
	_, err := fmt.Fprintf(opts.IO.Out, "aigw %s (%s %s/%s)\n", version.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
