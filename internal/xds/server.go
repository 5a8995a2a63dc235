package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

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
//
// A reload must not leave a window in which Envoy and the pipeline disagree on the rules: the
// router-level filter names the rule it matched with the pipeline's Model, and Envoy routes on
// that name. So a snapshot keeps the rules of the previous Model that the new one dropped
// (requests that took the old Model before the swap still find their route and cluster), and
// WaitApplied lets the caller swap the pipeline's Model only once Envoy has acknowledged the
// snapshot that knows the new rules.
type Server struct {
	cache cachev3.SnapshotCache
	opts  Options
	log   *slog.Logger

	mu      sync.Mutex
	version int
	prev    *config.Model // the Model of the current snapshot
	// acked is the snapshot version Envoy last acknowledged, per resource type; changed is
	// closed (and replaced) whenever it moves.
	acked   map[string]int
	changed chan struct{}
}

// NewServer returns an ADS server for the listener described by o. log may be nil.
func NewServer(o Options, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cache: cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil), opts: o, log: log,
		acked: map[string]int{}, changed: make(chan struct{})}
}

// Update compiles m, with the rules of the previous Model that m no longer has, and makes it the
// next snapshot. A Model that does not compile leaves the current snapshot in force. It returns
// the snapshot's version, for WaitApplied.
func (s *Server) Update(m *config.Model) error {
	_, err := s.update(m)
	return err
}

func (s *Server) update(m *config.Model) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := Build(withRetired(m, s.prev), s.opts)
	if err != nil {
		return 0, err
	}
	s.version++
	snap, err := cachev3.NewSnapshot(strconv.Itoa(s.version), map[resourcev3.Type][]cachetypes.Resource{
		resourcev3.ListenerType: toResources(res.Listeners),
		resourcev3.RouteType:    toResources(res.Routes),
		resourcev3.ClusterType:  toResources(res.Clusters),
	})
	if err != nil {
		return 0, fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return 0, fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := s.cache.SetSnapshot(context.Background(), NodeID, snap); err != nil {
		return 0, fmt.Errorf("xds: snapshot: %w", err)
	}
	s.prev = m
	s.log.Info("xds snapshot", "version", s.version, "listeners", len(res.Listeners), "clusters", len(res.Clusters))
	return s.version, nil
}

// UpdateAndWait is Update, then WaitApplied for the new snapshot, bounded by timeout: the
// caller puts m in force in the pipeline when it returns. It returns an error when m does not
// compile (the old snapshot stays) or Envoy did not acknowledge the snapshot in time.
func (s *Server) UpdateAndWait(ctx context.Context, m *config.Model, timeout time.Duration) error {
	v, err := s.update(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.WaitApplied(ctx, v)
}

// appliedTypes are the resources a request's routing depends on: the route configuration
// (which names the rule) and the clusters (its backends).
var appliedTypes = []string{resourcev3.RouteType, resourcev3.ClusterType}

// WaitApplied returns once Envoy has acknowledged snapshot version v (or a later one) for routes
// and clusters, or with ctx's error.
func (s *Server) WaitApplied(ctx context.Context, v int) error {
	for {
		s.mu.Lock()
		ok := true
		for _, t := range appliedTypes {
			ok = ok && s.acked[t] >= v
		}
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("xds: envoy has not applied snapshot %d: %w", v, ctx.Err())
		}
	}
}

// onRequest records an acknowledgement: a request that carries the version Envoy accepted
// (a rejection carries error_detail and the version it kept).
func (s *Server) onRequest(_ int64, req *discoveryv3.DiscoveryRequest) error {
	if req.ErrorDetail != nil {
		s.log.Warn("envoy rejected a configuration", "type", req.TypeUrl, "error", req.ErrorDetail.Message)
		return nil
	}
	v, err := strconv.Atoi(req.VersionInfo)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v > s.acked[req.TypeUrl] {
		s.acked[req.TypeUrl] = v
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return nil
}

// withRetired is m with the rules of prev that m no longer names, each under its old route's
// hostnames. The pipeline never routes to them once m is in force; until then, and for requests
// already under way, Envoy still has their routes and clusters. A rule kept under the same name
// takes its new form at once (an attempt of an older request then finds its backend gone and
// answers 503 config_changed).
func withRetired(m, prev *config.Model) *config.Model {
	if prev == nil {
		return m
	}
	names := map[string]bool{}
	for _, r := range m.Routes {
		for _, rule := range r.Rules {
			names[rule.Name] = true
		}
	}
	var retired []*config.Route
	for _, r := range prev.Routes {
		var rules []*config.Rule
		for _, rule := range r.Rules {
			if !names[rule.Name] {
				rules = append(rules, rule)
			}
		}
		if len(rules) > 0 {
			retired = append(retired, &config.Route{Name: r.Name, Hostnames: r.Hostnames, Rules: rules})
		}
	}
	if len(retired) == 0 {
		return m
	}
	return &config.Model{Routes: append(slices.Clone(m.Routes), retired...), MaxRequestBodyBytes: m.MaxRequestBodyBytes}
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
	srv := serverv3.NewServer(ctx, s.cache, serverv3.CallbackFuncs{StreamRequestFunc: s.onRequest})
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
