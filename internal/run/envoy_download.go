package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	funce "github.com/tetratelabs/func-e"
	funceapi "github.com/tetratelabs/func-e/api"
)

// DefaultEnvoyVersion is the Envoy release aigw downloads unless ENVOY_VERSION names another; it
// is the reference aigw's.
const DefaultEnvoyVersion = "1.37.1"

// envoyDownloadTimeout bounds a download, so `aigw run` never hangs on a slow or dead network.
const envoyDownloadTimeout = 5 * time.Minute

// EnvoyFinder locates or downloads the Envoy binary.
type EnvoyFinder struct {
	// DataHome is aigw's data home; downloads go to DataHome/envoy-versions/<version>/bin/envoy.
	DataHome string
	// Version is the release to use ("" for ENVOY_VERSION, else DefaultEnvoyVersion); a
	// major.minor version takes the newest patch the versions list has.
	Version string
	// Path is an Envoy binary to use as is (--envoy-path).
	Path string
	// VersionsURL replaces func-e's list of releases (tests serve one locally).
	VersionsURL string
	// Transport carries func-e's HTTP requests (nil: the default).
	Transport http.RoundTripper
	// Out receives func-e's progress lines.
	Out io.Writer
	// LookPath finds `envoy` on PATH (nil: exec.LookPath; tests pass one that finds nothing).
	LookPath func(string) (string, error)
}

// Find returns an Envoy binary without downloading: --envoy-path, an `envoy` on PATH, or a
// version already downloaded. ok is false when none is at hand.
func (f *EnvoyFinder) Find() (path string, ok bool, err error) {
	if f.Path != "" {
		if err := checkExecutable(f.Path); err != nil {
			return "", false, fmt.Errorf("--envoy-path: %w", err)
		}
		return f.Path, true, nil
	}
	look := f.LookPath
	if look == nil {
		look = exec.LookPath
	}
	if p, err := look("envoy"); err == nil {
		return p, true, nil
	}
	if p := f.installed(); p != "" {
		return p, true, nil
	}
	return "", false, nil
}

// Ensure returns an Envoy binary, downloading the selected version with func-e when none is at
// hand.
func (f *EnvoyFinder) Ensure(ctx context.Context) (string, error) {
	if p, ok, err := f.Find(); ok || err != nil {
		return p, err
	}
	return f.Download(ctx)
}

// Download installs the selected version with func-e (checksum verified) and returns its path.
// It runs the downloaded binary once with --version, as the reference does: func-e's library
// API installs on the way to running Envoy.
func (f *EnvoyFinder) Download(ctx context.Context) (string, error) {
	v := f.version()
	if p := f.installed(); p != "" {
		return p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, envoyDownloadTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "aigw-func-e-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	versionsDir := filepath.Join(f.DataHome, "envoy-versions")
	before := listDirs(versionsDir)
	out := f.Out
	if out == nil {
		out = io.Discard
	}
	opts := []funceapi.RunOption{
		funceapi.ConfigHome(tmp), funceapi.DataHome(f.DataHome), funceapi.StateHome(tmp),
		funceapi.RuntimeDir(tmp), funceapi.RunID("0"), funceapi.EnvoyVersion(v),
		funceapi.Out(out), funceapi.EnvoyOut(io.Discard), funceapi.EnvoyErr(io.Discard),
	}
	if f.VersionsURL != "" {
		opts = append(opts, funceapi.EnvoyVersionsURL(f.VersionsURL))
	}
	if f.Transport != nil {
		opts = append(opts, funceapi.HTTPTransport(f.Transport))
	}
	if strings.Count(v, ".") == 1 {
		// func-e takes only a full version from its library API: find the newest patch here.
		patch, err := f.latestPatch(ctx, v)
		if err != nil {
			return "", fmt.Errorf("downloading Envoy %s: %w", v, err)
		}
		opts = append(opts, funceapi.EnvoyVersion(patch))
	}
	runErr := funce.Run(ctx, []string{"--version"}, opts...)
	if runErr != nil {
		// func-e unpacks before it compares the checksum: a version directory this attempt made
		// is removed, so a bad download is never found installed later.
		for d := range listDirs(versionsDir) {
			if !before[d] {
				_ = os.RemoveAll(filepath.Join(versionsDir, d))
			}
		}
		return "", fmt.Errorf("downloading Envoy %s: %w", v, runErr)
	}
	if p := f.installed(); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("downloading Envoy %s: no binary in %s afterwards", v, versionsDir)
}

// defaultVersionsURL is func-e's list of Envoy releases.
const defaultVersionsURL = "https://archive.tetratelabs.io/envoy/envoy-versions.json"

// latestPatch is the newest release of a major.minor version with an archive for this platform.
func (f *EnvoyFinder) latestPatch(ctx context.Context, minor string) (string, error) {
	u := f.VersionsURL
	if u == "" {
		u = defaultVersionsURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	rt := f.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", u, resp.Status)
	}
	var list struct {
		Versions map[string]struct {
			Tarballs map[string]string `json:"tarballs"`
		} `json:"versions"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&list); err != nil {
		return "", fmt.Errorf("%s: %w", u, err)
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	best := ""
	for v, r := range list.Versions {
		if strings.HasPrefix(v, minor+".") && r.Tarballs[platform] != "" && (best == "" || patchLess(best, v)) {
			best = v
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s lists no Envoy %s for %s", u, minor, platform)
	}
	return best, nil
}

// version is the release selected: the field, else ENVOY_VERSION (set into Version by the
// caller), else the default.
func (f *EnvoyFinder) version() string {
	if v := strings.TrimPrefix(strings.TrimSpace(f.Version), "v"); v != "" {
		return v
	}
	return DefaultEnvoyVersion
}

// installed is the downloaded binary of the selected version (the newest patch of a
// major.minor one), or "".
func (f *EnvoyFinder) installed() string {
	v := f.version()
	dir := filepath.Join(f.DataHome, "envoy-versions")
	var cands []string
	for d := range listDirs(dir) {
		if d == v || strings.HasPrefix(d, v+".") && strings.Count(v, ".") == 1 {
			cands = append(cands, d)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return patchLess(cands[i], cands[j]) })
	for i := len(cands) - 1; i >= 0; i-- {
		p := filepath.Join(dir, cands[i], "bin", "envoy")
		if checkExecutable(p) == nil {
			return p
		}
	}
	return ""
}

// patchLess orders versions by their patch number when the rest is the same.
func patchLess(a, b string) bool {
	pa, pb := a[strings.LastIndexByte(a, '.')+1:], b[strings.LastIndexByte(b, '.')+1:]
	if len(pa) != len(pb) {
		return len(pa) < len(pb)
	}
	return pa < pb
}

func listDirs(dir string) map[string]bool {
	out := map[string]bool{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if e.IsDir() {
			out[e.Name()] = true
		}
	}
	return out
}

func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New(p + " is not an executable file")
	}
	return nil
}
