package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/proxy"
	"github.com/aigw/aigw/internal/run"
)

// The soak (issue 18): memory before, during and after a hostile provider's ~1 GB of gzipped
// output (whole streams, and compression bombs against the non-streamed body limit) and a
// flood of clients whose request bodies never finish. What aigw holds for these is bounded by
// its limits, so the heap must come back to where it started.
const (
	soakStreamBytes  = 16 << 20  // decompressed size of one streamed answer
	soakStreams      = 64        // 64 x 16 MiB = 1 GiB through the stream path
	soakBombBytes    = 256 << 20 // decompressed size of one gzip bomb (about 256 KiB on the wire)
	soakBombs        = 8         // 2 GiB offered to the non-streamed path, cut at its limit
	soakConcurrency  = 4
	soakSlowConns    = 500
	soakBodyTimeout  = time.Second
	soakUpstreamMax  = 64 << 20
	soakHeapSlackMiB = 32 // how far above its starting point the heap may settle
)

// soakSection runs the soak and fails when the heap does not come back down.
func soakSection(ctx context.Context, cfg Config) error {
	stream, bomb, err := soakBodies()
	if err != nil {
		return err
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Encoding", "gzip")
		if bytes.Contains(req, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(stream)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bomb)
	})}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = up.Serve(upLn) }()
	defer up.Close()

	tmp, err := os.MkdirTemp("", "aigw-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	gw, err := startLimitedGateway(ctx, "http://"+upLn.Addr().String()+"/v1", tmp)
	if err != nil {
		return err
	}
	defer gw.stop()

	before := settledMemory()
	type phase struct {
		name, what, ok string
		run            func() error
		err            error
		took           time.Duration
		heap, rss      uint64
	}
	var relayed atomic.Int64
	phases := []*phase{
		{name: "streams", what: fmt.Sprintf("%d x %d MiB gzipped SSE, %d at once", soakStreams, soakStreamBytes>>20, soakConcurrency),
			run: func() error { return soakLoad(ctx, gw.url, soakStreams, true, &relayed) }},
		{name: "bombs", what: fmt.Sprintf("%d x %d MiB gzip bombs (%d KiB each), %d at once, limit %d MiB", soakBombs, soakBombBytes>>20, len(bomb)>>10, soakConcurrency, soakUpstreamMax>>20),
			ok: "every one a 502", run: func() error { return soakLoad(ctx, gw.url, soakBombs, false, nil) }},
		{name: "slow bodies", what: fmt.Sprintf("%d connections that never finish their body, timeout %s", soakSlowConns, soakBodyTimeout),
			ok: "every one a 408, closed", run: func() error { return slowBodyFlood(ctx, gw.url, soakSlowConns) }},
	}
	for _, ph := range phases {
		runtime.GC() // so each phase's peak is its own, not the last phase's garbage
		var peak peakWatch
		peak.start()
		start := time.Now()
		ph.err = ph.run()
		ph.took = time.Since(start)
		ph.heap, ph.rss = peak.stop()
	}
	phases[0].ok = fmt.Sprintf("%.0f MiB relayed", float64(relayed.Load())/(1<<20))
	after := settledMemory()

	tb := Table{Title: "soak: hostile provider output and slow request bodies (one process: load, provider, aigw)",
		Header: []string{"phase", "what", "time", "peak heap", "peak RSS", "result"}}
	for _, ph := range phases {
		tb.Add(ph.name, ph.what, since2(ph.took), fmtBytes(ph.heap), fmtBytes(ph.rss), resultText(ph.err, ph.ok))
	}
	tb.Notes = append(tb.Notes,
		fmt.Sprintf("Go heap before %s, after %s; RSS before %s, after %s (after a GC and returning freed memory to the OS)",
			fmtBytes(before.heap), fmtBytes(after.heap), fmtBytes(before.rss), fmtBytes(after.rss)),
		fmt.Sprintf("flat: the heap settles within %d MiB of where it started: %s", soakHeapSlackMiB, verdict(after.heap <= before.heap+soakHeapSlackMiB<<20)))
	if err := tb.Fprint(cfg.Out); err != nil {
		return err
	}
	errs := errors.Join(phases[0].err, phases[1].err, phases[2].err)
	if after.heap > before.heap+soakHeapSlackMiB<<20 {
		errs = errors.Join(errs, fmt.Errorf("heap did not come back: %s before, %s after", fmtBytes(before.heap), fmtBytes(after.heap)))
	}
	return errs
}

func resultText(err error, ok string) string {
	if err != nil {
		return "FAIL: " + err.Error()
	}
	return ok
}

func since2(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

// soakBodies builds the provider's two answers once, gzipped: a long, well-formed chat stream
// and a JSON body that decompresses far past the gateway's limit.
func soakBodies() (stream, bomb []byte, err error) {
	var sb bytes.Buffer
	zw := gzip.NewWriter(&sb)
	event := []byte(`data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"` + strings.Repeat("lorem ipsum ", 80) + `"}}],"usage":null}` + "\n\n")
	for n := 0; n < soakStreamBytes; n += len(event) {
		if _, err := zw.Write(event); err != nil {
			return nil, nil, err
		}
	}
	_, _ = io.WriteString(zw, `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":100,"total_tokens":105}}`+"\n\ndata: [DONE]\n\n")
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	var bb bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&bb, gzip.BestCompression)
	_, _ = io.WriteString(zw, `{"id":"x","object":"chat.completion","pad":"`)
	zeros := make([]byte, 1<<20)
	for i := range zeros {
		zeros[i] = '0'
	}
	for n := 0; n < soakBombBytes; n += len(zeros) {
		_, _ = zw.Write(zeros)
	}
	_, _ = io.WriteString(zw, `"}`)
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return sb.Bytes(), bb.Bytes(), nil
}

// soakLoad sends n requests, soakConcurrency at once: streams must arrive whole (ending in
// [DONE]), bombs must be 502s.
func soakLoad(ctx context.Context, url string, n int, stream bool, relayed *atomic.Int64) error {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < soakConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := soakOne(ctx, url, stream, relayed); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func soakOne(ctx context.Context, url string, stream bool, relayed *atomic.Int64) error {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	if stream {
		body = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !stream {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusBadGateway || !bytes.Contains(b, []byte("larger than")) {
			return fmt.Errorf("bomb answered %d: %.200s", resp.StatusCode, b)
		}
		return nil
	}
	tail := make([]byte, 0, 64)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		relayed.Add(int64(n))
		if n > 0 {
			tail = append(tail, buf[max(0, n-64):n]...)
			tail = tail[max(0, len(tail)-64):]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
	}
	if resp.StatusCode != 200 || !bytes.Contains(tail, []byte("[DONE]")) {
		return fmt.Errorf("stream answered %d, ending %q", resp.StatusCode, tail)
	}
	return nil
}

// slowBodyFlood opens n connections that send their headers and part of a body, then stall;
// each must get its 408 and be closed once the body timeout passes.
func slowBodyFlood(ctx context.Context, url string, n int) error {
	addr := strings.TrimPrefix(url, "http://")
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"model\":\"gpt-4o\",\"messages\":["); err != nil {
			return err
		}
	}
	buf := make([]byte, 4096)
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(soakBodyTimeout*10 + 10*time.Second))
		var got []byte
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("slow connection %d: %w", i, err)
			}
		}
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 408")) {
			return fmt.Errorf("slow connection %d answered %.60q", i, got)
		}
	}
	return nil
}

// startLimitedGateway runs aigw in front of the hostile provider with a short body timeout.
func startLimitedGateway(ctx context.Context, baseURL, dir string) (*gateway, error) {
	dirs := config.Dirs{ConfigHome: filepath.Join(dir, "config"), DataHome: filepath.Join(dir, "data"),
		StateHome: filepath.Join(dir, "state"), RuntimeDir: filepath.Join(dir, "run")}
	env := map[string]string{"OPENAI_BASE_URL": baseURL, "OPENAI_API_KEY": "sk-soak"}
	ctx, cancel := context.WithCancel(ctx)
	g := &gateway{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan run.Ready, 1)
	go func() {
		g.done <- run.Run(ctx, run.Options{
			Dirs: dirs, Host: "127.0.0.1", AdminHost: "127.0.0.1", ShutdownGrace: 2 * time.Second,
			Limits:  proxy.Limits{RequestBodyTimeout: soakBodyTimeout, MaxUpstreamBodyBytes: soakUpstreamMax},
			Getenv:  func(k string) string { return env[k] },
			OnReady: func(r run.Ready) { ready <- r },
		})
	}()
	select {
	case r := <-ready:
		g.url = r.Gateway
		if err := checkLocal(g.url); err != nil {
			_ = g.stop()
			return nil, err
		}
		return g, nil
	case err := <-g.done:
		cancel()
		return nil, fmt.Errorf("starting aigw: %w", err)
	case <-time.After(20 * time.Second):
		cancel()
		return nil, errors.New("starting aigw: not ready after 20s")
	}
}

type memPoint struct{ heap, rss uint64 }

// settledMemory collects garbage, returns freed memory to the OS, and reads the heap and RSS.
func settledMemory() memPoint {
	time.Sleep(200 * time.Millisecond) // let handlers and connections finish closing
	runtime.GC()
	debug.FreeOSMemory()
	rss, _ := procStatus("VmRSS")
	return memPoint{heap: heapNow(), rss: rss}
}

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// peakWatch samples the heap and RSS every 20ms.
type peakWatch struct {
	heap, rss uint64
	quit      chan struct{}
	done      chan struct{}
}

func (p *peakWatch) start() {
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			p.heap = max(p.heap, heapNow())
			if rss, err := procStatus("VmRSS"); err == nil {
				p.rss = max(p.rss, rss)
			}
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
		}
	}()
}

func (p *peakWatch) stop() (heap, rss uint64) {
	close(p.quit)
	<-p.done
	return p.heap, p.rss
}
