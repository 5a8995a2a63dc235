package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/run"
)

// DownloadEnvoyOptions are the inputs of `aigw download-envoy`.
type DownloadEnvoyOptions struct {
	IO       *IOStreams
	DataHome string
	// Version is --version, else ENVOY_VERSION, else run.DefaultEnvoyVersion.
	Version string
	// VersionsURL replaces func-e's release list (tests).
	VersionsURL string
}

func newDownloadEnvoyCmd(f *Factory, g *globalOptions, runF func(context.Context, *DownloadEnvoyOptions) error) *cobra.Command {
	opts := &DownloadEnvoyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "download-envoy",
		Short: "Download Envoy for `aigw run --data-plane envoy`",
		Long: `Download Envoy with func-e into $AIGW_DATA_HOME/envoy-versions/<version>/bin/envoy, checking its
checksum, so that later runs with --data-plane envoy or auto need no network. The version is
--version, else ENVOY_VERSION, else ` + run.DefaultEnvoyVersion + `; a major.minor version takes its newest patch.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Version == "" {
				opts.Version = f.Getenv("ENVOY_VERSION")
			}
			dirs, err := g.dirs(f)
			if err != nil {
				return err
			}
			opts.DataHome = dirs.DataHome
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return downloadEnvoyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Version, "version", "", "Envoy version, e.g. 1.37.1 or 1.37 (env ENVOY_VERSION; default "+run.DefaultEnvoyVersion+")")
	return cmd
}

func downloadEnvoyRun(ctx context.Context, opts *DownloadEnvoyOptions) error {
	f := &run.EnvoyFinder{DataHome: opts.DataHome, Version: opts.Version, VersionsURL: opts.VersionsURL, Out: opts.IO.ErrOut}
	path, err := f.Download(ctx)
	if err != nil {
		return fmt.Errorf("%w (aigw run --data-plane auto serves with the builtin data plane without Envoy)", err)
	}
	_, err = fmt.Fprintln(opts.IO.Out, path)
	return err
}
