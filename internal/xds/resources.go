// Package xds compiles the configuration Model to Envoy's listeners, routes and clusters, and
// serves them to Envoy over an in-process ADS server; see README.md.
package xds

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previousprioritiesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
)

// Options are what the Model does not say: where the gateway listens.
type Options struct {
	// Address and Port of the gateway listener.
	Address string
	Port    int
	// FallbackSocket, when set, is the unix socket of aigw's builtin server: requests no rule
	// takes (/v1/models, MCP, unknown paths) go there, so they are answered as the builtin plane
	// answers them.
	FallbackSocket string
}

// FallbackCluster is the cluster of aigw's builtin server behind Envoy's fallback route.
const FallbackCluster = "aigw-fallback"

// Resources are one Model's Envoy resources.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
}

// All lists every resource, listeners first, for validation and golden files.
func (r *Resources) All() []proto.Message {
	var out []proto.Message
	for _, l := range r.Listeners {
		out = append(out, l)
	}
	for _, rc := range r.Routes {
		out = append(out, rc)
	}
	for _, c := range r.Clusters {
		out = append(out, c)
	}
	return out
}

// Build compiles m to Envoy resources. Every resource passes its ValidateAll.
func Build(m *config.Model, o Options) (*Resources, error) {
	b := &builder{}
	res := &Resources{
		Listeners: []*listenerv3.Listener{b.listener(m, o)},
		Routes:    []*routev3.RouteConfiguration{b.routes(m, o)},
	}
	for _, route := range m.Routes {
		for _, rule := range route.Rules {
			if c := b.ruleCluster(rule); c != nil {
				res.Clusters = append(res.Clusters, c)
			}
		}
	}
	if o.FallbackSocket != "" {
		res.Clusters = append(res.Clusters, b.pipeCluster(FallbackCluster, o.FallbackSocket, false))
	}
	if b.err != nil {
		return nil, b.err
	}
	for _, msg := range res.All() {
		if v, ok := msg.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				return nil, fmt.Errorf("xds: %s: %w", proto.MessageName(msg), err)
			}
		}
	}
	return res, nil
}

// listener is the gateway listener: one HTTP connection manager for every host.
func (b *builder) listener(m *config.Model, o Options) *listenerv3.Listener {
	addr := o.Address
	if addr == "" {
		addr = "127.0.0.1"
	}
	limit := m.MaxRequestBodyBytes
	if limit <= 0 {
		limit = config.DefaultMaxRequestBodyBytes
	}
	return &listenerv3.Listener{
		Name:    ListenerName,
		Address: socketAddress(addr, o.Port),
		// The router filter buffers whole request bodies; Envoy answers 413 past this limit, as
		// the builtin plane does past MaxRequestBodyBytes.
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(uint32(min(limit, 1<<31))),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       hcmName,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: b.any(b.httpConnectionManager())},
			}},
		}},
	}
}

// routes are one virtual host per distinct set of route hostnames (plus a catch-all), each with
// one route per rule that may serve it. A route matches the rule header the router-level
// ext_proc filter sets from the pipeline's own match (model header and header matches), so
// Envoy's choice and the pipeline's are the same by construction.
func (b *builder) routes(m *config.Model, o Options) *routev3.RouteConfiguration {
	type vhost struct {
		domains []string
		rules   []*config.Rule
	}
	var hosts []*vhost
	byKey := map[string]*vhost{}
	anyHost := &vhost{domains: []string{"*"}}
	for _, r := range m.Routes {
		if len(r.Hostnames) == 0 {
			continue
		}
		key := fmt.Sprint(r.Hostnames)
		if byKey[key] == nil {
			byKey[key] = &vhost{domains: slices.Clone(r.Hostnames)}
			hosts = append(hosts, byKey[key])
		}
	}
	// A rule of a route without hostnames serves every host; one with hostnames serves those.
	for _, r := range m.Routes {
		for _, h := range hosts {
			if len(r.Hostnames) == 0 || fmt.Sprint(r.Hostnames) == fmt.Sprint(h.domains) {
				h.rules = append(h.rules, r.Rules...)
			}
		}
		if len(r.Hostnames) == 0 {
			anyHost.rules = append(anyHost.rules, r.Rules...)
		}
	}
	hosts = append(hosts, anyHost)
	rc := &routev3.RouteConfiguration{Name: RouteConfigName}
	seen := map[string]bool{}
	for i, h := range hosts {
		vh := &routev3.VirtualHost{Name: "aigw-host-" + strconv.Itoa(i), Domains: dedupDomains(h.domains, seen)}
		for _, rule := range h.rules {
			vh.Routes = append(vh.Routes, b.ruleRoute(rule))
		}
		if o.FallbackSocket != "" {
			vh.Routes = append(vh.Routes, fallbackRoute())
		}
		if len(vh.Domains) > 0 {
			rc.VirtualHosts = append(rc.VirtualHosts, vh)
		}
	}
	return rc
}

// fallbackRoute sends what no rule takes to the builtin server, without a timeout (MCP streams
// are long).
func fallbackRoute() *routev3.Route {
	return &routev3.Route{
		Name:  "aigw-fallback",
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: FallbackCluster},
			Timeout:          durationpb.New(0),
		}},
	}
}

// dedupDomains drops domains an earlier virtual host has (Envoy refuses duplicates).
func dedupDomains(ds []string, seen map[string]bool) []string {
	var out []string
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// ruleRoute routes a rule's requests to its cluster, with its timeouts and retries. A rule
// whose every backend has weight 0 has no cluster; the router filter answers it (503).
func (b *builder) ruleRoute(rule *config.Rule) *routev3.Route {
	timeout := rule.Timeout
	if timeout <= 0 {
		timeout = config.DefaultRequestTimeout
	}
	rp := b.retryPolicy(rule, timeout)
	ra := &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: clusterName(rule)},
		// Each attempt's Host is its endpoint's (the backend's), as the builtin plane sends it.
		HostRewriteSpecifier: &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)},
		// The rule's timeout bounds each attempt until its answer begins: the retry policy's
		// per_try_timeout, which Envoy applies only before the response starts downstream (a
		// non-streamed answer starts once the upstream filter has it whole, as the builtin plane
		// bounds its whole body), so the tries bound the request until it is answered. The route
		// has no total timeout: Envoy's spans the whole response and would cut a long stream,
		// which the builtin plane lets run. A stream ends after a silence of the rule's stream
		// idle timeout (0s: none, as on the builtin plane; unset would be Envoy's 5 minutes).
		Timeout:     durationpb.New(0),
		IdleTimeout: durationpb.New(rule.StreamIdleTimeout),
		RetryPolicy: rp,
	}
	return &routev3.Route{
		Name: "aigw-rule/" + rule.Name,
		Match: &routev3.RouteMatch{
			PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
			Headers: []*routev3.HeaderMatcher{{
				Name: extproc.RuleHeader,
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Exact{Exact: rule.Name},
				}},
			}},
		},
		Action: &routev3.Route_Route{Route: ra},
	}
}

// retryPolicy is the builtin plane's try plan in Envoy's terms: a failed attempt (unreachable,
// 5xx, 429) moves to another endpoint and priority while there is one (priority fallback), and
// the rule's BackendTrafficPolicy adds retries, statuses, back-off and a per-try timeout. Every
// route has one, for its per-try timeout.
func (b *builder) retryPolicy(rule *config.Rule, timeout time.Duration) *routev3.RetryPolicy {
	live := len(extproc.LiveRefs(rule))
	retries := live - 1
	p := rule.Retry
	if p != nil && p.NumRetries > retries {
		retries = p.NumRetries
	}
	perTry := timeout
	if p != nil && p.PerTryTimeout > 0 {
		perTry = p.PerTryTimeout
	}
	if retries <= 0 {
		return &routev3.RetryPolicy{NumRetries: wrapperspb.UInt32(0), PerTryTimeout: durationpb.New(perTry)}
	}
	rp := &routev3.RetryPolicy{
		RetryOn:              "5xx,reset,connect-failure,retriable-status-codes",
		NumRetries:           wrapperspb.UInt32(uint32(retries)),
		RetriableStatusCodes: []uint32{429},
		PerTryTimeout:        durationpb.New(perTry),
		RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{
			Name:       "envoy.retry_host_predicates.previous_hosts",
			ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: b.any(&previoushostsv3.PreviousHostsPredicate{})},
		}},
		HostSelectionRetryMaxAttempts: int64(live),
	}
	if live == 1 {
		// No other backend to fall back to: only what the policy names is retried, as on the
		// builtin plane.
		rp.RetryOn, rp.RetriableStatusCodes, rp.RetryHostPredicate, rp.HostSelectionRetryMaxAttempts = "retriable-status-codes", nil, nil, 0
		if p.ConnectFailure {
			rp.RetryOn += ",connect-failure,reset"
		}
	}
	if live > 1 {
		rp.RetryPriority = &routev3.RetryPolicy_RetryPriority{
			Name: "envoy.retry_priorities.previous_priorities",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: b.any(&previousprioritiesv3.PreviousPrioritiesConfig{
				UpdateFrequency: 1,
			})},
		}
	}
	if p != nil {
		for _, s := range p.Statuses {
			if !slices.Contains(rp.RetriableStatusCodes, uint32(s)) {
				rp.RetriableStatusCodes = append(rp.RetriableStatusCodes, uint32(s))
			}
		}
		if p.BaseBackoff > 0 {
			rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(p.BaseBackoff)}
			if p.MaxBackoff >= p.BaseBackoff {
				rp.RetryBackOff.MaxInterval = durationpb.New(p.MaxBackoff)
			}
		}
	}
	return rp
}

// clusterName is the cluster of a rule's backends.
func clusterName(rule *config.Rule) string { return "aigw-rule/" + rule.Name }

// ruleCluster is one cluster per rule: each backend reference an endpoint (weight and priority
// as Envoy's), named by metadata the upstream ext_proc filter reads, with TLS chosen per
// endpoint from the backend's settings. nil for a rule with no backend to try.
func (b *builder) ruleCluster(rule *config.Rule) *clusterv3.Cluster {
	// Envoy's priorities must be dense from 0: rank the distinct priorities in use.
	var prios []int
	for _, r := range rule.Backends {
		if r.Weight > 0 && !slices.Contains(prios, r.Priority) {
			prios = append(prios, r.Priority)
		}
	}
	if len(prios) == 0 {
		return nil
	}
	sort.Ints(prios)
	live := extproc.LiveRefs(rule)
	subsets := len(live) >= 2 && len(live) <= extproc.MaxSubsetEndpoints
	la := &endpointv3.ClusterLoadAssignment{ClusterName: clusterName(rule)}
	for rank, prio := range prios {
		group := &endpointv3.LocalityLbEndpoints{Priority: uint32(rank)}
		for k, i := range live {
			if r := rule.Backends[i]; r.Priority == prio {
				ep := b.endpoint(i, r)
				if subsets {
					ep.Metadata.FilterMetadata[extproc.LBMetadataNamespace] = subsetMetadata(k, len(live))
				}
				group.LbEndpoints = append(group.LbEndpoints, ep)
			}
		}
		la.Endpoints = append(la.Endpoints, group)
	}
	c := &clusterv3.Cluster{
		Name:                 clusterName(rule),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS},
		DnsLookupFamily:      clusterv3.Cluster_V4_PREFERRED,
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
		ConnectTimeout:       durationpb.New(10 * time.Second),
		LoadAssignment:       la,
		// Non-streamed answers are buffered for translation, up to the builtin plane's limit.
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(64 << 20),
		// HTTP/1.1 to every backend, as the builtin plane speaks: a cluster may mix TLS and
		// plaintext endpoints, which rules out ALPN-negotiated HTTP/2.
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": b.any(&httpv3.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
				}},
				HttpFilters: b.upstreamFilters(),
			}),
		},
	}
	if subsets {
		// The router-level filter names, in the request's envoy.lb metadata, the subset of
		// backends that can take it; without one (all can) the whole cluster serves.
		c.LbSubsetConfig = &clusterv3.Cluster_LbSubsetConfig{
			FallbackPolicy:  clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT,
			SubsetSelectors: []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{{Keys: []string{extproc.SubsetKey}}},
			ListAsAny:       true,
		}
	}
	for i, r := range rule.Backends {
		if r.Weight > 0 && isTLS(r.Backend) {
			c.TransportSocketMatches = append(c.TransportSocketMatches, &clusterv3.Cluster_TransportSocketMatch{
				Name:            "tls-" + strconv.Itoa(i),
				Match:           &structpb.Struct{Fields: map[string]*structpb.Value{tlsMatchKey: structpb.NewStringValue(strconv.Itoa(i))}},
				TransportSocket: b.tlsSocket(r.Backend),
			})
		}
	}
	return c
}

// subsetMetadata is the envoy.lb metadata of the k-th of n live endpoints: every subset (a mask
// of live endpoints) it belongs to, matched as any of the list (list_as_any).
func subsetMetadata(k, n int) *structpb.Struct {
	var in []*structpb.Value
	for mask := uint64(1); mask < 1<<n; mask++ {
		if mask&(1<<k) != 0 {
			in = append(in, structpb.NewStringValue(extproc.SubsetValue(mask)))
		}
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		extproc.SubsetKey: structpb.NewListValue(&structpb.ListValue{Values: in}),
	}}
}

// tlsMatchKey is the endpoint metadata key a transport socket match selects on.
const tlsMatchKey = "aigw-tls"

// endpoint is one backend reference: the backend's host and port, with the metadata that names
// it for the upstream filter and picks its transport socket.
func (b *builder) endpoint(i int, r *config.BackendRef) *endpointv3.LbEndpoint {
	host, port := hostPort(r.Backend)
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		extproc.EndpointMetadataNamespace: {Fields: map[string]*structpb.Value{
			"backend": structpb.NewStringValue(r.Backend.Name),
			"ref":     structpb.NewNumberValue(float64(i)),
		}},
	}}
	if isTLS(r.Backend) {
		md.FilterMetadata["envoy.transport_socket_match"] = &structpb.Struct{Fields: map[string]*structpb.Value{
			tlsMatchKey: structpb.NewStringValue(strconv.Itoa(i)),
		}}
	}
	return &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: socketAddress(host, port),
			// auto_host_rewrite sends this as Host: the endpoint's host and port as configured,
			// what the builtin plane sends.
			Hostname: hostHeader(r.Backend),
		}},
		LoadBalancingWeight: wrapperspb.UInt32(uint32(r.Weight)),
		Metadata:            md,
	}
}

// tlsSocket verifies the backend as the builtin plane does: its CA bundle or the system roots,
// its server name (SNI) or its host.
func (b *builder) tlsSocket(be *config.Backend) *corev3.TransportSocket {
	host, _ := hostPort(be)
	ctx := &tlsv3.UpstreamTlsContext{Sni: host, CommonTlsContext: &tlsv3.CommonTlsContext{
		AlpnProtocols: []string{"http/1.1"},
	}}
	vc := &tlsv3.CertificateValidationContext{SystemRootCerts: &tlsv3.CertificateValidationContext_SystemRootCerts{}}
	if t := be.TLS; t != nil {
		if t.ServerName != "" {
			ctx.Sni = t.ServerName
		}
		if len(t.CACertPEM) > 0 {
			vc = &tlsv3.CertificateValidationContext{TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: t.CACertPEM}}}
		}
		if t.InsecureSkipVerify {
			vc = &tlsv3.CertificateValidationContext{TrustChainVerification: tlsv3.CertificateValidationContext_ACCEPT_UNTRUSTED}
		}
	}
	if !(be.TLS != nil && be.TLS.InsecureSkipVerify) {
		vc.MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{{
			SanType: tlsv3.SubjectAltNameMatcher_DNS,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: ctx.Sni}},
		}}
	}
	ctx.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
	return &corev3.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: b.any(ctx)},
	}
}

// hostHeader is the Host a backend gets: its endpoint's host, with the port when one is given.
func hostHeader(be *config.Backend) string {
	if be.Endpoint == nil || be.Endpoint.Host == "" {
		host, _ := hostPort(be)
		return host
	}
	return be.Endpoint.Host
}

func isTLS(be *config.Backend) bool { return be.Endpoint != nil && be.Endpoint.Scheme == "https" }

// hostPort is the backend's host and port, the scheme's default when none is given.
func hostPort(be *config.Backend) (string, int) {
	if be.Endpoint == nil {
		return "localhost", 80
	}
	host := be.Endpoint.Hostname()
	port, err := strconv.Atoi(be.Endpoint.Port())
	if err != nil {
		port = 80
		if be.Endpoint.Scheme == "https" {
			port = 443
		}
	}
	return host, port
}

func socketAddress(host string, port int) *corev3.Address {
	if ip := net.ParseIP(host); ip == nil && host == "" {
		host = "127.0.0.1"
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}
