package observe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// rawCollector keeps the bodies it is sent, as sent.
type rawCollector struct {
	bodies chan []byte
	status int
	hold   chan struct{} // when set, each request waits for it to close
}

func (c *rawCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if c.hold != nil {
		<-c.hold
	}
	c.bodies <- b
	if c.status != 0 {
		http.Error(w, "no", c.status)
	}
}

func newTestBatcher(t *testing.T, c *rawCollector, set batchSettings, failed *atomic.Int64) *spanBatcher {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	exp, err := newHTTPSpanExporter(otlpSettings{endpoint: srv.URL + "/v1/traces", insecure: true, timeout: 5 * time.Second}, tlsSettings{}, "")
	if err != nil {
		t.Fatal(err)
	}
	b := newSpanBatcher(exp, set, failed)
	t.Cleanup(func() {
		if c.hold != nil {
			select {
			case <-c.hold:
			default:
				close(c.hold)
			}
		}
		_ = b.Shutdown(context.Background())
	})
	return b
}

// TestSpanBatcherBytes: the batcher's requests are byte for byte what the exporter encodes for
// the same spans (the encoding TestOTLPWireMatchesSDK holds to the SDK's), one request per run of
// spans sharing a resource and scope.
func TestSpanBatcherBytes(t *testing.T) {
	spans := wireSpans(t)
	c := &rawCollector{bodies: make(chan []byte, 10)}
	var failed atomic.Int64
	b := newTestBatcher(t, c, batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 100, maxBatch: 100}, &failed)
	for _, s := range spans {
		b.OnEnd(s)
	}
	if err := b.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// wireSpans: two spans of resource 1 and scope 1, then one each of other pairs.
	for i, run := range [][]sdktrace.ReadOnlySpan{spans[:2], spans[2:3], spans[3:4], spans[4:5]} {
		select {
		case got := <-c.bodies:
			if want := appendTraceRequest(nil, run); string(got) != string(want) {
				t.Errorf("request %d: %d bytes differ from the exporter's %d", i, len(got), len(want))
			}
		default:
			t.Fatalf("request %d missing", i)
		}
	}
	if failed.Load() != 0 {
		t.Errorf("%d failed", failed.Load())
	}
}

// TestSpanBatcherLimits: batches of at most maxBatch leave as soon as full or after the delay; a
// span that finds the queue full is dropped and counted without waiting; a refused export is
// counted; Shutdown exports what is left and drops what ends after it.
func TestSpanBatcherLimits(t *testing.T) {
	spans := wireSpans(t)[:2]
	count := func(t *testing.T, body []byte) int {
		t.Helper()
		var r coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return len(r.ResourceSpans[0].ScopeSpans[0].Spans)
	}
	t.Run("full batches and the delay", func(t *testing.T) {
		c := &rawCollector{bodies: make(chan []byte, 10)}
		var failed atomic.Int64
		b := newTestBatcher(t, c, batchSettings{delay: 50 * time.Millisecond, timeout: time.Second, maxQueue: 100, maxBatch: 2}, &failed)
		for i := range 5 {
			b.OnEnd(spans[i%2])
		}
		for i, want := range []int{2, 2, 1} {
			select {
			case body := <-c.bodies:
				if n := count(t, body); n != want {
					t.Errorf("request %d: %d spans, want %d", i, n, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("request %d did not come", i)
			}
		}
	})
	t.Run("queue full", func(t *testing.T) {
		c := &rawCollector{bodies: make(chan []byte, 10), hold: make(chan struct{})}
		var failed atomic.Int64
		b := newTestBatcher(t, c, batchSettings{delay: time.Hour, timeout: 10 * time.Second, maxQueue: 3, maxBatch: 1}, &failed)
		b.OnEnd(spans[0]) // taken by the exporter, which the collector holds
		deadline := time.Now().Add(5 * time.Second)
		for {
			b.mu.Lock()
			q := b.queued
			b.mu.Unlock()
			if q == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the first batch did not leave")
			}
			time.Sleep(time.Millisecond)
		}
		t0 := time.Now()
		for range 5 {
			b.OnEnd(spans[1])
		}
		if took := time.Since(t0); took > time.Second {
			t.Errorf("OnEnd waited %s for a held exporter", took)
		}
		if failed.Load() != 2 {
			t.Errorf("%d dropped, want 2 (queue of 3)", failed.Load())
		}
		close(c.hold)
		if err := b.ForceFlush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := len(c.bodies); n != 4 {
			t.Errorf("%d requests, want 4", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		c := &rawCollector{bodies: make(chan []byte, 10), status: http.StatusBadRequest}
		var failed atomic.Int64
		b := newTestBatcher(t, c, batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 10, maxBatch: 10}, &failed)
		b.OnEnd(spans[0])
		b.OnEnd(spans[1])
		if err := b.ForceFlush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if failed.Load() != 2 {
			t.Errorf("%d failed, want 2", failed.Load())
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		c := &rawCollector{bodies: make(chan []byte, 10)}
		var failed atomic.Int64
		b := newTestBatcher(t, c, batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 10, maxBatch: 10}, &failed)
		b.OnEnd(spans[0])
		if err := b.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(c.bodies) != 1 {
			t.Fatalf("%d requests at shutdown, want 1", len(c.bodies))
		}
		b.OnEnd(spans[1])
		if failed.Load() != 1 {
			t.Errorf("a span ended after shutdown: %d dropped, want 1", failed.Load())
		}
		if err := b.ForceFlush(t.Context()); err != nil {
			t.Errorf("flush after shutdown: %v", err)
		}
	})
}
