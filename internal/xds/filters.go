package xds

import (
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/aigw/aigw/internal/extproc"
)

// Names of the Envoy resources and extensions aigw generates.
const (
	// ExtProcCluster is the static cluster of aigw's ext_proc gRPC server (a unix socket).
	ExtProcCluster = "aigw-extproc"
	// XDSCluster is the static cluster of aigw's ADS server (a unix socket).
	XDSCluster = "aigw-xds"
	// RouteConfigName is the one route configuration, served over RDS.
	RouteConfigName = "aigw-routes"
	// ListenerName is the gateway listener.
	ListenerName = "aigw-gateway"

	extProcFilterName = "envoy.filters.http.ext_proc"
	routerFilterName  = "envoy.filters.http.router"
	upstreamCodecName = "envoy.filters.http.upstream_codec"
	hcmName           = "envoy.filters.network.http_connection_manager"

	// extProcMessageTimeout bounds each ext_proc round trip. The pipeline answers from memory
	// except when a credential is fetched (a token refresh), which it bounds itself.
	extProcMessageTimeout = 30 * time.Second
)

// extProcService is the gRPC service of the ext_proc server, tagged with the filter it serves.
func extProcService(filter string) *corev3.GrpcService {
	return &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: ExtProcCluster}},
		InitialMetadata: []*corev3.HeaderValue{{Key: extproc.FilterMetadataKey, Value: filter}},
	}
}

// routerExtProc is the router-level ext_proc filter: it sees the request headers and the whole
// body (BUFFERED), sets the routing headers, and sees the final response headers. It never sees
// response bodies; the upstream filter translates them.
func routerExtProc() *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService: extProcService(extproc.FilterRouter),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		// The subset of backends that can take the request (quota, translation), for the
		// router's subset load balancing; Envoy drops metadata in a namespace not listed.
		MetadataOptions: receiving(extproc.LBMetadataNamespace),
		MessageTimeout:  durationpb.New(extProcMessageTimeout),
	}
}

// receiving lets the ext_proc server write dynamic metadata in these namespaces: Envoy drops
// what an ext_proc server emits in any namespace not listed.
func receiving(namespaces ...string) *extprocv3.MetadataOptions {
	return &extprocv3.MetadataOptions{ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: namespaces}}
}

// upstreamExtProc is the upstream-level ext_proc filter: one instance per attempt, so each
// retry is translated and authenticated for the endpoint Envoy picked (named by the endpoint's
// metadata, which the filter asks for as an attribute). Response bodies are STREAMED; the server
// switches a non-streamed or error answer to BUFFERED (allow_mode_override).
func upstreamExtProc() *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService: extProcService(extproc.FilterUpstream),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
			ResponseBodyMode:    extprocv3.ProcessingMode_STREAMED,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		AllowModeOverride: true,
		RequestAttributes: []string{extproc.UpstreamHostMetadataAttribute},
		// Token counts and costs, for Envoy's access log and rate limits.
		MetadataOptions: receiving(extproc.DynamicMetadataNamespace),
		MessageTimeout:  durationpb.New(extProcMessageTimeout),
	}
}

// httpConnectionManager is the gateway listener's HTTP stack: the router-level ext_proc filter,
// then the router; routes come over RDS.
func (b *builder) httpConnectionManager() *hcmv3.HttpConnectionManager {
	return &hcmv3.HttpConnectionManager{
		StatPrefix: "aigw",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: RouteConfigName,
			ConfigSource:    adsSource(),
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: extProcFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: b.any(routerExtProc())}},
			{Name: routerFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: b.any(&routerv3.Router{})}},
		},
		// The builtin plane keeps a client's X-Request-Id and returns it; so does this one. The two
		// ext_proc filters find the same request by it.
		PreserveExternalRequestId:    true,
		AlwaysSetRequestIdInResponse: true,
	}
}

// upstreamFilters are the cluster's upstream HTTP filters: the per-attempt ext_proc filter, then
// the codec (which must be last).
func (b *builder) upstreamFilters() []*hcmv3.HttpFilter {
	return []*hcmv3.HttpFilter{
		{Name: extProcFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: b.any(upstreamExtProc())}},
		{Name: upstreamCodecName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: b.any(&upstreamcodecv3.UpstreamCodec{})}},
	}
}

// adsSource says a resource comes over the ADS stream.
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// builder makes the resources of one Model, keeping the first packing error (a string that is
// not valid UTF-8, say) so that the callers stay linear.
type builder struct{ err error }

func (b *builder) any(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("xds: packing %s: %w", proto.MessageName(m), err)
	}
	return a
}
