package extproc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/translate"
)

// fakeClock is a pipeline clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time                  { return c.t }
func (c *fakeClock) add(d time.Duration)             { c.t = c.t.Add(d) }
func (c *fakeClock) since(t time.Time) time.Duration { return c.t.Sub(t) }
func newFakeClock() *fakeClock                       { return &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)} }

func drain(sub *observe.Subscription) []*observe.Event {
	var evs []*observe.Event
	for {
		select {
		case ev := <-sub.C():
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

func ofKind(evs []*observe.Event, k observe.Kind) []*observe.Event {
	var out []*observe.Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// streamingAttempt starts a streamed chat request on one OpenAI backend, with the pipeline's
// clock under the test's control, and returns its stream and attempt after the response headers.
func streamingAttempt(t *testing.T, hub *observe.Hub, clock *fakeClock) (*Stream, *Attempt) {
	t.Helper()
	p := New(ruleModel(&config.BackendRef{Backend: openAI("a"), Weight: 1}), nil, WithHub(hub))
	p.now, p.since = clock.now, clock.since
	s := p.NewStream(translate.EndpointChatCompletions)
	s.RequestHeaders("req-p", "h", http.Header{})
	if err := s.RequestBody("application/json", []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)); err != nil {
		t.Fatal(err)
	}
	a, err := s.Attempt(context.Background(), s.Candidates()[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}); err != nil {
		t.Fatal(err)
	}
	return s, a
}

// contentChunk is one OpenAI stream chunk carrying one token of text, with running usage when
// usage > 0 (as vLLM's continuous usage stats send it).
func contentChunk(usage int) string {
	u := ""
	if usage > 0 {
		u = fmt.Sprintf(`,"usage":{"prompt_tokens":5,"completion_tokens":%d,"total_tokens":%d}`, usage, usage+5)
	}
	return `data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"tok"}}]` + u + "}\n\n"
}

// TestProgressThrottled: a stream sending a token every 50 ms publishes a progress event at most
// once per observe.ProgressInterval after its first token, with an estimated count that climbs
// and stays near the number of events sent; the end event follows with the real usage.
func TestProgressThrottled(t *testing.T) {
	hub := observe.NewHub(1024, 1024)
	sub, _ := hub.Subscribe(0)
	defer sub.Close()
	clock := newFakeClock()
	s, a := streamingAttempt(t, hub, clock)
	const chunks = 40 // 2 s at 50 ms
	for i := 0; i < chunks; i++ {
		clock.add(50 * time.Millisecond)
		if _, err := a.ResponseBody([]byte(contentChunk(0)), false); err != nil {
			t.Fatal(err)
		}
	}
	usage := `data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":40,"total_tokens":45}}` + "\n\ndata: [DONE]\n\n"
	if _, err := a.ResponseBody([]byte(usage), true); err != nil {
		t.Fatal(err)
	}
	s.Finish(200, nil)

	evs := drain(sub)
	prog := ofKind(evs, observe.KindProgress)
	// The first token comes at 50 ms; chunks at 300, 550, ... 1800 ms: 7 events over 1.95 s.
	if len(prog) != 7 {
		t.Fatalf("%d progress events, want 7 (one per 250 ms after the first token)", len(prog))
	}
	var last time.Time
	var lastTokens int64
	for i, ev := range prog {
		if ev.ID != "req-p" || ev.Progress == nil {
			t.Fatalf("progress event %+v", ev)
		}
		if i > 0 && ev.Time.Sub(last) < observe.ProgressInterval {
			t.Errorf("progress %d came %s after the previous one", i, ev.Time.Sub(last))
		}
		sent := int64(ev.Time.Sub(clock.t.Add(-chunks*50*time.Millisecond)) / (50 * time.Millisecond))
		if p := ev.Progress; !p.Estimated || p.OutputTokens <= lastTokens || p.OutputTokens != sent {
			t.Errorf("progress %d: %+v after %d content events (previous %d)", i, p, sent, lastTokens)
		}
		last, lastTokens = ev.Time, ev.Progress.OutputTokens
	}
	// Order: first token, progress..., end.
	if evs[len(evs)-1].Kind != observe.KindEnd || evs[len(evs)-1].End.Usage.OutputTokens != 40 {
		t.Errorf("last event %+v", evs[len(evs)-1])
	}
	for i, ev := range evs {
		if ev.Kind == observe.KindFirstToken && (i+1 >= len(evs) || evs[i+1].Kind != observe.KindProgress) {
			t.Errorf("the first token is not followed by progress: %v", kinds(evs))
		}
	}
}

// TestProgressFromRunningUsage: when the provider reports usage on every chunk, progress carries
// its count, not an estimate.
func TestProgressFromRunningUsage(t *testing.T) {
	hub := observe.NewHub(1024, 1024)
	sub, _ := hub.Subscribe(0)
	defer sub.Close()
	clock := newFakeClock()
	s, a := streamingAttempt(t, hub, clock)
	for i := 1; i <= 12; i++ {
		clock.add(100 * time.Millisecond)
		// Three tokens per chunk: more than one event each, so the estimate is the smaller.
		if _, err := a.ResponseBody([]byte(contentChunk(3*i)), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.ResponseBody([]byte("data: [DONE]\n\n"), true); err != nil {
		t.Fatal(err)
	}
	s.Finish(200, nil)
	prog := ofKind(drain(sub), observe.KindProgress)
	if len(prog) == 0 {
		t.Fatal("no progress events")
	}
	for _, ev := range prog {
		elapsed := int(ev.Time.Sub(clock.t.Add(-12*100*time.Millisecond)) / (100 * time.Millisecond))
		if p := ev.Progress; p.Estimated || p.OutputTokens != int64(3*elapsed) {
			t.Errorf("progress at chunk %d: %+v, want %d reported tokens", elapsed, p, 3*elapsed)
		}
	}
}

// TestNoProgressWithoutHub: without a hub, streams publish nothing and count nothing.
func TestNoProgressWithoutHub(t *testing.T) {
	clock := newFakeClock()
	_, a := streamingAttempt(t, nil, clock)
	for i := 0; i < 10; i++ {
		clock.add(time.Second)
		if _, err := a.ResponseBody([]byte(contentChunk(0)), false); err != nil {
			t.Fatal(err)
		}
	}
	if a.obs.sent != 0 || a.obs.tokens != 0 {
		t.Errorf("progress was counted without a hub: %+v", a.obs)
	}
}

// TestAttemptEndOnFallback: an attempt the data plane reports as failed, by status or by a
// connection error, publishes its outcome before the next attempt; the answer that reached the
// client has its outcome in the end event only.
func TestAttemptEndOnFallback(t *testing.T) {
	hub := observe.NewHub(64, 64)
	sub, _ := hub.Subscribe(0)
	defer sub.Close()
	a, b, c := openAI("a"), openAI("b"), openAI("c")
	p := New(ruleModel(&config.BackendRef{Backend: a, Weight: 1}, &config.BackendRef{Backend: b, Weight: 1, Priority: 1},
		&config.BackendRef{Backend: c, Weight: 1, Priority: 2}), nil, WithHub(hub))
	clock := newFakeClock()
	p.now, p.since = clock.now, clock.since
	s := p.NewStream(translate.EndpointChatCompletions)
	s.RequestHeaders("req-f", "h", http.Header{})
	if err := s.RequestBody("application/json", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)); err != nil {
		t.Fatal(err)
	}
	cands := s.Candidates()
	first, err := s.Attempt(context.Background(), cands[0])
	if err != nil {
		t.Fatal(err)
	}
	clock.add(120 * time.Millisecond)
	first.Done(http.StatusServiceUnavailable, nil)
	first.Done(http.StatusBadGateway, errors.New("reported twice")) // only the first report counts
	second, err := s.Attempt(context.Background(), cands[1])
	if err != nil {
		t.Fatal(err)
	}
	clock.add(30 * time.Millisecond)
	second.Done(0, errors.New(`upstream unreachable: backend b: Post "https://b.example/v1/chat/completions?key=sk-secret": dial tcp: connection refused`))
	third, err := s.Attempt(context.Background(), cands[2])
	if err != nil {
		t.Fatal(err)
	}
	third.ResponseError(http.StatusBadRequest, http.Header{}, []byte(`{"error":{"message":"bad"}}`))
	s.Finish(http.StatusBadRequest, errors.New("backend c: 400 Bad Request"))

	evs := drain(sub)
	ends := ofKind(evs, observe.KindAttemptEnd)
	if len(ends) != 2 {
		t.Fatalf("%d attempt_end events, want 2: %v", len(ends), kinds(evs))
	}
	if e := ends[0].AttemptEnd; e.Try != 1 || e.Backend != "a" || e.Status != 503 || e.Error != "" || e.Duration != 120*time.Millisecond {
		t.Errorf("first attempt's end %+v", e)
	}
	e := ends[1].AttemptEnd
	if e.Try != 2 || e.Backend != "b" || e.Status != 0 || e.Duration != 30*time.Millisecond || !strings.Contains(e.Error, "connection refused") {
		t.Errorf("second attempt's end %+v", e)
	}
	if strings.Contains(e.Error, "sk-secret") || !strings.Contains(e.Error, `"https://b.example/v1/chat/completions"`) {
		t.Errorf("the error kept the URL's query or lost the URL: %s", e.Error)
	}
	want := []observe.Kind{observe.KindStart, observe.KindAttempt, observe.KindAttemptEnd, observe.KindAttempt,
		observe.KindAttemptEnd, observe.KindAttempt, observe.KindEnd}
	if fmt.Sprint(kinds(evs)) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", kinds(evs), want)
	}
}

// TestShortError: errors are cut to a bounded length at a rune boundary, and every URL in them
// loses its query and fragment.
func TestShortError(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{`Get "http://h/p?api_key=x": EOF`, `Get "http://h/p": EOF`},
		{`a https://h/x?k=1 and http://g/y#f end`, `a https://h/x and http://g/y end`},
		{`trailing http://h/p?k`, `trailing http://h/p`},
	}
	for _, c := range cases {
		if got := shortError(c.in); got != c.want {
			t.Errorf("shortError(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("é", 200)
	got := shortError(long)
	if len(got) > maxEventError+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("long error cut to %d bytes: %q", len(got), got)
	}
}

func kinds(evs []*observe.Event) []observe.Kind {
	out := make([]observe.Kind, len(evs))
	for i, ev := range evs {
		out[i] = ev.Kind
	}
	return out
}
