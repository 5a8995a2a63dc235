package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigw/aigw/internal/observe"
)

// testFactory is a Factory with buffers for streams and a fixed environment.
func testFactory(env map[string]string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &Factory{
		IO:      &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		Getenv:  func(k string) string { return env[k] },
		Environ: func() []string { return nil },
	}, out, errOut
}

// testRoot is a bare root command for testing one subcommand's flags through its runF.
func testRoot() *cobra.Command {
	root := &cobra.Command{Use: "aigw", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	return root
}

// runCommand runs root with args and returns the exit code Main would.
func runCommand(root *cobra.Command, errOut io.Writer, args []string) ExitCode {
	root.SetArgs(args)
	root.SetErr(errOut)
	_, err := root.ExecuteC()
	return exitCode(err)
}

func TestRunFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want func(*RunOptions) bool
		code ExitCode
	}{
		{"defaults", nil, nil, func(o *RunOptions) bool {
			return o.Host == "127.0.0.1" && o.Port == 1975 && o.AdminPort == 1064 && !o.Demo && !o.Debug && o.ConfigPath == ""
		}, ExitOK},
		{"demo and ports", []string{"--demo", "--port", "0", "--admin-port", "9", "--host", "0.0.0.0"}, nil, func(o *RunOptions) bool {
			return o.Demo && o.Port == 0 && o.AdminPort == 9 && o.Host == "0.0.0.0"
		}, ExitOK},
		{"env debug and run id", nil, map[string]string{"AIGW_DEBUG": "true", "AIGW_RUN_ID": "r1"}, func(o *RunOptions) bool {
			return o.Debug && o.RunID == "r1"
		}, ExitOK},
		{"flag beats env", []string{"--debug=false", "--run-id", "flag"}, map[string]string{"AIGW_DEBUG": "1", "AIGW_RUN_ID": "env"}, func(o *RunOptions) bool {
			return !o.Debug && o.RunID == "flag"
		}, ExitOK},
		{"config path and dirs", []string{"cfg.yaml", "--state-home", "/s"}, map[string]string{"AIGW_CONFIG_HOME": "/c"}, func(o *RunOptions) bool {
			return o.ConfigPath == "cfg.yaml" && o.Dirs.StateHome == "/s" && o.Dirs.ConfigHome == "/c"
		}, ExitOK},
		{"two configs", []string{"a.yaml", "b.yaml"}, nil, nil, ExitUsage},
		{"bad port", []string{"--port", "x"}, nil, nil, ExitUsage},
		{"port out of range", []string{"--port", "70000"}, nil, nil, ExitUsage},
		{"unknown flag", []string{"--nope"}, nil, nil, ExitUsage},
		{"demo with config", []string{"--demo", "a.yaml"}, nil, nil, ExitUsage},
		{"shutdown and log defaults", nil, nil, func(o *RunOptions) bool {
			return o.ShutdownGrace == 30*time.Second && o.LogMaxSize == observe.DefaultLogMaxSize && o.LogMaxFiles == observe.DefaultLogMaxFiles
		}, ExitOK},
		{"shutdown and log flags", []string{"--shutdown-grace", "2s", "--log-max-size", "1000", "--log-max-files", "0"}, nil, func(o *RunOptions) bool {
			return o.ShutdownGrace == 2*time.Second && o.LogMaxSize == 1000 && o.LogMaxFiles == 0
		}, ExitOK},
		{"zero grace", []string{"--shutdown-grace", "0s"}, nil, nil, ExitUsage},
		{"negative log size", []string{"--log-max-size", "-1"}, nil, nil, ExitUsage},
		{"negative log files", []string{"--log-max-files", "-1"}, nil, nil, ExitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, errOut := testFactory(c.env)
			var got *RunOptions
			root := testRoot()
			g := &globalOptions{}
			root.PersistentFlags().StringVar(&g.stateHome, "state-home", "", "")
			root.AddCommand(newRunCmd(f, g, func(_ context.Context, o *RunOptions) error { got = o; return nil }))
			if code := runCommand(root, errOut, append([]string{"run"}, c.args...)); code != c.code {
				t.Fatalf("exit %d, want %d (%s)", code, c.code, errOut)
			}
			if c.want != nil && !c.want(got) {
				t.Errorf("options %+v", got)
			}
		})
	}
}

func TestMainExitCodesAndMessages(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		code     ExitCode
		stdout   string
		stderr   string
		noStderr string
	}{
		{"version", []string{"version"}, nil, ExitOK, "aigw ", "", ""},
		{"version json", []string{"version", "-o", "json"}, nil, ExitOK, `"version"`, "", ""},
		{"usage error prints usage", []string{"run", "--port", "nope"}, nil, ExitUsage, "", "Usage:", ""},
		{"unknown command", []string{"nope"}, nil, ExitError, "", "unknown command", ""},
		{"nothing configured", []string{"run", "--port", "0", "--admin-port", "0", "--state-home", t.TempDir()}, nil, ExitError, "", "aigw run --demo", "Usage:"},
		{"config file missing", []string{"run", "x.yaml", "--port", "0", "--admin-port", "0", "--state-home", t.TempDir()}, nil, ExitError, "", "x.yaml", "Usage:"},
		{"azure incomplete", []string{"run", "--port", "0", "--admin-port", "0", "--state-home", t.TempDir()}, map[string]string{"AZURE_OPENAI_API_KEY": "k"}, ExitError, "", "AZURE_OPENAI_ENDPOINT", "k\n"},
		{"completion", []string{"completion", "bash"}, nil, ExitOK, "bash completion", "", ""},
		{"completion without shell", []string{"completion"}, nil, ExitUsage, "", "one shell", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, out, errOut := testFactory(c.env)
			code := execute(context.Background(), f, c.args)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			if !strings.Contains(out.String(), c.stdout) {
				t.Errorf("stdout %q lacks %q", out, c.stdout)
			}
			if !strings.Contains(errOut.String(), c.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, c.stderr)
			}
			if c.noStderr != "" && strings.Contains(errOut.String(), c.noStderr) {
				t.Errorf("stderr %q has %q", errOut, c.noStderr)
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("serving\n"))
	}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("data plane not serving"))
	}))
	defer sick.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, c := range []struct {
		url    string
		code   ExitCode
		stderr string
	}{
		{healthy.URL, ExitOK, ""},
		{sick.URL, ExitError, "not healthy: 503"},
		{deadURL, ExitError, "not reachable"},
	} {
		f, out, errOut := testFactory(nil)
		if code := execute(context.Background(), f, []string{"healthcheck", "--admin", c.url}); code != c.code {
			t.Errorf("%s: exit %d, want %d (%s%s)", c.url, code, c.code, out, errOut)
		}
		if !strings.Contains(errOut.String(), c.stderr) {
			t.Errorf("stderr %q lacks %q", errOut, c.stderr)
		}
	}
}
