package xds

import (
	"fmt"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// BootstrapOptions are the unix sockets Envoy reaches aigw and its own admin API on.
type BootstrapOptions struct {
	// AdminSocket is where Envoy's admin API listens (aigw reads /ready there).
	AdminSocket string
	// XDSSocket is aigw's ADS server.
	XDSSocket string
	// ExtProcSocket is aigw's ext_proc server.
	ExtProcSocket string
}

// Bootstrap is Envoy's startup configuration: its admin API on a unix socket, listeners and
// clusters over ADS from aigw, and the static clusters of aigw's two gRPC servers.
func Bootstrap(o BootstrapOptions) (*bootstrapv3.Bootstrap, error) {
	b := &builder{}
	bs := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: NodeID, Cluster: NodeID},
		Admin: &bootstrapv3.Admin{
			Address: pipe(o.AdminSocket),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{Clusters: []*clusterv3.Cluster{
			b.pipeCluster(XDSCluster, o.XDSSocket, true),
			b.pipeCluster(ExtProcCluster, o.ExtProcSocket, true),
		}},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: &corev3.ApiConfigSource{
				ApiType:             corev3.ApiConfigSource_GRPC,
				TransportApiVersion: corev3.ApiVersion_V3,
				GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSCluster},
				}}},
				SetNodeOnFirstMessageOnly: true,
			},
			LdsConfig: adsSource(),
			CdsConfig: adsSource(),
		},
	}
	if b.err != nil {
		return nil, b.err
	}
	if err := bs.ValidateAll(); err != nil {
		return nil, fmt.Errorf("xds: bootstrap: %w", err)
	}
	return bs, nil
}

// BootstrapJSON is the bootstrap as the JSON file Envoy reads with --config-path.
func BootstrapJSON(o BootstrapOptions) ([]byte, error) {
	bs, err := Bootstrap(o)
	if err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(bs)
}

// pipeCluster is a static cluster of one unix socket, HTTP/2 (gRPC) or HTTP/1.1.
func (b *builder) pipeCluster(name, socket string, h2 bool) *clusterv3.Cluster {
	proto := &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
		ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
	}
	if !h2 {
		proto.ProtocolConfig = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}}
	}
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(5 * time.Second),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": b.any(&httpv3.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: proto},
			}),
		},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: pipe(socket)}},
			}}}},
		},
	}
}

func pipe(path string) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: path}}}
}
