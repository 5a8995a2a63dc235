package run

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/proxy"
)

// adminServer serves /health and /metrics.
type adminServer struct {
	srv *http.Server
	// planeReady, when set, is the Envoy data plane's readiness, which /health reports.
	planeReady func() error
}

// newAdminServer serves the admin endpoints; draining reports whether the gateway is shutting
// down (its data plane letting requests in flight finish).
func newAdminServer(dp *proxy.Server, metrics *observe.Metrics, draining func() bool) *adminServer {
	a := &adminServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("draining\n"))
			return
		}
		if !dp.Serving() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("data plane not serving\n"))
			return
		}
		if a.planeReady != nil {
			if err := a.planeReady(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(err.Error() + "\n"))
				return
			}
		}
		_, _ = w.Write([]byte("serving\n"))
	})
	mux.Handle("GET /metrics", metrics.Handler())
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return a
}

// serve runs until ctx is done, then lets open requests finish for up to 5s, or none once
// forced is closed.
func (a *adminServer) serve(ctx context.Context, ln net.Listener, forced <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		select {
		case <-forced:
			cancel()
		case <-sctx.Done():
		}
	}()
	if err := a.srv.Shutdown(sctx); err != nil {
		_ = a.srv.Close()
	}
	<-errc
	return nil
}

// fanout sends each record to every handler that is enabled for its level.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			_ = h.Handle(ctx, r.Clone())
		}
	}
	return nil
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
