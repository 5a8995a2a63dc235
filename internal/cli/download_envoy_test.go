package cli

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestDownloadEnvoyFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, ""},
		{"env", nil, map[string]string{"ENVOY_VERSION": "1.36"}, "1.36"},
		{"flag beats env", []string{"--version", "1.37.1"}, map[string]string{"ENVOY_VERSION": "1.36"}, "1.37.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _, errOut := testFactory(c.env)
			var got *DownloadEnvoyOptions
			root := testRoot()
			g := &globalOptions{}
			root.PersistentFlags().StringVar(&g.dataHome, "data-home", "", "")
			root.AddCommand(newDownloadEnvoyCmd(f, g, func(_ context.Context, o *DownloadEnvoyOptions) error { got = o; return nil }))
			if code := runCommand(root, errOut, append([]string{"download-envoy", "--data-home", "/d"}, c.args...)); code != ExitOK {
				t.Fatalf("exit %d (%s)", code, errOut)
			}
			if got.Version != c.want || got.DataHome != "/d" {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// TestDownloadEnvoyOffline: without network the command fails with the reason and what
// `aigw run` does without Envoy.
func TestDownloadEnvoyOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/envoy-versions.json"
	ln.Close()
	f, out, _ := testFactory(nil)
	err = downloadEnvoyRun(t.Context(), &DownloadEnvoyOptions{IO: f.IO, DataHome: t.TempDir(), VersionsURL: dead})
	if err == nil || !strings.Contains(err.Error(), "downloading Envoy "+"1.37.1") || !strings.Contains(err.Error(), "builtin data plane") || out.Len() != 0 {
		t.Fatalf("err %v, out %q", err, out)
	}
}

func TestRunDataPlaneFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code ExitCode
		want string
	}{
		{nil, ExitOK, "builtin"},
		{[]string{"--data-plane", "auto", "--envoy-path", "/e"}, ExitOK, "auto"},
		{[]string{"--data-plane", "envoy"}, ExitOK, "envoy"},
		{[]string{"--data-plane", "nginx"}, ExitUsage, ""},
		{[]string{"--envoy-path", "/e"}, ExitUsage, ""},
	} {
		f, _, errOut := testFactory(nil)
		var got *RunOptions
		root := testRoot()
		root.AddCommand(newRunCmd(f, &globalOptions{}, func(_ context.Context, o *RunOptions) error { got = o; return nil }))
		if code := runCommand(root, errOut, append([]string{"run"}, c.args...)); code != c.code {
			t.Fatalf("%v: exit %d, want %d (%s)", c.args, code, c.code, errOut)
		}
		if c.code == ExitOK && got.DataPlane != c.want {
			t.Errorf("%v: data plane %q", c.args, got.DataPlane)
		}
	}
}
