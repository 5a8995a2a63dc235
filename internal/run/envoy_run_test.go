package run

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/demo"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/xds"
	"github.com/aigw/aigw/internal/xds/adstest"
)

// syncBuffer is a status writer tests read while the run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envoyDirs are a run's directories, with a short runtime directory (unix socket paths are
// limited to about 100 bytes).
func envoyDirs(t *testing.T) config.Dirs {
	rt, err := os.MkdirTemp("", "aigw-rt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	return config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir(), DataHome: t.TempDir(), RuntimeDir: rt}
}

// dialSocket connects to the run's unix socket name in dir until the test ends.
func dialSocket(t *testing.T, dir, name string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("unix://"+filepath.Join(dir, name), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// adsStream opens an ADS stream, as Envoy does, on the xds.sock of the run's directory dir.
func adsStream(t *testing.T, ctx context.Context, dir string) *adstest.Client {
	t.Helper()
	return adstest.Dial(t, ctx, filepath.Join(dir, "xds.sock"), xds.NodeID, xds.RouteConfigName)
}

// routerRequests are the messages Envoy's router filter sends ext_proc for a chat request of
// model: its headers (with extra ones) and its whole body.
func routerRequests(model string, extra ...[2]string) []*extprocv3.ProcessingRequest {
	hs := &corev3.HeaderMap{}
	for _, kv := range append([][2]string{{":method", "POST"}, {":path", "/v1/chat/completions"}, {":authority", "x"}, {"content-type", "application/json"}}, extra...) {
		hs.Headers = append(hs.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
	}
	return []*extprocv3.ProcessingRequest{
		{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hs}}},
		{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{"model":"` + model + `","messages":[]}`), EndOfStream: true}}},
	}
}

func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String() + "/envoy-versions.json"
}

// TestRunEnvoyPlane runs aigw with --data-plane envoy on the stand-in process: the run waits for
// its readiness, serves it xDS (the gateway listener on the run's port) and ext_proc on unix
// sockets, reports Envoy's readiness on /health, and at the end drains it and removes the
// sockets.
func TestRunEnvoyPlane(t *testing.T) {
	si, record := standIn(t, "")
	status := &syncBuffer{}
	dirs := envoyDirs(t)
	g := startGateway(t, Options{Dirs: dirs, Demo: true, DataPlane: DataPlaneEnvoy, EnvoyPath: si.Path, RunID: "r1", Status: status})
	if !strings.Contains(status.String(), "envoy data plane ("+si.Path+")") {
		t.Errorf("status: %s", status)
	}
	resp, err := http.Get(g.Admin + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "serving\n" {
		t.Errorf("/health: %d %s", resp.StatusCode, body)
	}
	dir := filepath.Join(dirs.RuntimeDir, "r1")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// Envoy's side of xDS: the gateway listener on the announced port.
	ads := adsStream(t, ctx, dir)
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	dr := ads.Recv()
	var l listenerv3.Listener
	if len(dr.Resources) != 1 || dr.Resources[0].UnmarshalTo(&l) != nil {
		t.Fatalf("listeners %v", dr.Resources)
	}
	if got := "http://127.0.0.1:" + strconv.Itoa(int(l.Address.GetSocketAddress().GetPortValue())); got != g.Gateway {
		t.Errorf("listener at %s, gateway announced as %s", got, g.Gateway)
	}

	// Envoy's side of ext_proc: the router filter routes a demo request.
	pc, err := extprocv3.NewExternalProcessorClient(dialSocket(t, dir, "extproc.sock")).Process(metadata.AppendToOutgoingContext(ctx, extproc.FilterMetadataKey, extproc.FilterRouter))
	if err != nil {
		t.Fatal(err)
	}
	model := demo.Models()[0]
	for _, req := range routerRequests(model, [2]string{"x-request-id", "envoy-run-1"}) {
		if err := pc.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := pc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if mut := resp.GetRequestBody().GetResponse().GetHeaderMutation(); mut != nil {
			if len(mut.SetHeaders) == 0 || mut.SetHeaders[0].Header.Key != config.ModelHeader || string(mut.SetHeaders[0].Header.RawValue) != model {
				t.Errorf("router body response %v", resp)
			}
		} else if resp.GetRequestHeaders() == nil {
			t.Errorf("router response %v", resp)
		}
	}
	_ = pc.CloseSend()
	cancel()

	g.stop(t)
	if got := strings.Join(records(t, record), ","); got != "start,drain,term_active=0" {
		t.Errorf("stand-in saw %s", got)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("runtime directory left behind: %v", err)
	}
}

// TestRunEnvoyMissing: --data-plane envoy without a binary and without network fails at once
// with what to do.
func TestRunEnvoyMissing(t *testing.T) {
	start := time.Now()
	err := Run(t.Context(), Options{Dirs: envoyDirs(t), Demo: true, DataPlane: DataPlaneEnvoy, EnvoyVersionsURL: deadURL(t),
		envoyLookPath: noEnvoyOnPath, Host: "127.0.0.1", Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "--data-plane envoy: no Envoy binary") || !strings.Contains(err.Error(), "--envoy-path") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestRunAutoFallsBack: --data-plane auto without a binary and without network serves with the
// builtin plane and says why in one line.
func TestRunAutoFallsBack(t *testing.T) {
	status := &syncBuffer{}
	g := startGateway(t, Options{Dirs: envoyDirs(t), Demo: true, DataPlane: DataPlaneAuto, EnvoyVersionsURL: deadURL(t),
		envoyLookPath: noEnvoyOnPath, Status: status})
	out := status.String()
	if strings.Count(out, "builtin data plane: no Envoy binary") != 1 || !strings.Contains(out, "builtin data plane, ") {
		t.Errorf("status: %s", out)
	}
	resp, err := http.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+demo.Models()[0]+`","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// TestRunEnvoyStartupFailure: an Envoy that refuses to start ends the run with its own lines.
func TestRunEnvoyStartupFailure(t *testing.T) {
	si, _ := standIn(t, "bad-config")
	dirs := envoyDirs(t)
	err := Run(t.Context(), Options{Dirs: dirs, Demo: true, DataPlane: DataPlaneEnvoy, EnvoyPath: si.Path, RunID: "r2",
		Host: "127.0.0.1", Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "[critical][main] error initializing configuration") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(dirs.RuntimeDir, "r2")); !os.IsNotExist(err) {
		t.Errorf("runtime directory left behind: %v", err)
	}
}

// TestRealEnvoy is the end-to-end test with a real Envoy: client → Envoy → aigw's ext_proc →
// the demo provider, non-streamed and streamed. It runs whenever an envoy binary is on PATH.
func TestRealEnvoy(t *testing.T) {
	path, err := exec.LookPath("envoy")
	if err != nil {
		t.Skip("no envoy binary on PATH: the real-Envoy end-to-end test did not run")
	}
	g := startGateway(t, Options{Dirs: envoyDirs(t), Demo: true, DataPlane: DataPlaneEnvoy, EnvoyPath: path})
	model := demo.Models()[0]
	for _, stream := range []bool{false, true} {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]`
		if stream {
			body += `,"stream":true`
		}
		resp, err := http.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(body+"}"))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(out, []byte(`"choices"`)) || stream && !bytes.Contains(out, []byte("data: [DONE]")) {
			t.Errorf("stream=%v: %d %s", stream, resp.StatusCode, out)
		}
	}
	resp, err := http.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"unknown-model","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown model: %d", resp.StatusCode)
	}
	resp, err = http.Get(g.Gateway + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/v1/models through the fallback route: %d", resp.StatusCode)
	}
}
