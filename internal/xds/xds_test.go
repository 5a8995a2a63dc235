package xds

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/xds/adstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// exampleEnv are dummy values for the variables the examples in configs/ substitute.
var exampleEnv = map[string]string{
	"OPENAI_API_KEY": "sk-example", "ANTHROPIC_API_KEY": "sk-ant-example", "AZURE_OPENAI_API_KEY": "az-example",
	"AZURE_OPENAI_RESOURCE": "example", "GEMINI_API_KEY": "example", "COHERE_API_KEY": "example",
	"MISTRAL_API_KEY": "example", "GROQ_API_KEY": "example", "TOGETHER_API_KEY": "example",
	"DEEPINFRA_API_KEY": "example", "DEEPSEEK_API_KEY": "example", "SAMBANOVA_API_KEY": "example",
	"XAI_API_KEY": "example", "HUNYUAN_API_KEY": "example", "OPENROUTER_API_KEY": "example",
	"AZURE_CLIENT_SECRET": "example",
}

func getenv(k string) string { return exampleEnv[k] }

// stableJSON renders resources as indented JSON that does not change from run to run (protojson
// varies its whitespace on purpose).
func stableJSON(t *testing.T, msgs []proto.Message) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("[\n")
	for i, m := range msgs {
		raw, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var compact, indented bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Indent(&indented, compact.Bytes(), "  ", "  "); err != nil {
			t.Fatal(err)
		}
		out.WriteString("  ")
		out.Write(indented.Bytes())
		if i < len(msgs)-1 {
			out.WriteString(",")
		}
		out.WriteString("\n")
	}
	out.WriteString("]\n")
	return out.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/xds -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/xds -update rewrites it); got:\n%s", path, got)
	}
}

// TestExampleConfigs compiles every example in configs/: every resource passes ValidateAll (in
// Build), the snapshot is consistent, and the resources match the golden files.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations: %v", err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "prices.yaml" })
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			m, err := config.LoadFile(f, getenv)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Build(m, Options{Port: 1975})
			if err != nil {
				t.Fatal(err)
			}
			rules := 0
			for _, r := range m.Routes {
				rules += len(r.Rules)
			}
			if len(res.Clusters) == 0 || len(res.Clusters) > rules {
				t.Errorf("%d clusters for %d rules", len(res.Clusters), rules)
			}
			s := NewServer(Options{Port: 1975}, nil)
			if err := s.Update(m); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json", stableJSON(t, res.All()))
		})
	}
}

func testBackend(name, u string) *config.Backend {
	ep, _ := url.Parse(u)
	return &config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}, Endpoint: ep}
}

// TestClusterEndpoints: priorities become dense Envoy priorities, weights endpoint weights,
// zero weights no endpoint; each endpoint names its reference; https endpoints get a TLS socket.
func TestClusterEndpoints(t *testing.T) {
	caPEM := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	tlsB := testBackend("secure", "https://llm.example.com")
	tlsB.TLS = &config.TLS{ServerName: "sni.example.com", CACertPEM: caPEM}
	rule := &config.Rule{Name: "r/0", Timeout: 5 * time.Second, Backends: []*config.BackendRef{
		{Backend: testBackend("a", "http://127.0.0.1:8001"), Weight: 3, Priority: 5},
		{Backend: testBackend("zero", "http://127.0.0.1:8002"), Weight: 0},
		{Backend: tlsB, Weight: 1, Priority: 5},
		{Backend: testBackend("fallback", "http://127.0.0.1:8003"), Weight: 1, Priority: 9},
	}, Retry: &config.RetryPolicy{NumRetries: 4, Statuses: []int{503}, BaseBackoff: time.Second, MaxBackoff: 4 * time.Second}}
	m := &config.Model{Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{rule}}}}
	res, err := Build(m, Options{Port: 1975})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Clusters[0]
	eps := c.LoadAssignment.Endpoints
	if len(eps) != 2 || eps[0].Priority != 0 || eps[1].Priority != 1 || len(eps[0].LbEndpoints) != 2 || len(eps[1].LbEndpoints) != 1 {
		t.Fatalf("endpoints %v", eps)
	}
	first := eps[0].LbEndpoints[0]
	if first.LoadBalancingWeight.GetValue() != 3 || first.Metadata.FilterMetadata[extproc.EndpointMetadataNamespace].Fields["ref"].GetNumberValue() != 0 {
		t.Errorf("first endpoint %v", first)
	}
	if ref := eps[1].LbEndpoints[0].Metadata.FilterMetadata[extproc.EndpointMetadataNamespace].Fields["ref"].GetNumberValue(); ref != 3 {
		t.Errorf("fallback endpoint is reference %v, want 3", ref)
	}
	if len(c.TransportSocketMatches) != 1 || c.TransportSocketMatches[0].Match.Fields[tlsMatchKey].GetStringValue() != "2" {
		t.Errorf("transport socket matches %v", c.TransportSocketMatches)
	}
	rp := res.Routes[0].VirtualHosts[0].Routes[0].GetRoute().RetryPolicy
	if rp.NumRetries.GetValue() != 4 || !slices.Contains(rp.RetriableStatusCodes, 503) || rp.RetryPriority == nil || rp.RetryBackOff.MaxInterval.AsDuration() != 4*time.Second {
		t.Errorf("retry policy %v", rp)
	}
}

// TestRoutesByHost: routes with hostnames get their own virtual host, which also holds the
// rules that serve every host; the catch-all has only those.
func TestRoutesByHost(t *testing.T) {
	b := testBackend("a", "http://127.0.0.1:8001")
	ref := func() []*config.BackendRef { return []*config.BackendRef{{Backend: b, Weight: 1}} }
	m := &config.Model{Routes: []*config.Route{
		{Name: "scoped", Hostnames: []string{"llm.example.com"}, Rules: []*config.Rule{{Name: "scoped/0", Backends: ref()}}},
		{Name: "all", Rules: []*config.Rule{{Name: "all/0", Backends: ref()}}},
	}}
	res, err := Build(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vhs := res.Routes[0].VirtualHosts
	if len(vhs) != 2 || vhs[0].Domains[0] != "llm.example.com" || len(vhs[0].Routes) != 2 || vhs[1].Domains[0] != "*" || len(vhs[1].Routes) != 1 {
		t.Fatalf("virtual hosts %v", vhs)
	}
}

// TestBootstrap: the bootstrap validates and names the three sockets.
func TestBootstrap(t *testing.T) {
	js, err := BootstrapJSON(BootstrapOptions{AdminSocket: "/run/aigw/admin.sock", XDSSocket: "/run/aigw/xds.sock", ExtProcSocket: "/run/aigw/extproc.sock"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/run/aigw/admin.sock", "/run/aigw/xds.sock", "/run/aigw/extproc.sock", XDSCluster, ExtProcCluster} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("bootstrap lacks %q", want)
		}
	}
}

// rulesModel is a Model of one route "r" with one rule of each name, every one sending to b.
func rulesModel(b *config.Backend, rules ...string) *config.Model {
	var rs []*config.Rule
	for _, r := range rules {
		rs = append(rs, &config.Rule{Name: r, Backends: []*config.BackendRef{{Backend: b, Weight: 1}}})
	}
	return &config.Model{Routes: []*config.Route{{Name: "r", Rules: rs}}}
}

// serveADS serves s over a unix socket of the test's until the test ends, and returns an ADS
// client of it as Envoy, its stream open until ctx ends.
func serveADS(t *testing.T, ctx context.Context, s *Server) *adstest.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "xds.sock")
	ln, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	s.Register(ctx, g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	return adstest.Dial(t, ctx, sock, NodeID, RouteConfigName)
}

// TestADSServesSnapshots: an ADS client (as Envoy) gets the listener and the clusters over a unix
// socket, and a new Model arrives as a new version on the same stream.
func TestADSServesSnapshots(t *testing.T) {
	b := testBackend("a", "http://127.0.0.1:8001")
	model := func(rules ...string) *config.Model { return rulesModel(b, rules...) }
	s := NewServer(Options{Port: 1975}, nil)
	if err := s.Update(model("r/0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ads := serveADS(t, ctx, s)
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ClusterType})
	resp := ads.Recv()
	if resp.VersionInfo != "1" || len(resp.Resources) != 1 {
		t.Fatalf("version %q, %d clusters", resp.VersionInfo, len(resp.Resources))
	}
	var c clusterv3.Cluster
	if err := resp.Resources[0].UnmarshalTo(&c); err != nil || c.Name != "aigw-rule/r/0" {
		t.Fatalf("cluster %v %v", c.Name, err)
	}
	// ACK, then a reload: the new snapshot is pushed.
	ads.Ack(resp)
	if err := s.Update(model("r/0", "r/1")); err != nil {
		t.Fatal(err)
	}
	resp = ads.Recv()
	if resp.VersionInfo != "2" || len(resp.Resources) != 2 {
		t.Fatalf("after reload: version %q, %d clusters", resp.VersionInfo, len(resp.Resources))
	}
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	resp = ads.Recv()
	if resp.TypeUrl != resourcev3.ListenerType || len(resp.Resources) != 1 {
		t.Fatalf("listeners: %v", resp)
	}
	var l listenerv3.Listener
	var hcm hcmv3.HttpConnectionManager
	if err := resp.Resources[0].UnmarshalTo(&l); err != nil {
		t.Fatal(err)
	}
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if len(hcm.HttpFilters) != 2 || hcm.HttpFilters[0].Name != extProcFilterName || hcm.HttpFilters[1].Name != routerFilterName {
		t.Errorf("http filters %v", hcm.HttpFilters)
	}
}

// TestFallbackRoute: with the builtin server's socket, every virtual host ends with a route to
// it (after the rule routes), and its cluster is a plain HTTP/1.1 pipe cluster without the
// upstream ext_proc filter.
func TestFallbackRoute(t *testing.T) {
	b := testBackend("a", "http://127.0.0.1:8001")
	m := &config.Model{Routes: []*config.Route{
		{Name: "scoped", Hostnames: []string{"llm.example.com"}, Rules: []*config.Rule{{Name: "scoped/0", Backends: []*config.BackendRef{{Backend: b, Weight: 1}}}}},
	}}
	res, err := Build(m, Options{FallbackSocket: "/run/aigw/builtin.sock"})
	if err != nil {
		t.Fatal(err)
	}
	for _, vh := range res.Routes[0].VirtualHosts {
		last := vh.Routes[len(vh.Routes)-1]
		if last.GetRoute().GetCluster() != FallbackCluster {
			t.Errorf("virtual host %s ends with %v", vh.Name, last)
		}
	}
	c := res.Clusters[len(res.Clusters)-1]
	if c.Name != FallbackCluster || c.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetPipe().GetPath() != "/run/aigw/builtin.sock" {
		t.Errorf("fallback cluster %v", c)
	}
	if bytes.Contains(stableJSON(t, []proto.Message{c}), []byte("ext_proc")) {
		t.Error("the fallback cluster runs the upstream ext_proc filter")
	}
}

// TestRetrySingleBackend: with one backend, only the policy's statuses (and connect failures
// when it says so) are retried, as on the builtin plane; without a policy, nothing is.
func TestRetrySingleBackend(t *testing.T) {
	ref := []*config.BackendRef{{Backend: testBackend("a", "http://127.0.0.1:8001"), Weight: 1}}
	rule := &config.Rule{Name: "r/0", Backends: ref, Retry: &config.RetryPolicy{NumRetries: 2, Statuses: []int{503}}}
	noPolicy := &config.Rule{Name: "r/1", Backends: ref}
	res, err := Build(&config.Model{Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{rule, noPolicy}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	routes := res.Routes[0].VirtualHosts[0].Routes
	rp := routes[0].GetRoute().RetryPolicy
	if rp.RetryOn != "retriable-status-codes" || !slices.Equal(rp.RetriableStatusCodes, []uint32{503}) || rp.NumRetries.GetValue() != 2 || rp.RetryHostPredicate != nil {
		t.Errorf("retry policy %v", rp)
	}
	if rp := routes[1].GetRoute().RetryPolicy; rp.GetNumRetries().GetValue() != 0 || rp.GetRetryOn() != "" || rp.GetPerTryTimeout().AsDuration() != config.DefaultRequestTimeout {
		t.Errorf("a single backend without a policy: %v", rp)
	}
}

// TestRuleTimeouts: the rule's timeout bounds each attempt until its answer begins (Envoy's
// per_try_timeout, there even without retries), the route has no total that would cut a long
// stream, and a stream's silence is bounded by the stream idle timeout only (0s: none), as on
// the builtin plane.
func TestRuleTimeouts(t *testing.T) {
	one := []*config.BackendRef{{Backend: testBackend("a", "http://127.0.0.1:8001"), Weight: 1}}
	two := append(slices.Clone(one), &config.BackendRef{Backend: testBackend("b", "http://127.0.0.1:8002"), Weight: 1, Priority: 1})
	rules := []*config.Rule{
		{Name: "plain", Backends: one, Timeout: 7 * time.Second},
		{Name: "idle", Backends: one, Timeout: 7 * time.Second, StreamIdleTimeout: 3 * time.Second},
		{Name: "fallback", Backends: two, Timeout: 7 * time.Second},
		{Name: "per-try", Backends: two, Timeout: 7 * time.Second, Retry: &config.RetryPolicy{NumRetries: 3, PerTryTimeout: 2 * time.Second}},
		{Name: "default", Backends: one},
	}
	res, err := Build(&config.Model{Routes: []*config.Route{{Name: "r", Rules: rules}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]time.Duration{ // per try, idle
		"plain": {7 * time.Second, 0}, "idle": {7 * time.Second, 3 * time.Second}, "fallback": {7 * time.Second, 0},
		"per-try": {2 * time.Second, 0}, "default": {config.DefaultRequestTimeout, 0},
	}
	for _, r := range res.Routes[0].VirtualHosts[0].Routes {
		ra := r.GetRoute()
		w := want[strings.TrimPrefix(r.Name, "aigw-rule/")]
		if ra.GetTimeout() == nil || ra.GetTimeout().AsDuration() != 0 {
			t.Errorf("%s: route timeout %v, want 0s (none)", r.Name, ra.GetTimeout())
		}
		if got := ra.GetRetryPolicy().GetPerTryTimeout(); got == nil || got.AsDuration() != w[0] {
			t.Errorf("%s: per-try timeout %v, want %s", r.Name, got, w[0])
		}
		if got := ra.GetIdleTimeout(); got == nil || got.AsDuration() != w[1] {
			t.Errorf("%s: idle timeout %v, want %s", r.Name, got, w[1])
		}
	}
}

// TestBackendSubsets: a rule with several backends gets one subset per set of its live
// endpoints (each endpoint lists the masks it is in, matched as any of the list), so the
// router-level filter can leave out backends that cannot take a request; a rule with one
// backend, or more than the bound, gets none.
func TestBackendSubsets(t *testing.T) {
	refs := func(n int) []*config.BackendRef {
		var out []*config.BackendRef
		for i := range n {
			out = append(out, &config.BackendRef{Backend: testBackend(string(rune('a'+i)), "http://127.0.0.1:8001"), Weight: 1, Priority: i % 2})
		}
		return out
	}
	three := refs(3)
	three = append(three[:1], append([]*config.BackendRef{{Backend: testBackend("zero", "http://127.0.0.1:8009"), Weight: 0}}, three[1:]...)...)
	rules := []*config.Rule{
		{Name: "three", Backends: three},
		{Name: "one", Backends: refs(1)},
		{Name: "many", Backends: refs(extproc.MaxSubsetEndpoints + 1)},
	}
	res, err := Build(&config.Model{Routes: []*config.Route{{Name: "r", Rules: rules}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Clusters[0]
	sc := c.GetLbSubsetConfig()
	if sc == nil || !sc.ListAsAny || sc.FallbackPolicy != clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT || len(sc.SubsetSelectors) != 1 || !slices.Equal(sc.SubsetSelectors[0].Keys, []string{extproc.SubsetKey}) {
		t.Fatalf("subset config %v", sc)
	}
	// Live references 0, 2, 3 are bits 0, 1, 2: reference 2 (bit 1) is in masks 2, 3, 6, 7.
	want := map[float64][]string{0: {"1", "3", "5", "7"}, 2: {"2", "3", "6", "7"}, 3: {"4", "5", "6", "7"}}
	n := 0
	for _, group := range c.LoadAssignment.Endpoints {
		for _, ep := range group.LbEndpoints {
			ref := ep.Metadata.FilterMetadata[extproc.EndpointMetadataNamespace].Fields["ref"].GetNumberValue()
			var got []string
			for _, v := range ep.Metadata.FilterMetadata[extproc.LBMetadataNamespace].Fields[extproc.SubsetKey].GetListValue().GetValues() {
				got = append(got, v.GetStringValue())
			}
			if !slices.Equal(got, want[ref]) {
				t.Errorf("endpoint of reference %v is in subsets %v, want %v", ref, got, want[ref])
			}
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d endpoints, want 3", n)
	}
	for _, c := range res.Clusters[1:] {
		if c.LbSubsetConfig != nil || bytes.Contains(stableJSON(t, []proto.Message{c}), []byte(extproc.SubsetKey)) {
			t.Errorf("cluster %s has subsets", c.Name)
		}
	}
}

// TestExtProcMetadataNamespaces: Envoy drops dynamic metadata an ext_proc server emits in a
// namespace the filter does not list, so the router filter may write envoy.lb (the subset) and
// the upstream filter the token counts and costs.
func TestExtProcMetadataNamespaces(t *testing.T) {
	if got := routerExtProc().GetMetadataOptions().GetReceivingNamespaces().GetUntyped(); !slices.Equal(got, []string{extproc.LBMetadataNamespace}) {
		t.Errorf("router filter receives %v", got)
	}
	if got := upstreamExtProc().GetMetadataOptions().GetReceivingNamespaces().GetUntyped(); !slices.Equal(got, []string{extproc.DynamicMetadataNamespace}) {
		t.Errorf("upstream filter receives %v", got)
	}
}

// TestReloadWaitsForEnvoy: a reload's snapshot keeps the rules the new Model dropped (requests
// that took the old Model still find their route), and UpdateAndWait returns only once Envoy
// has acknowledged both the routes and the clusters of that snapshot, so the pipeline swaps to
// the new Model (and names its new rules) only when Envoy can route them. A rejection is not an
// acknowledgement.
func TestReloadWaitsForEnvoy(t *testing.T) {
	b := testBackend("a", "http://127.0.0.1:8001")
	model := func(rules ...string) *config.Model { return rulesModel(b, rules...) }
	s := NewServer(Options{Port: 1975}, nil)
	if err := s.Update(model("old")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ads := serveADS(t, ctx, s)
	// next reads the clusters' and the routes' responses of one version: the names they carry.
	next := func() (map[string]*discoveryv3.DiscoveryResponse, []string) {
		t.Helper()
		got := ads.Next(2)
		return got, adstest.Names(got[resourcev3.ClusterType], got[resourcev3.RouteType])
	}
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ClusterType})
	ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.RouteType})
	v1, _ := next()
	ads.Ack(v1[resourcev3.ClusterType], v1[resourcev3.RouteType])
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	defer wcancel()
	if err := s.WaitApplied(wctx, 1); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- s.UpdateAndWait(ctx, model("new"), 5*time.Second) }()
	v2, names := next()
	if want := []string{"aigw-rule/new", "aigw-rule/new", "aigw-rule/old", "aigw-rule/old"}; !slices.Equal(names, want) {
		t.Errorf("after the reload Envoy gets %v, want the new rule and the old one: %v", names, want)
	}
	select {
	case err := <-done:
		t.Fatalf("UpdateAndWait returned (%v) before Envoy acknowledged the snapshot", err)
	case <-time.After(100 * time.Millisecond):
	}
	ads.Ack(v2[resourcev3.ClusterType])
	select {
	case err := <-done:
		t.Fatalf("UpdateAndWait returned (%v) with the routes not acknowledged", err)
	case <-time.After(100 * time.Millisecond):
	}
	ads.Ack(v2[resourcev3.RouteType])
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("UpdateAndWait did not return after Envoy acknowledged the snapshot")
	}

	// One generation is kept: the next reload drops "old". Envoy rejects this one.
	if err := s.Update(model("newer")); err != nil {
		t.Fatal(err)
	}
	v3, names := next()
	if want := []string{"aigw-rule/new", "aigw-rule/new", "aigw-rule/newer", "aigw-rule/newer"}; !slices.Equal(names, want) {
		t.Errorf("second reload: Envoy gets %v, want %v", names, want)
	}
	for _, resp := range v3 {
		ads.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: "2", ResponseNonce: resp.Nonce, ErrorDetail: &statuspb.Status{Message: "rejected"}})
	}
	short, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	if err := s.WaitApplied(short, 3); err == nil {
		t.Error("a rejected snapshot counts as applied")
	}
}
