package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/adrg/xdg"
)

// Dirs are the directories aigw keeps its files in, as the reference aigw lays them out.
type Dirs struct {
	ConfigHome string // config.yaml and the MCP session seed
	DataHome   string // downloaded Envoy binaries
	StateHome  string // per-run logs: StateHome/runs/<run-id>/
	RuntimeDir string // sockets and other files that live only while aigw runs
}

// ResolveDirs fills each directory from the flag value, then its AIGW_* variable, then the XDG
// default, and makes every path absolute.
func ResolveDirs(flags Dirs, getenv func(string) string) (Dirs, error) {
	pick := func(flag, env, def string) (string, error) {
		v := flag
		if v == "" {
			v = getenv(env)
		}
		if v == "" {
			v = def
		}
		v = expandHome(v, getenv)
		abs, err := filepath.Abs(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", env, err)
		}
		return abs, nil
	}
	var d Dirs
	var err error
	if d.ConfigHome, err = pick(flags.ConfigHome, "AIGW_CONFIG_HOME", filepath.Join(xdg.ConfigHome, "aigw")); err != nil {
		return d, err
	}
	if d.DataHome, err = pick(flags.DataHome, "AIGW_DATA_HOME", filepath.Join(xdg.DataHome, "aigw")); err != nil {
		return d, err
	}
	if d.StateHome, err = pick(flags.StateHome, "AIGW_STATE_HOME", filepath.Join(xdg.StateHome, "aigw")); err != nil {
		return d, err
	}
	if d.RuntimeDir, err = pick(flags.RuntimeDir, "AIGW_RUNTIME_DIR", filepath.Join(os.TempDir(), fmt.Sprintf("aigw-%d", os.Getuid()))); err != nil {
		return d, err
	}
	return d, nil
}

// expandHome turns a leading "~/" into the user's home directory.
func expandHome(p string, getenv func(string) string) string {
	if len(p) >= 2 && p[0] == '~' && (p[1] == '/' || p[1] == filepath.Separator) {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		return filepath.Join(home, p[2:])
	}
	return p
}
