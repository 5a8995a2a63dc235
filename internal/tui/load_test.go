package tui

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/usage"
)

// load runs TestLoad, which takes about 15s and is kept out of the ordinary test run:
// go test ./internal/tui -run TestLoad -load -v
var load = flag.Bool("load", false, "run the 1,000 events/s load test")

// timedModel measures how long each Update and each frame (View) takes.
type timedModel struct {
	*Model
	mu             sync.Mutex
	frames, update []time.Duration
	applied        atomic.Uint64
}

func (t *timedModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	start := time.Now()
	_, cmd := t.Model.Update(msg)
	d := time.Since(start)
	t.applied.Store(t.Model.store.Events)
	t.mu.Lock()
	t.update = append(t.update, d)
	t.mu.Unlock()
	return t, cmd
}

func (t *timedModel) View() tea.View {
	start := time.Now()
	v := t.Model.View()
	d := time.Since(start)
	t.mu.Lock()
	t.frames = append(t.frames, d)
	t.mu.Unlock()
	return v
}

// loadEvents writes the four events of request n.
func loadRequest(n int, at time.Time) []*observe.Event {
	id := fmt.Sprintf("load-%07d", n)
	model := fmt.Sprintf("model-%02d", n%20)
	backend := fmt.Sprintf("backend-%d", n%5)
	cost := &observe.USD{Amount: float64(n%100) * 0.0001}
	return []*observe.Event{
		{Kind: observe.KindStart, Time: at, ID: id, Start: &observe.StartInfo{Endpoint: "chat_completions", RequestModel: model, Route: "r", Stream: true}},
		{Kind: observe.KindAttempt, Time: at, ID: id, Attempt: &observe.AttemptInfo{Try: 1, Backend: backend, BackendModel: model}},
		{Kind: observe.KindFirstToken, Time: at, ID: id, FirstToken: &observe.FirstTokenInfo{TimeToFirstToken: 80 * time.Millisecond}},
		{Kind: observe.KindEnd, Time: at, ID: id, End: &observe.RequestEvent{ID: id, Start: at, Duration: 300 * time.Millisecond,
			TimeToFirstToken: 80 * time.Millisecond, Endpoint: "chat_completions", Route: "r", Backend: backend, RequestModel: model,
			BackendModel: model, Stream: true, Status: 200, Attempts: 1, CostUSD: cost,
			Usage: usage.Usage{InputTokens: int64(n % 900), OutputTokens: int64(n % 400), TotalTokens: int64(n%900 + n%400)}}},
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestLoad feeds 1,000 events per second for 10 seconds through the real path (an SSE stream,
// the client, a bubbletea program at 120×40 rendering to nowhere) and reports frame and update
// times, the process's CPU while loaded and idle, and whether the TUI kept up.
func TestLoad(t *testing.T) {
	if !*load {
		t.Skip("a 15s load test: run with -load")
	}
	const rate, seconds = 1000, 10
	var sent atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		flusher := http.NewResponseController(w)
		fmt.Fprint(w, ": aigw events v1\n\n")
		_ = flusher.Flush()
		// Every 10ms, send the requests due by then (four events each), so a late tick catches up.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		n, seq := 0, uint64(0)
		start := time.Now()
		for time.Since(start) < seconds*time.Second {
			select {
			case <-r.Context().Done():
				return
			case now := <-tick.C:
				due := int(now.Sub(start).Seconds() * rate / 4)
				for ; n < due; n++ {
					for _, ev := range loadRequest(n, now) {
						seq++
						ev.V, ev.Seq = 1, seq
						b, _ := json.Marshal(ev)
						fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, ev.Kind, b)
					}
				}
				_ = flusher.Flush()
				sent.Store(seq)
			}
		}
		<-r.Context().Done()
	}))
	defer srv.Close()

	tm := &timedModel{Model: New(Options{Admin: srv.URL})}
	p := tea.NewProgram(tm, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(120, 40),
		tea.WithFPS(30), tea.WithoutSignals(), tea.WithoutSignalHandler())
	ctxDone := make(chan struct{})
	progDone := make(chan struct{})
	go func() { defer close(progDone); _, _ = p.Run() }()
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		c := &Client{Admin: srv.URL}
		ctx, cancel := contextFrom(ctxDone)
		defer cancel()
		c.Run(ctx, p.Send)
	}()

	cpu0, wall0 := cpuTime(), time.Now()
	var maxLag uint64
	for time.Since(wall0) < seconds*time.Second {
		time.Sleep(100 * time.Millisecond)
		if s, a := sent.Load(), tm.applied.Load(); s > a && s-a > maxLag {
			maxLag = s - a
		}
	}
	// Let the last batch arrive.
	deadline := time.Now().Add(2 * time.Second)
	for tm.applied.Load() < sent.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	loadCPU, loadWall := cpuTime()-cpu0, time.Since(wall0)
	total, applied := sent.Load(), tm.applied.Load()

	cpu1, wall1 := cpuTime(), time.Now()
	time.Sleep(3 * time.Second)
	idleCPU, idleWall := cpuTime()-cpu1, time.Since(wall1)

	close(ctxDone)
	<-clientDone
	p.Quit()
	<-progDone

	tm.mu.Lock()
	defer tm.mu.Unlock()
	t.Logf("events: %d sent, %d applied (%.0f/s), %d gaps; most behind at any check: %d events",
		total, applied, float64(total)/loadWall.Seconds(), tm.Model.store.Gaps, maxLag)
	t.Logf("frames: %d, View p50 %v p95 %v p99 %v max %v", len(tm.frames), pct(tm.frames, .5), pct(tm.frames, .95), pct(tm.frames, .99), pct(tm.frames, 1))
	t.Logf("updates: %d, p50 %v p95 %v max %v", len(tm.update), pct(tm.update, .5), pct(tm.update, .95), pct(tm.update, 1))
	t.Logf("CPU under load (whole test process, SSE server included): %.1f%% of a core; idle: %.2f%% of a core",
		100*loadCPU.Seconds()/loadWall.Seconds(), 100*idleCPU.Seconds()/idleWall.Seconds())
	if applied != total || tm.Model.store.Gaps != 0 {
		t.Errorf("fell behind: %d of %d events applied, %d gaps", applied, total, tm.Model.store.Gaps)
	}
	if total < rate*seconds*9/10 {
		t.Errorf("the feeder sent only %d events", total)
	}
}
