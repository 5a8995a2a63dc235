// Package adstest is Envoy's side of an ADS stream for tests of aigw's xDS server: it opens the
// stream on the server's unix socket, sends requests as Envoy's node, reads a version's
// responses and acknowledges them. It imports nothing of aigw, so the xds package's own tests
// can use it as well as the run package's.
package adstest

import (
	"context"
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Client is one ADS stream, as Envoy holds it. Its methods fail the test on a stream error.
type Client struct {
	t           testing.TB
	stream      discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node        *corev3.Node
	routeConfig string
}

// Dial opens an ADS stream on the unix socket sock as the node nodeID, open until ctx ends;
// every route request it sends names routeConfig. The connection closes when the test ends.
func Dial(t testing.TB, ctx context.Context, sock, nodeID, routeConfig string) *Client {
	t.Helper()
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, stream: stream, node: &corev3.Node{Id: nodeID}, routeConfig: routeConfig}
}

// Send sends req as the client's node; a route request names the client's route configuration.
func (c *Client) Send(req *discoveryv3.DiscoveryRequest) {
	c.t.Helper()
	req.Node = c.node
	if req.TypeUrl == resourcev3.RouteType {
		req.ResourceNames = []string{c.routeConfig}
	}
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// Recv reads the next response.
func (c *Client) Recv() *discoveryv3.DiscoveryResponse {
	c.t.Helper()
	resp, err := c.stream.Recv()
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// Next reads responses until it has one of types different resource types, and returns the last
// response of each by type URL.
func (c *Client) Next(types int) map[string]*discoveryv3.DiscoveryResponse {
	c.t.Helper()
	got := map[string]*discoveryv3.DiscoveryResponse{}
	for len(got) < types {
		resp := c.Recv()
		got[resp.TypeUrl] = resp
	}
	return got
}

// Ack acknowledges each response: the request for its type with its version and nonce.
func (c *Client) Ack(resps ...*discoveryv3.DiscoveryResponse) {
	c.t.Helper()
	for _, resp := range resps {
		c.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce})
	}
}

// Names are the sorted names of the clusters and of the routes (those of each route
// configuration's first virtual host) in resps; other resources have none.
func Names(resps ...*discoveryv3.DiscoveryResponse) []string {
	var names []string
	for _, resp := range resps {
		for _, r := range resp.Resources {
			switch resp.TypeUrl {
			case resourcev3.ClusterType:
				var c clusterv3.Cluster
				_ = r.UnmarshalTo(&c)
				names = append(names, c.Name)
			case resourcev3.RouteType:
				var rc routev3.RouteConfiguration
				_ = r.UnmarshalTo(&rc)
				if len(rc.VirtualHosts) > 0 {
					for _, rt := range rc.VirtualHosts[0].Routes {
						names = append(names, rt.Name)
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}
