package run

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/metadata"

	"github.com/aigw/aigw/internal/demo"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/xds/adstest"
)

// reloadConfig is a configuration whose route has one rule per model, in order.
func reloadConfig(backendURL string, models ...string) string {
	rules := ""
	for _, m := range models {
		rules += fmt.Sprintf("    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: %s}]}]\n      backendRefs: [{name: local}]\n", m)
	}
	return routeConfig(rules) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: local}
spec:
  schema: {name: OpenAI, prefix: /v1}
  backendRef: {name: local, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: local}
spec:
  endpoints: [{fqdn: {hostname: ` + backendURL + `, port: 80}}]
`
}

// TestRunEnvoyReloadOrder: on a reload, Envoy gets a snapshot with the new rule (and the old
// ones) first, and the pipeline takes the new Model only once Envoy has acknowledged it: until
// then the router filter answers for the old Model (the new model is unknown, 404), never
// naming a rule Envoy could not route; after the acknowledgement it routes the new model.
func TestRunEnvoyReloadOrder(t *testing.T) {
	si, _ := standIn(t, "")
	dirs := envoyDirs(t)
	path := tempConfig(t, reloadConfig("llm.invalid", "first"))
	startGateway(t, Options{Dirs: dirs, ConfigPath: path, DataPlane: DataPlaneEnvoy, EnvoyPath: si.Path, RunID: "reload",
		ReloadInterval: 20 * time.Millisecond})
	dir := filepath.Join(dirs.RuntimeDir, "reload")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	ads := adsStream(t, ctx, dir)
	// next reads one version's clusters and routes, and returns them with the cluster names.
	next := func() (map[string]*discoveryv3.DiscoveryResponse, []string) {
		t.Helper()
		got := ads.Next(2)
		return got, adstest.Names(got[resourcev3.ClusterType])
	}
	ack := func(resps map[string]*discoveryv3.DiscoveryResponse) {
		for _, resp := range resps {
			ads.Ack(resp)
		}
	}
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ClusterType})
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.RouteType})
	v1, names := next()
	if len(names) != 2 { // the rule's cluster and the fallback
		t.Fatalf("clusters %v", names)
	}
	ack(v1)

	client := extprocv3.NewExternalProcessorClient(dialSocket(t, dir, "extproc.sock"))
	// route is what the router filter answers for a request for model: the rule it names, or
	// the status of its immediate response.
	route := func(model string) (string, int) {
		t.Helper()
		pc, err := client.Process(metadata.AppendToOutgoingContext(ctx, extproc.FilterMetadataKey, extproc.FilterRouter))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pc.CloseSend() }()
		var resp *extprocv3.ProcessingResponse
		for _, req := range routerRequests(model) {
			if err := pc.Send(req); err != nil {
				t.Fatal(err)
			}
			if resp, err = pc.Recv(); err != nil {
				t.Fatal(err)
			}
			if ir := resp.GetImmediateResponse(); ir != nil {
				return "", int(ir.Status.Code)
			}
		}
		for _, h := range resp.GetRequestBody().GetResponse().GetHeaderMutation().GetSetHeaders() {
			if h.Header.Key == extproc.RuleHeader {
				return string(h.Header.RawValue), 0
			}
		}
		return "", 0
	}
	if rule, status := route("first"); rule == "" {
		t.Fatalf("before the reload: model first got %d", status)
	}

	writeConfig(t, path, reloadConfig("llm.invalid", "first", "second"))
	v2, names := next()
	if len(names) != 3 {
		t.Fatalf("after the reload Envoy gets clusters %v, want both rules' and the fallback", names)
	}
	// Envoy has not acknowledged the snapshot: the pipeline still serves the old Model.
	time.Sleep(100 * time.Millisecond)
	if rule, status := route("second"); rule != "" || status != 404 {
		t.Fatalf("before Envoy applied the snapshot the router named rule %q for the new model (status %d)", rule, status)
	}
	ack(v2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		rule, status := route("second")
		if rule != "" {
			if !slices.Contains(names, "aigw-rule/"+rule) {
				t.Errorf("the router named rule %q, not among Envoy's clusters %v", rule, names)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Envoy applied the snapshot, model second still gets %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealEnvoyFallsThrough (client → Envoy → ext_proc → simulator): a backend that cannot take
// the request (Anthropic for embeddings, priority 0) is left out of Envoy's choice through the
// router filter's envoy.lb subset, so the OpenAI backend (priority 1) answers; and a request
// refused by a rate limit gets the 429 with its limit headers. Runs only where envoy is on PATH;
// TestFallsThroughBuiltin checks the same expectations on the builtin plane.
func TestRealEnvoyFallsThrough(t *testing.T) {
	path, err := exec.LookPath("envoy")
	if err != nil {
		t.Skip("no envoy binary on PATH: the real-Envoy end-to-end test did not run")
	}
	fallsThrough(t, Options{Dirs: envoyDirs(t), DataPlane: DataPlaneEnvoy, EnvoyPath: path})
}

// TestFallsThroughBuiltin is TestRealEnvoyFallsThrough on the builtin plane, the behaviour the
// Envoy plane must match.
func TestFallsThroughBuiltin(t *testing.T) { fallsThrough(t, Options{}) }

func fallsThrough(t *testing.T, opts Options) {
	sim := demo.New(demo.Options{})
	base, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	u, _ := url.Parse(base)
	opts.ConfigPath = tempConfig(t, routeConfig("    - backendRefs: [{name: claude, priority: 0}, {name: openai, priority: 1}]\n")+`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: claude}
spec:
  schema: {name: Anthropic}
  backendRef: {name: sim, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: openai}
spec:
  schema: {name: OpenAI, prefix: /v1}
  backendRef: {name: sim, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: sim}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: `+u.Port()+`}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: limits}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  rateLimit:
    type: Local
    local:
      rules:
        - clientSelectors: [{headers: [{name: x-tenant, type: Distinct}]}]
          limit: {requests: 1, unit: Hour}
`)
	g := startGateway(t, opts)
	post := func(tenant string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", g.Gateway+"/v1/embeddings", strings.NewReader(`{"model":"text-embedding-3-small","input":"hello"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Tenant", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := post("a")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"embedding"`)) {
		t.Fatalf("embeddings through Envoy: %d %s", resp.StatusCode, body)
	}
	resp, body = post("a")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Ratelimit-Limit-Requests") == "" {
		t.Errorf("second request of the tenant: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}
