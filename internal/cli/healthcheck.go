package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/version"
)

// HealthcheckOptions are the inputs of `aigw healthcheck`.
type HealthcheckOptions struct {
	IO      *IOStreams
	Admin   string // base URL of the admin server
	Timeout time.Duration
}

func newHealthcheckCmd(f *Factory, runF func(context.Context, *HealthcheckOptions) error) *cobra.Command {
	opts := &HealthcheckOptions{IO: f.IO}
	var port int
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a running aigw whether it is serving (exit 0) or not (exit 1)",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Admin == "" {
				opts.Admin = fmt.Sprintf("http://127.0.0.1:%d", port)
			}
			if !strings.Contains(opts.Admin, "://") {
				opts.Admin = "http://" + opts.Admin
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return healthcheckRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Admin, "admin", "", "admin server URL (default http://127.0.0.1:<admin-port>)")
	cmd.Flags().IntVar(&port, "admin-port", 1064, "admin server port on 127.0.0.1")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Second, "how long to wait for an answer")
	return cmd
}

func healthcheckRun(ctx context.Context, opts *HealthcheckOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	url := strings.TrimSuffix(opts.Admin, "/") + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	req.Header.Set("User-Agent", version.UserAgent())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("aigw is not reachable at %s: %w", opts.Admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("aigw at %s is not healthy: %s %s", opts.Admin, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = fmt.Fprintf(opts.IO.Out, "ok: %s\n", strings.TrimSpace(string(body)))
	return err
}
