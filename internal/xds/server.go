package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/aigw/aigw/internal/config"
)

// NodeID is the Envoy node id aigw's bootstrap sets and its snapshots are kept under.
const NodeID = "aigw"

// Server is the in-process ADS server: each Model becomes a new snapshot version, which Envoy
// applies without a restart.
type Server struct {
	cache   cachev3.SnapshotCache
	opts    Options
	log     *slog.Logger
	mu      sync.Mutex
	version int
}

// NewServer returns an ADS server for the listener described by o. log may be nil.
func NewServer(o Options, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cache: cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil), opts: o, log: log}
}

// Update compiles m and makes it the next snapshot. A Model that does not compile leaves the
// current snapshot in force.
func (s *Server) Update(m *config.Model) error {
	res, err := Build(m, s.opts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	snap, err := cachev3.NewSnapshot(strconv.Itoa(s.version), map[resourcev3.Type][]cachetypes.Resource{
		resourcev3.ListenerType: toResources(res.Listeners),
		resourcev3.RouteType:    toResources(res.Routes),
		resourcev3.ClusterType:  toResources(res.Clusters),
	})
	if err != nil {
		return fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := s.cache.SetSnapshot(context.Background(), NodeID, snap); err != nil {
		return fmt.Errorf("xds: snapshot: %w", err)
	}
	s.log.Info("xds snapshot", "version", s.version, "listeners", len(res.Listeners), "clusters", len(res.Clusters))
	return nil
}

// Version is the snapshot version now served ("" before the first Update).
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == 0 {
		return ""
	}
	return strconv.Itoa(s.version)
}

// Register adds the ADS service to a gRPC server.
func (s *Server) Register(ctx context.Context, g *grpc.Server) {
	srv := serverv3.NewServer(ctx, s.cache, nil)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, srv)
}

// ListenUnix listens on a unix socket at path, replacing a stale one from an earlier run, with
// mode 0600: only this user's Envoy may connect.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func toResources[T cachetypes.Resource](in []T) []cachetypes.Resource {
	out := make([]cachetypes.Resource, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}
