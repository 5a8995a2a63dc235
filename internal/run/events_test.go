package run

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/observe"
)

// fakeChat answers every chat completion with a fixed body and usage.
func fakeChat(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":200,"total_tokens":1200}}`)
	}))
	t.Cleanup(up.Close)
	return up
}

// sseEvents reads server-sent events from r into out until r ends.
func sseEvents(r io.Reader, out chan<- *observe.Event) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			ev := &observe.Event{}
			if json.Unmarshal([]byte(data), ev) == nil {
				out <- ev
			}
		}
	}
}

// TestEventsUnderLoadWithSlowReader: a subscriber that never reads does not slow requests down;
// its lost events are counted in /metrics, while /stats (fed without loss) counts every request
// and a reading subscriber sees events in order with their schema version.
func TestEventsUnderLoadWithSlowReader(t *testing.T) {
	up := fakeChat(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1")})

	// The slow reader: a raw connection with a tiny receive buffer that never reads.
	slow, err := net.Dial("tcp", strings.TrimPrefix(g.Admin, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_ = slow.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(slow, "GET /events HTTP/1.1\r\nHost: aigw\r\n\r\n")

	fastResp, err := http.Get(g.Admin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer fastResp.Body.Close()
	if ct := fastResp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	fast := make(chan *observe.Event, 1<<16)
	go sseEvents(fastResp.Body, fast)
	waitFor(t, "two subscribers", func() bool { return strings.Contains(g.metrics(t), "aigw_events_subscribers 2") })

	const requests, workers = 5000, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	failures := 0
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requests/workers; i++ {
				t0 := time.Now()
				resp, err := http.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(body))
				d := time.Since(t0)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				slowest = max(slowest, d)
				if !ok {
					failures++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failures > 0 {
		t.Fatalf("%d of %d requests failed", failures, requests)
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest request took %s with a stuck subscriber", slowest)
	}
	t.Logf("%d requests in %s (slowest %s)", requests, elapsed, slowest)

	waitFor(t, "dropped events counted", func() bool {
		for _, line := range strings.Split(g.metrics(t), "\n") {
			if v, ok := strings.CutPrefix(line, "aigw_events_dropped_total "); ok {
				n, _ := strconv.ParseFloat(v, 64)
				return n > 0
			}
		}
		return false
	})
	t.Log(grepLines(g.metrics(t), "aigw_events"))

	// /stats counts every request: it is fed by the lossless queue, not the hub.
	waitFor(t, "stats of every request", func() bool {
		var st observe.StatsSnapshot
		getJSON(t, g.Admin+"/stats", &st)
		return st.Total.Requests == requests
	})
	var st observe.StatsSnapshot
	getJSON(t, g.Admin+"/stats", &st)
	row := st.Models["gpt-4o-mini"]
	if row.Requests != requests || row.Tokens.InputTokens != 1000*requests || row.Tokens.OutputTokens != 200*requests || row.Latency == nil || row.Latency.P95 < row.Latency.P50 {
		t.Errorf("model row %+v", row)
	}
	if st.Backends["openai"].Requests != requests || st.Routes == nil {
		t.Errorf("backends %+v routes %+v", st.Backends, st.Routes)
	}

	// The reading subscriber got events in increasing order, every kind of them.
	var last uint64
	kinds := map[observe.Kind]int{}
	for drained := false; !drained; {
		select {
		case ev := <-fast:
			if ev.Seq <= last || ev.V != observe.SchemaVersion {
				t.Fatalf("event %d (v%d) after %d", ev.Seq, ev.V, last)
			}
			last = ev.Seq
			kinds[ev.Kind]++
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	if kinds[observe.KindStart] == 0 || kinds[observe.KindAttempt] == 0 || kinds[observe.KindEnd] == 0 {
		t.Errorf("reader saw %v", kinds)
	}
}

// TestEventsReplay: ?since=N replays the buffered events after N, then streams live ones.
func TestEventsReplay(t *testing.T) {
	up := fakeChat(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1")})
	for i := 0; i < 3; i++ {
		post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "req-"+strconv.Itoa(i))
	}
	// 3 requests × (start, attempt, end); wait for the last end to be published.
	var st observe.StatsSnapshot
	waitFor(t, "three requests", func() bool { getJSON(t, g.Admin+"/stats", &st); return st.Total.Requests == 3 })

	for _, c := range []struct {
		query string
		first uint64
	}{{"?since=0", 1}, {"?since=4", 5}, {"?last=3", 7}} {
		resp, err := http.Get(g.Admin + "/events" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		evs := make(chan *observe.Event, 64)
		go sseEvents(resp.Body, evs)
		ev := <-evs
		if ev.Seq != c.first {
			t.Errorf("%s: first event %d, want %d", c.query, ev.Seq, c.first)
		}
		var got []*observe.Event
		got = append(got, ev)
		for len(got) < int(10-c.first) {
			got = append(got, <-evs)
		}
		if end := got[len(got)-1]; end.Kind != observe.KindEnd || end.ID != "req-2" || end.End.Usage.InputTokens != 1000 {
			t.Errorf("%s: last replayed %+v", c.query, end)
		}
		resp.Body.Close()
	}
	if resp, _ := http.Get(g.Admin + "/events?since=x"); resp == nil || resp.StatusCode != 400 {
		t.Error("a bad since was accepted")
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
