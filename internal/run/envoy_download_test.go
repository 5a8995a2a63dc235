package run

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// standInScript is a stand-in for the Envoy binary inside the test archives: it answers
// --version as Envoy does and nothing else. It is not Envoy.
const standInScript = "#!/bin/sh\necho 'stand-in for envoy (aigw tests) version: 0/%s/Clean/RELEASE/BoringSSL'\nexit 0\n"

// archive is a func-e style release archive: one top directory holding bin/envoy.
func archive(t *testing.T, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	top := "envoy-" + version + "-" + runtime.GOOS + "-" + runtime.GOARCH
	script := []byte(strings.Replace(standInScript, "%s", version, 1))
	for _, h := range []*tar.Header{
		{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: top + "/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: top + "/bin/envoy", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(script))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(script); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// releaseServer serves a versions list (func-e's envoy-versions.json format) and the archives.
type releaseServer struct {
	srv      *httptest.Server
	requests atomic.Int64
}

func newReleaseServer(t *testing.T, versions []string, corrupt bool) *releaseServer {
	t.Helper()
	rs := &releaseServer{}
	archives := map[string][]byte{}
	mux := http.NewServeMux()
	rs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(rs.srv.Close)
	type release struct {
		ReleaseDate string            `json:"releaseDate"`
		Tarballs    map[string]string `json:"tarballs"`
	}
	list := struct {
		LatestVersion string             `json:"latestVersion"`
		Versions      map[string]release `json:"versions"`
		SHA256Sums    map[string]string  `json:"sha256sums"`
	}{LatestVersion: versions[len(versions)-1], Versions: map[string]release{}, SHA256Sums: map[string]string{}}
	for _, v := range versions {
		name := "envoy-" + v + "-" + runtime.GOOS + "-" + runtime.GOARCH + ".tar.gz"
		a := archive(t, v)
		archives["/"+name] = a
		sum := sha256.Sum256(a)
		if corrupt {
			sum[0] ^= 0xff
		}
		list.SHA256Sums[name] = hex.EncodeToString(sum[:])
		list.Versions[v] = release{ReleaseDate: "2026-01-02", Tarballs: map[string]string{runtime.GOOS + "/" + runtime.GOARCH: rs.srv.URL + "/" + name}}
	}
	js, _ := json.Marshal(list)
	mux.HandleFunc("/envoy-versions.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(js)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a, ok := archives[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(a)
	})
	return rs
}

func noEnvoyOnPath(string) (string, error) { return "", exec.ErrNotFound }

// TestEnvoyDownload: func-e downloads the selected version from the versions list, checks its
// checksum, and lays it out as DataHome/envoy-versions/<version>/bin/envoy; the next run finds
// it without the network.
func TestEnvoyDownload(t *testing.T) {
	rs := newReleaseServer(t, []string{"1.36.4", "1.37.1"}, false)
	data := t.TempDir()
	f := &EnvoyFinder{DataHome: data, VersionsURL: rs.srv.URL + "/envoy-versions.json", LookPath: noEnvoyOnPath}
	if _, ok, err := f.Find(); ok || err != nil {
		t.Fatalf("found an Envoy before downloading: %v %v", ok, err)
	}
	p, err := f.Ensure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "envoy-versions", DefaultEnvoyVersion, "bin", "envoy"); p != want {
		t.Fatalf("installed at %s, want %s", p, want)
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil || !strings.Contains(string(out), "/"+DefaultEnvoyVersion+"/") {
		t.Fatalf("installed binary says %q (%v)", out, err)
	}
	n := rs.requests.Load()
	if p2, err := f.Ensure(t.Context()); err != nil || p2 != p {
		t.Fatalf("second Ensure: %s %v", p2, err)
	}
	if rs.requests.Load() != n {
		t.Error("a second Ensure went to the network")
	}
}

// TestEnvoyDownloadMinorVersion: a major.minor ENVOY_VERSION takes the newest patch listed.
func TestEnvoyDownloadMinorVersion(t *testing.T) {
	rs := newReleaseServer(t, []string{"1.36.2", "1.36.10", "1.37.1"}, false)
	data := t.TempDir()
	f := &EnvoyFinder{DataHome: data, Version: "1.36", VersionsURL: rs.srv.URL + "/envoy-versions.json", LookPath: noEnvoyOnPath}
	p, err := f.Ensure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "envoy-versions", "1.36.10", "bin", "envoy"); p != want {
		t.Fatalf("installed at %s, want %s", p, want)
	}
}

// TestEnvoyDownloadBadChecksum: an archive whose checksum does not match is refused and leaves
// nothing installed (func-e unpacks before it checks).
func TestEnvoyDownloadBadChecksum(t *testing.T) {
	rs := newReleaseServer(t, []string{"1.37.1"}, true)
	data := t.TempDir()
	f := &EnvoyFinder{DataHome: data, VersionsURL: rs.srv.URL + "/envoy-versions.json", LookPath: noEnvoyOnPath}
	_, err := f.Ensure(t.Context())
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("err %v, want a checksum error", err)
	}
	if _, err := os.Stat(filepath.Join(data, "envoy-versions", "1.37.1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused download is still installed: %v", err)
	}
	if _, ok, _ := f.Find(); ok {
		t.Fatal("Find returns the refused download")
	}
}

// TestEnvoyDownloadOffline: without a reachable versions list the download fails at once with
// a clear error, never a hang.
func TestEnvoyDownloadOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/envoy-versions.json"
	ln.Close()
	f := &EnvoyFinder{DataHome: t.TempDir(), VersionsURL: dead, LookPath: noEnvoyOnPath}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = f.Ensure(ctx)
	if err == nil || !strings.Contains(err.Error(), "downloading Envoy") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestEnvoyFindOrder: --envoy-path wins, then envoy on PATH; a bad --envoy-path is an error.
func TestEnvoyFindOrder(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "envoy")
	if err := os.WriteFile(bin, []byte(standInScript), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &EnvoyFinder{DataHome: dir, Path: bin, LookPath: noEnvoyOnPath}
	if p, ok, err := f.Find(); !ok || err != nil || p != bin {
		t.Fatalf("--envoy-path: %s %v %v", p, ok, err)
	}
	f.Path = filepath.Join(dir, "missing")
	if _, _, err := f.Find(); err == nil || !strings.Contains(err.Error(), "--envoy-path") {
		t.Fatalf("missing --envoy-path: %v", err)
	}
	f.Path = ""
	f.LookPath = func(string) (string, error) { return bin, nil }
	if p, ok, _ := f.Find(); !ok || p != bin {
		t.Fatalf("PATH: %s %v", p, ok)
	}
}
