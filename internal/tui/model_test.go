package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/usage"
)

// ids lists the Live rows' request ids in order.
func ids(m *Model) string {
	var b []string
	for _, r := range m.rows {
		b = append(b, r.ID)
	}
	return strings.Join(b, " ")
}

func loaded(t *testing.T) *Model {
	m := newTestModel(120, 40)
	m.Update(ConnMsg{State: Connected})
	m.Update(EventsMsg(loadEvents(t, "requests")))
	return m
}

func TestFilter(t *testing.T) {
	cases := []struct{ filter, want string }{
		{"", "req-0008-wait req-0007-stream req-0009-unrouted req-0006-reason req-0005-local req-0004-error req-0003-fallback req-0002-claude req-0001-mini"},
		{"model:gpt-4o-mini", "req-0008-wait req-0001-mini"},
		{"model:2024-08-06", "req-0003-fallback"},       // the served model counts
		{"backend:openai-primary", "req-0003-fallback"}, // so does a backend that failed over
		{"backend:azure", "req-0003-fallback"},
		{"status:5xx", "req-0004-error"},
		{"status:4", "req-0009-unrouted"},
		{"status:error", "req-0009-unrouted req-0004-error"},
		{"status:live", "req-0008-wait req-0007-stream"},
		{"status:ok model:o", "req-0006-reason req-0003-fallback req-0002-claude req-0001-mini"},
		{"anthropic", "req-0007-stream req-0002-claude"},
		{"route:ollama", "req-0005-local"},
		{"CLAUDE haiku", "req-0007-stream"},
		{"no-such-thing", ""},
	}
	for _, c := range cases {
		m := loaded(t)
		m.Update(press("/"))
		typeText(m, c.filter)
		m.Update(press("enter"))
		if got := ids(m); got != c.want {
			t.Errorf("filter %q:\n got %s\nwant %s", c.filter, got, c.want)
		}
	}
	// esc in the Live view clears the filter.
	m := loaded(t)
	m.Update(press("/"))
	typeText(m, "status:5xx")
	m.Update(press("enter"))
	m.Update(press("esc"))
	if len(m.rows) != 9 || !m.filter.empty() {
		t.Errorf("after esc: %d rows, filter %v", len(m.rows), m.filter)
	}
}

func TestSort(t *testing.T) {
	m := loaded(t)
	want := map[sortKey]string{
		sortLatency: "req-0004-error req-0006-reason req-0002-claude req-0007-stream req-0008-wait req-0003-fallback req-0005-local req-0001-mini req-0009-unrouted",
		// The stream in flight counts the output its progress events reported.
		sortTokens: "req-0002-claude req-0006-reason req-0003-fallback req-0005-local req-0007-stream req-0001-mini req-0008-wait req-0009-unrouted req-0004-error",
		sortCost:   "req-0002-claude req-0006-reason req-0003-fallback req-0001-mini req-0008-wait req-0007-stream req-0009-unrouted req-0005-local req-0004-error",
	}
	for k := sortLatency; k < numSorts; k++ {
		m.Update(press("s"))
		if m.sortBy != k {
			t.Fatalf("sort is %v, want %v", m.sortBy, k)
		}
		if got := ids(m); got != want[k] {
			t.Errorf("sort %v:\n got %s\nwant %s", k, got, want[k])
		}
	}
	m.Update(press("s")) // back to time
	m.Update(press("S")) // oldest first
	if got := ids(m); !strings.HasPrefix(got, "req-0001-mini req-0002-claude") {
		t.Errorf("time ascending: %s", got)
	}
}

func TestPause(t *testing.T) {
	m := loaded(t)
	m.Update(press("down")) // select the second row, so the selection stays on its request
	sel := m.rows[m.sel].ID
	m.Update(press("space"))
	if !m.paused {
		t.Fatal("space did not pause")
	}
	m.Update(EventsMsg{
		{V: 1, Seq: 40, Kind: observe.KindStart, Time: scriptNow, ID: "late-1", Start: &observe.StartInfo{Endpoint: "chat_completions", RequestModel: "gpt-4o"}},
		{V: 1, Seq: 41, Kind: observe.KindStart, Time: scriptNow, ID: "late-2", Start: &observe.StartInfo{Endpoint: "chat_completions", RequestModel: "gpt-4o"}},
		{V: 1, Seq: 42, Kind: observe.KindEnd, Time: scriptNow, ID: "req-0008-wait", End: &observe.RequestEvent{ID: "req-0008-wait", Status: 200, Duration: time.Second}},
	})
	if len(m.rows) != 9 || m.unseen != 2 || m.rows[m.sel].ID != sel {
		t.Fatalf("paused: %d rows, %d unseen, selection %s (want 9, 2, %s)", len(m.rows), m.unseen, m.rows[m.sel].ID, sel)
	}
	if !strings.Contains(m.Render(), "PAUSED +2") {
		t.Error("the header does not say paused")
	}
	// A request that ended while paused shows its end in place; totals go on counting.
	if m.Store().Get("req-0008-wait").End == nil || m.Store().Total.All.Requests != 8 {
		t.Error("events applied while paused were lost")
	}
	m.Update(press("space"))
	if m.paused || len(m.rows) != 11 || m.rows[m.sel].ID != sel {
		t.Fatalf("resumed: paused=%v, %d rows, selection %s", m.paused, len(m.rows), m.rows[m.sel].ID)
	}
}

// TestFollowNewest: with the first row selected, new requests take the selection; with another
// row selected, the selection stays on its request.
func TestFollowNewest(t *testing.T) {
	m := loaded(t)
	m.Update(EventsMsg{{V: 1, Seq: 40, Kind: observe.KindStart, Time: scriptNow, ID: "new", Start: &observe.StartInfo{}}})
	if m.rows[m.sel].ID != "new" {
		t.Errorf("selection %s, want the newest", m.rows[m.sel].ID)
	}
	m.Update(press("down"))
	m.Update(EventsMsg{{V: 1, Seq: 41, Kind: observe.KindStart, Time: scriptNow, ID: "newer", Start: &observe.StartInfo{}}})
	if m.rows[m.sel].ID != "req-0008-wait" {
		t.Errorf("selection %s, want it to stay on req-0008-wait", m.rows[m.sel].ID)
	}
}

func TestRingBuffer(t *testing.T) {
	s := NewStore(3)
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("r%d", i)
		s.Apply(&observe.Event{Seq: uint64(2*i - 1), Kind: observe.KindStart, ID: id, Start: &observe.StartInfo{}})
		s.Apply(&observe.Event{Seq: uint64(2 * i), Kind: observe.KindEnd, ID: id, End: &observe.RequestEvent{Status: 200, Usage: usage.Usage{InputTokens: 1}}})
	}
	var kept []string
	s.Each(func(r *Request) { kept = append(kept, r.ID) })
	if got := strings.Join(kept, " "); got != "r3 r4 r5" || s.Len() != 3 || s.Get("r1") != nil {
		t.Errorf("kept %q (len %d), want the newest three", got, s.Len())
	}
	if s.Total.All.Requests != 5 || s.Total.All.Tokens.InputTokens != 5 {
		t.Errorf("totals count every request seen: %+v", s.Total.All)
	}
	// An event for an evicted request starts a new entry rather than touching freed memory.
	s.Apply(&observe.Event{Seq: 11, Kind: observe.KindFirstToken, ID: "r1", FirstToken: &observe.FirstTokenInfo{TimeToFirstToken: time.Millisecond}})
	if s.Get("r1") == nil || s.Len() != 3 {
		t.Errorf("late event: len %d", s.Len())
	}
	// Replayed events (numbers already seen) are ignored; a jump counts the events missed.
	s.Apply(&observe.Event{Seq: 9, Kind: observe.KindEnd, ID: "r5", End: &observe.RequestEvent{Status: 500}})
	if s.Get("r5").End.Status != 200 || s.Total.All.Requests != 5 {
		t.Error("a replayed event was applied twice")
	}
	s.Apply(&observe.Event{Seq: 20, Kind: observe.KindStart, ID: "r9", Start: &observe.StartInfo{}})
	if s.Gaps != 8 {
		t.Errorf("gaps %d, want 8", s.Gaps)
	}
}

// TestBoundedModel: however many requests arrive, the model keeps at most Buffer of them.
func TestBoundedModel(t *testing.T) {
	m := newTestModel(80, 24) // Buffer 100
	m.Update(ConnMsg{State: Connected})
	var seq uint64
	for b := 0; b < 50; b++ {
		var batch EventsMsg
		for i := 0; i < 20; i++ {
			seq++
			id := fmt.Sprintf("r%d", seq)
			batch = append(batch, &observe.Event{Seq: seq, Kind: observe.KindEnd, Time: scriptNow, ID: id,
				End: &observe.RequestEvent{ID: id, RequestModel: fmt.Sprintf("m%d", seq%300), Status: 200}})
		}
		m.Update(batch)
	}
	if m.Store().Len() != 100 || len(m.rows) != 100 || m.rows[0].ID != "r1000" {
		t.Errorf("store %d, rows %d, first %s", m.Store().Len(), len(m.rows), m.rows[0].ID)
	}
	if n := len(m.Store().Total.Models); n > maxGroups+1 {
		t.Errorf("%d model groups, bound is %d", n, maxGroups+1)
	}
	if m.Store().Total.Models[otherKey] == nil {
		t.Error("models beyond the bound are not summed under (other)")
	}
}

// TestReconnect: a dropped link shows as disconnected over the data, which stays; a restarted
// gateway marks the requests that were in flight as lost and numbers start again.
func TestReconnect(t *testing.T) {
	m := loaded(t)
	m.Update(ConnMsg{State: Disconnected, Err: fmt.Errorf("event stream: unexpected EOF"), Retry: time.Second})
	screen := m.Render()
	if !strings.Contains(screen, "✖ disconnected") || !strings.Contains(screen, "unexpected EOF") || !strings.Contains(screen, "req") {
		t.Errorf("disconnected screen:\n%s", screen)
	}
	if len(m.rows) != 9 {
		t.Errorf("rows lost on disconnect: %d", len(m.rows))
	}
	m.Update(ConnMsg{State: Connected, Restarted: true})
	if !m.Store().Get("req-0007-stream").Lost || !m.Store().Get("req-0008-wait").Lost || m.Store().Get("req-0001-mini").Lost {
		t.Error("in-flight requests of the old process are not marked lost (or an ended one is)")
	}
	if strings.Contains(m.Render(), "disconnected") {
		t.Error("still says disconnected after reconnecting")
	}
	// The new process numbers from 1: its events are applied, not taken for replays.
	m.Update(EventsMsg{{V: 1, Seq: 1, Kind: observe.KindStart, Time: scriptNow, ID: "after-restart", Start: &observe.StartInfo{}}})
	if m.Store().Get("after-restart") == nil {
		t.Error("the restarted gateway's first event was dropped")
	}
	if st := status(m.Store().Get("req-0008-wait")); st != "lost" {
		t.Errorf("status %q, want lost", st)
	}
}

// TestResize: every size from 80×24 up draws exactly the screen, in every view, and a resize
// keeps the selection visible.
func TestResize(t *testing.T) {
	m := loaded(t)
	for _, size := range [][2]int{{80, 24}, {100, 30}, {200, 60}, {81, 25}, {80, 24}} {
		for _, k := range []string{"1", "2", "3"} {
			m.Update(press(k))
			m.Update(sizeMsg(size[0], size[1]))
			lines := strings.Split(m.Render(), "\n")
			if len(lines) != size[1] {
				t.Fatalf("%v view %s: %d lines", size, k, len(lines))
			}
		}
	}
	m.Update(press("1"))
	for i := 0; i < 8; i++ {
		m.Update(press("down"))
	}
	m.Update(sizeMsg(80, 5)) // smaller than supported: still draws, selection on screen
	if !strings.Contains(m.Render(), "›") {
		t.Errorf("the selection scrolled off a small screen:\n%s", m.Render())
	}
}

func TestNoColor(t *testing.T) {
	colored := New(Options{Admin: "x", Clock: func() time.Time { return scriptNow }, Tick: -1})
	mono := New(Options{Admin: "x", NoColor: true, Clock: func() time.Time { return scriptNow }, Tick: -1})
	for _, m := range []*Model{colored, mono} {
		m.Update(ConnMsg{State: Connected})
		m.Update(EventsMsg(loadEvents(t, "requests")))
	}
	// A 24-bit colour is ESC[38;2;... (foreground) or ESC[48;2;... (background).
	if !strings.Contains(colored.Render(), "38;2;") {
		t.Error("the colour styles draw no colour")
	}
	if s := mono.Render(); strings.Contains(s, "38;2;") || strings.Contains(s, "48;2;") || strings.Contains(s, "[3") {
		t.Errorf("NO_COLOR draws colour: %q", s[:200])
	}
}

// TestColorProfile: a terminal without colour gets the attribute-only styles.
func TestColorProfile(t *testing.T) {
	m := New(Options{Admin: "x", Clock: func() time.Time { return scriptNow }, Tick: -1})
	m.Update(ConnMsg{State: Connected})
	m.Update(EventsMsg(loadEvents(t, "requests")))
	if !strings.Contains(m.Render(), "38;2;") {
		t.Fatal("no colour before the profile is known")
	}
	m.Update(tea.ColorProfileMsg{Profile: colorprofile.ASCII})
	if s := m.Render(); strings.Contains(s, "38;2;") || strings.Contains(s, "48;2;") {
		t.Error("colour on a terminal without colour")
	}
}

// TestProgressEvents: progress raises an in-flight request's output count (never lowers it), the
// Live OUT cell shows it ("~" for the gateway's estimate, within six cells), and the end event's
// usage replaces it.
func TestProgressEvents(t *testing.T) {
	s := NewStore(10)
	ev := func(seq uint64, k observe.Kind) *observe.Event {
		return &observe.Event{Seq: seq, Kind: k, Time: scriptNow, ID: "p"}
	}
	s.Apply(&observe.Event{Seq: 1, Kind: observe.KindStart, Time: scriptStart, ID: "p", Start: &observe.StartInfo{Endpoint: "chat_completions", Stream: true}})
	s.Apply(&observe.Event{Seq: 2, Kind: observe.KindFirstToken, Time: scriptStart, ID: "p", FirstToken: &observe.FirstTokenInfo{TimeToFirstToken: time.Millisecond}})
	p := ev(3, observe.KindProgress)
	p.Progress = &observe.ProgressInfo{OutputTokens: 40, Estimated: true}
	s.Apply(p)
	r := s.Get("p")
	var v liveView
	if got := v.cell(r, 7, scriptNow, time.UTC); got != "~40" {
		t.Errorf("OUT cell %q, want ~40", got)
	}
	if got := v.cell(r, 6, scriptNow, time.UTC); got != "…" {
		t.Errorf("IN cell %q while in flight, want …", got)
	}
	lower := ev(4, observe.KindProgress)
	lower.Progress = &observe.ProgressInfo{OutputTokens: 12}
	s.Apply(lower)
	if r.OutputSoFar != 40 || !r.OutputEstimated {
		t.Errorf("a lower count replaced a higher one: %d %v", r.OutputSoFar, r.OutputEstimated)
	}
	reported := ev(5, observe.KindProgress)
	reported.Progress = &observe.ProgressInfo{OutputTokens: 41}
	s.Apply(reported)
	if got := v.cell(r, 7, scriptNow, time.UTC); got != "41" {
		t.Errorf("OUT cell %q for a reported count, want 41", got)
	}
	for n, want := range map[int64]string{9999: "~9999", 12345: "~12k", 999999: "~999k", 4560000: "~4.6M"} {
		if got := outSoFar(&Request{OutputSoFar: n, OutputEstimated: true}); got != want || len(got) > 6 {
			t.Errorf("outSoFar(%d) = %q, want %q", n, got, want)
		}
	}
	end := ev(6, observe.KindEnd)
	end.End = &observe.RequestEvent{ID: "p", Status: 200, Usage: usage.Usage{OutputTokens: 57}}
	s.Apply(end)
	late := ev(7, observe.KindProgress)
	late.Progress = &observe.ProgressInfo{OutputTokens: 99}
	s.Apply(late)
	if got := v.cell(r, 7, scriptNow, time.UTC); got != "57" || r.OutputSoFar == 99 {
		t.Errorf("after the end: OUT %q, so far %d", got, r.OutputSoFar)
	}
}

// TestAttemptEndEvents: an attempt_end lands on its attempt (by try number) and the Trace says
// what the backend answered and why the attempt failed; one for an unknown try is ignored.
func TestAttemptEndEvents(t *testing.T) {
	m := loaded(t)
	r := m.Store().Get("req-0003-fallback")
	if a := r.Attempts[0]; !a.Ended || a.Status != 0 || !strings.Contains(a.Error, "connection reset") || a.Duration != 398*time.Millisecond {
		t.Errorf("first attempt %+v", a)
	}
	if r.Attempts[1].Ended {
		t.Error("the attempt that answered was marked ended")
	}
	m.Update(EventsMsg{{V: 1, Seq: 40, Kind: observe.KindAttemptEnd, Time: scriptNow, ID: "req-0003-fallback",
		AttemptEnd: &observe.AttemptEndInfo{Try: 7, Backend: "x", Status: 500}}})
	for _, a := range r.Attempts {
		if a.Status == 500 {
			t.Errorf("an attempt_end for try 7 changed %+v", a)
		}
	}
	selectID(t, m, "req-0006-reason")
	m.Update(press("enter"))
	screen := m.Render()
	if !strings.Contains(screen, "180ms    429, retried") {
		t.Errorf("the retried attempt's status and duration are not shown:\n%s", screen)
	}
	if strings.Contains(screen, "failed, retried") {
		t.Errorf("an attempt with a status says only failed:\n%s", screen)
	}
}

// TestLostEndReconciled: after a gap in the events, the requests the gateway no longer has in
// flight (GET /inflight) stop showing as in flight; one still in flight, or first seen after the
// list was taken, stays.
func TestLostEndReconciled(t *testing.T) {
	m := newTestModel(120, 40)
	m.opts.Admin = "http://127.0.0.1:1"
	m.Update(ConnMsg{State: Connected})
	start := func(seq uint64, id string) *observe.Event {
		return &observe.Event{V: 1, Seq: seq, Kind: observe.KindStart, Time: scriptNow, ID: id, Start: &observe.StartInfo{Endpoint: "chat_completions"}}
	}
	m.Update(EventsMsg{start(1, "ended"), start(2, "running")})
	// Events 3-4 (the end of "ended") are lost; 5 starts another request.
	_, cmd := m.Update(EventsMsg{start(5, "later")})
	if cmd == nil {
		t.Fatal("a gap did not ask the gateway which requests are in flight")
	}
	m.Update(InFlightMsg{InFlight: &observe.InFlight{Seq: 4, IDs: []string{"running"}}})
	for id, lost := range map[string]bool{"ended": true, "running": false, "later": false} {
		if r := m.Store().Get(id); r == nil || r.Lost != lost {
			t.Errorf("%s: lost %v, want %v", id, r != nil && r.Lost, lost)
		}
	}
}
