package run

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/configs"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/version"
)

// eventsHeartbeat is how often an idle event stream sends a comment, so proxies and clients see a
// live connection.
const eventsHeartbeat = 15 * time.Second

// observeHandlers add GET /events (the lifecycle event stream, SSE) and GET /stats (totals since
// start) to the admin server. Event streams end when the admin server shuts down.
func (a *adminServer) observeHandlers(hub *observe.Hub, stats *observe.Stats) {
	mux := a.srv.Handler.(*http.ServeMux)
	ctx, cancel := context.WithCancel(context.Background())
	a.srv.RegisterOnShutdown(cancel)
	mux.Handle("GET /events", eventsHandler(ctx, hub))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(stats.Snapshot())
	})
	mux.HandleFunc("GET /inflight", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hub.InFlight())
	})
}

// eventsHandler streams lifecycle events as server-sent events: "id" is the event's sequence
// number, "event" its kind, "data" its JSON. ?since=N (or a Last-Event-ID header, as an
// EventSource sends on reconnect) first replays the buffered events after N; ?last=N replays the
// last N. A reader too slow for its buffer loses events, which shows as a gap in the ids.
func eventsHandler(shutdown context.Context, hub *observe.Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, replay, err := replayFrom(r, hub)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sub, backlog := hub.Subscribe(since)
		defer sub.Close()
		if !replay {
			backlog = nil
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		bw := bufio.NewWriterSize(w, 16<<10)
		send := func(ev *observe.Event) error {
			data, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if ev.Seq != 0 { // live-only events (progress) have no id, so Last-Event-ID stays put
				bw.WriteString("id: ")
				bw.WriteString(strconv.FormatUint(ev.Seq, 10))
				bw.WriteByte('\n')
			}
			bw.WriteString("event: ")
			bw.WriteString(string(ev.Kind))
			bw.WriteString("\ndata: ")
			bw.Write(data)
			_, err = bw.WriteString("\n\n")
			return err
		}
		flush := func() error {
			if err := bw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
		for _, ev := range backlog {
			if send(ev) != nil {
				return
			}
		}
		// A comment first, so the client sees the stream open even when nothing happens.
		bw.WriteString(": aigw events v" + strconv.Itoa(observe.SchemaVersion) + "\n\n")
		if flush() != nil {
			return
		}
		tick := time.NewTicker(eventsHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-shutdown.Done():
				return
			case <-tick.C:
				bw.WriteString(": keep-alive\n\n")
			case ev := <-sub.C():
				if send(ev) != nil {
					return
				}
				// Send whatever else is already waiting in the same write.
				for more := true; more; {
					select {
					case ev := <-sub.C():
						if send(ev) != nil {
							return
						}
					default:
						more = false
					}
				}
			}
			if flush() != nil {
				return
			}
		}
	})
}

// replayFrom reads ?since=N, ?last=N or Last-Event-ID; replay is false when none is given (only
// live events are sent).
func replayFrom(r *http.Request, hub *observe.Hub) (since uint64, replay bool, err error) {
	q := r.URL.Query()
	switch {
	case q.Has("since"):
		since, err = strconv.ParseUint(q.Get("since"), 10, 64)
		return since, true, err
	case q.Has("last"):
		n, err := strconv.Atoi(q.Get("last"))
		if err != nil || n < 0 {
			return 0, false, errBadLast
		}
		return hub.Last(n), true, nil
	case r.Header.Get("Last-Event-ID") != "":
		since, err = strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
		return since, true, err
	}
	return 0, false, nil
}

var errBadLast = badRequest("last must be a number of events, 0 or more")

type badRequest string

func (e badRequest) Error() string { return string(e) }

// loadPrices builds the price catalog: the built-in one, after --prices FILE (which must exist)
// or else prices.yaml in the config home (when it exists).
func loadPrices(opts Options) (*observe.Prices, error) {
	if opts.PricesPath != "" {
		return observe.NewPrices(configs.Prices, opts.PricesPath, true)
	}
	path := ""
	if opts.Dirs.ConfigHome != "" {
		path = filepath.Join(opts.Dirs.ConfigHome, "prices.yaml")
	}
	return observe.NewPrices(configs.Prices, path, false)
}

// telemetryShutdown bounds the final flush of traces and logs, so a dead collector cannot hold
// up the exit.
const telemetryShutdown = 3 * time.Second

// startTelemetry configures export from the OTEL_* variables and says what is exported.
func startTelemetry(opts Options, log *slog.Logger) (*observe.Telemetry, func(), error) {
	tel, err := observe.NewTelemetry(opts.Getenv, version.Version(), os.Stdout)
	if err != nil {
		return nil, func() {}, fmt.Errorf("telemetry: %w", err)
	}
	if s := tel.Signals(); len(s) > 0 {
		log.Info("exporting telemetry", "signals", strings.Join(s, ","))
	}
	return tel, func() {
		ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdown)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			log.Warn("flushing telemetry", "error", err)
		}
	}, nil
}
