package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/observe"
)

// fakeAdmin is an admin server whose event stream the test scripts: each GET /events is
// answered by the next function in conns, and records its query.
type fakeAdmin struct {
	mu      sync.Mutex
	queries []string
	since   time.Time // GET /stats "since"; zero answers 404
	conns   []func(w http.ResponseWriter, flush func())
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	switch r.URL.Path {
	case "/stats":
		since := f.since
		f.mu.Unlock()
		if since.IsZero() {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"v": 1, "since": since})
		return
	case "/events":
		f.queries = append(f.queries, r.URL.RawQuery)
		var conn func(http.ResponseWriter, func())
		if len(f.conns) > 0 {
			conn, f.conns = f.conns[0], f.conns[1:]
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		flush := func() { http.NewResponseController(w).Flush() }
		fmt.Fprint(w, ": aigw events v1\n\n")
		flush()
		if conn == nil {
			<-r.Context().Done()
			return
		}
		conn(w, flush)
		return
	}
	f.mu.Unlock()
	http.NotFound(w, r)
}

func (f *fakeAdmin) query(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(f.queries) {
		return ""
	}
	return f.queries[i]
}

func sse(w http.ResponseWriter, seq uint64, id string) {
	ev := observe.Event{V: 1, Seq: seq, Kind: observe.KindStart, Time: scriptStart, ID: id, Start: &observe.StartInfo{Endpoint: "chat_completions"}}
	b, _ := json.Marshal(ev)
	fmt.Fprintf(w, "id: %d\nevent: start\ndata: %s\n\n", seq, b)
}

// collector gathers what a Client sends, for assertions.
type collector struct {
	mu   sync.Mutex
	msgs []tea.Msg
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) send(m tea.Msg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// waitFor waits until cond holds over the messages so far.
func (c *collector) waitFor(t *testing.T, what string, cond func([]tea.Msg) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		ok := cond(c.msgs)
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("timed out waiting for %s; got %v", what, c.msgs)
		}
	}
}

// eventIDs are the ids of the events received, in order.
func eventIDs(msgs []tea.Msg) string {
	var ids []string
	for _, m := range msgs {
		if evs, ok := m.(EventsMsg); ok {
			for _, ev := range evs {
				ids = append(ids, ev.ID)
			}
		}
	}
	return strings.Join(ids, " ")
}

func runClient(t *testing.T, admin string) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	col := newCollector()
	done := make(chan struct{})
	c := &Client{Admin: admin, Replay: 50, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Batch: 5 * time.Millisecond}
	go func() { defer close(done); c.Run(ctx, col.send) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Client.Run did not return after its context ended")
		}
	})
	return col
}

// TestClientReplayAndResume: the first connection asks for the last Replay events; after a drop,
// the client resumes after the last event it read, so nothing is lost or repeated.
func TestClientReplayAndResume(t *testing.T) {
	fa := &fakeAdmin{since: scriptStart, conns: []func(http.ResponseWriter, func()){
		func(w http.ResponseWriter, flush func()) { sse(w, 1, "a"); sse(w, 2, "b"); flush() }, // then ends
		func(w http.ResponseWriter, flush func()) { sse(w, 3, "c"); flush() },
	}}
	srv := httptest.NewServer(fa)
	defer srv.Close()
	col := runClient(t, srv.URL)
	col.waitFor(t, "three events", func(m []tea.Msg) bool { return eventIDs(m) == "a b c" })
	if q := fa.query(0); q != "last=50" {
		t.Errorf("first query %q, want last=50", q)
	}
	if q := fa.query(1); q != "since=2" {
		t.Errorf("second query %q, want since=2", q)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var states []string
	for _, m := range col.msgs {
		if c, ok := m.(ConnMsg); ok {
			states = append(states, fmt.Sprint(c.State))
		}
	}
	// connecting, connected, disconnected (stream ended), connecting, connected
	if got := strings.Join(states, ","); !strings.HasPrefix(got, "0,1,2,0,1") {
		t.Errorf("states %s", got)
	}
}

// TestClientRestart: a gateway that restarted (a new /stats start time) is read from its first
// buffered event, and the client says so.
func TestClientRestart(t *testing.T) {
	fa := &fakeAdmin{since: scriptStart}
	fa.conns = []func(http.ResponseWriter, func()){
		func(w http.ResponseWriter, flush func()) {
			sse(w, 7, "old")
			flush()
			fa.mu.Lock()
			fa.since = scriptStart.Add(time.Hour) // the process is replaced
			fa.mu.Unlock()
		},
		func(w http.ResponseWriter, flush func()) { sse(w, 1, "new"); flush() },
	}
	srv := httptest.NewServer(fa)
	defer srv.Close()
	col := runClient(t, srv.URL)
	col.waitFor(t, "the new process's event", func(m []tea.Msg) bool { return eventIDs(m) == "old new" })
	if q := fa.query(1); q != "since=0" {
		t.Errorf("query after restart %q, want since=0", q)
	}
	col.waitFor(t, "a restarted connection", func(msgs []tea.Msg) bool {
		for _, m := range msgs {
			if c, ok := m.(ConnMsg); ok && c.Restarted {
				return true
			}
		}
		return false
	})
}

// TestClientRestartBySeq: without /stats, numbers going backwards reveal the restart.
func TestClientRestartBySeq(t *testing.T) {
	fa := &fakeAdmin{conns: []func(http.ResponseWriter, func()){
		func(w http.ResponseWriter, flush func()) { sse(w, 7, "old"); flush() },
		func(w http.ResponseWriter, flush func()) {
			sse(w, 1, "new")
			flush()
			time.Sleep(50 * time.Millisecond)
		},
		func(w http.ResponseWriter, flush func()) { sse(w, 1, "new"); sse(w, 2, "new2"); flush() },
	}}
	srv := httptest.NewServer(fa)
	defer srv.Close()
	col := runClient(t, srv.URL)
	col.waitFor(t, "events after the restart", func(m []tea.Msg) bool { return eventIDs(m) == "old new new2" })
	if q := fa.query(2); q != "since=0" {
		t.Errorf("query after restart %q, want since=0", q)
	}
}

// TestClientNotListening: nothing listens: the client reports the error and keeps trying.
func TestClientNotListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	col := runClient(t, "http://"+addr)
	col.waitFor(t, "two failed tries", func(msgs []tea.Msg) bool {
		n := 0
		for _, m := range msgs {
			if c, ok := m.(ConnMsg); ok && c.State == Disconnected && c.Err != nil && strings.Contains(c.Err.Error(), "refused") && c.Retry > 0 {
				n++
			}
		}
		return n >= 2
	})
}

// TestClientNotAigw: a server without /events gets an error that says so.
func TestClientNotAigw(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	col := runClient(t, srv.URL)
	col.waitFor(t, "a 404 explained", func(msgs []tea.Msg) bool {
		for _, m := range msgs {
			if c, ok := m.(ConnMsg); ok && c.Err != nil && strings.Contains(c.Err.Error(), "no event stream") {
				return true
			}
		}
		return false
	})
}

// TestClientIdle: a connection silent for longer than Idle is dropped and made again.
func TestClientIdle(t *testing.T) {
	fa := &fakeAdmin{} // every connection stays open and silent
	srv := httptest.NewServer(fa)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	col := newCollector()
	c := &Client{Admin: srv.URL, MinBackoff: 10 * time.Millisecond, Batch: time.Millisecond, Idle: 100 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, col.send) }()
	col.waitFor(t, "a silent connection dropped", func(msgs []tea.Msg) bool {
		for _, m := range msgs {
			if c, ok := m.(ConnMsg); ok && c.Err != nil && strings.Contains(c.Err.Error(), "no event or keep-alive") {
				return true
			}
		}
		return false
	})
	cancel()
	srv.CloseClientConnections()
	<-done
}
