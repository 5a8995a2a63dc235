package observe

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// spanBatcher is the span processor in front of the OTLP/HTTP exporter, in place of the SDK's
// batch span processor. That one queues the finished spans and encodes them when a batch leaves,
// up to a second later: by then a span's attributes (some forty strings each, scattered over the
// heap) have left the CPU caches, and the encoding missed them one by one: about 9 µs of CPU a
// request, a quarter of what tracing cost (profile of BenchmarkTracingOverhead, December 2026).
// spanBatcher encodes each span in OnEnd, where the describer has just built it, and keeps the
// bytes; a batch is then one copy into the request. Holding bytes rather than span snapshots also
// leaves the garbage collector nothing to scan in the queue.
//
// It keeps the SDK processor's contract: batches of at most maxBatch spans leave every delay or
// as soon as one is full; a span that finds maxQueue spans waiting is dropped and counted; export
// never holds up the span's End.
type spanBatcher struct {
	exp    *httpSpanExporter
	set    batchSettings
	failed *atomic.Int64 // spans dropped or not delivered

	mu      sync.Mutex
	cur     *spanChunk   // being filled
	ready   []*spanChunk // full, waiting for the exporter
	queued  int          // spans in cur and ready
	spare   []*spanChunk
	stopped bool

	kick    chan struct{}      // a chunk is ready
	flushes chan chan struct{} // export everything, then close the channel
	quit    chan struct{}
	done    chan struct{}
	stop    sync.Once
	// base is the exports' context, cancelled when a Shutdown runs out of time.
	base   context.Context
	cancel context.CancelFunc
}

var _ sdktrace.SpanProcessor = (*spanBatcher)(nil)

// spanChunk is encoded spans of one resource and scope: each a ScopeSpans.spans field.
type spanChunk struct {
	res   *resource.Resource
	scope instrumentation.Scope
	spans []byte
	n     int
}

// maxKeptChunk bounds the buffer a chunk keeps for reuse.
const maxKeptChunk = 4 << 20

func newSpanBatcher(exp *httpSpanExporter, set batchSettings, failed *atomic.Int64) *spanBatcher {
	b := &spanBatcher{exp: exp, set: set, failed: failed,
		kick: make(chan struct{}, 1), flushes: make(chan chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	b.base, b.cancel = context.WithCancel(context.Background())
	go b.run()
	return b
}

func (b *spanBatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd encodes s into the chunk being filled.
func (b *spanBatcher) OnEnd(s sdktrace.ReadOnlySpan) {
	w := wireOf(s)
	b.add(s.Resource(), s.InstrumentationScope(), &w)
}

// add encodes a finished span of res and scope into the chunk being filled, if it is sampled.
func (b *spanBatcher) add(res *resource.Resource, scope instrumentation.Scope, w *wireSpan) {
	if !w.sc.IsSampled() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.queued >= b.set.maxQueue {
		b.failed.Add(1)
		return
	}
	if c := b.cur; c != nil && (c.scope != scope || !sameResource(c.res, res)) {
		b.seal()
	}
	if b.cur == nil {
		b.cur = b.chunk(res, scope)
	}
	b.cur.spans = appendWireSpanField(b.cur.spans, w)
	b.cur.n++
	b.queued++
	if b.cur.n >= b.set.maxBatch {
		b.seal()
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// chunk is an empty chunk for spans of res and scope, reusing a spare one. b.mu is held.
func (b *spanBatcher) chunk(res *resource.Resource, scope instrumentation.Scope) *spanChunk {
	if n := len(b.spare); n > 0 {
		c := b.spare[n-1]
		b.spare = b.spare[:n-1]
		c.res, c.scope = res, scope
		return c
	}
	return &spanChunk{res: res, scope: scope}
}

// seal moves the chunk being filled to the ready ones. b.mu is held.
func (b *spanBatcher) seal() {
	if b.cur != nil && b.cur.n > 0 {
		b.ready = append(b.ready, b.cur)
		b.cur = nil
	}
}

// run exports what is ready when a chunk fills, every delay, and on a flush, until quit.
func (b *spanBatcher) run() {
	defer close(b.done)
	tick := time.NewTicker(b.set.delay)
	defer tick.Stop()
	for {
		var flushed chan struct{}
		select {
		case <-b.kick:
		case <-tick.C:
			b.mu.Lock()
			b.seal()
			b.mu.Unlock()
		case flushed = <-b.flushes:
			b.mu.Lock()
			b.seal()
			b.mu.Unlock()
		case <-b.quit:
			b.mu.Lock()
			b.seal()
			b.mu.Unlock()
			b.exportReady()
			return
		}
		b.exportReady()
		if flushed != nil {
			close(flushed)
		}
	}
}

// exportReady exports the ready chunks one request each, oldest first.
func (b *spanBatcher) exportReady() {
	for {
		b.mu.Lock()
		if len(b.ready) == 0 {
			b.mu.Unlock()
			return
		}
		c := b.ready[0]
		b.ready = append(b.ready[:0], b.ready[1:]...)
		b.queued -= c.n
		b.mu.Unlock()

		ctx, cancel := context.WithTimeout(b.base, b.set.timeout)
		if err := b.exp.send(ctx, func(dst []byte) []byte { return appendChunkRequest(dst, c) }); err != nil {
			b.failed.Add(int64(c.n))
		}
		cancel()

		c.spans, c.n, c.res = c.spans[:0], 0, nil
		if cap(c.spans) > maxKeptChunk {
			c.spans = nil
		}
		b.mu.Lock()
		b.spare = append(b.spare, c)
		b.mu.Unlock()
	}
}

// ForceFlush exports every span that has ended, waiting until ctx is done at most.
func (b *spanBatcher) ForceFlush(ctx context.Context) error {
	flushed := make(chan struct{})
	select {
	case b.flushes <- flushed:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is left, until ctx is done at most, then stops; spans that end
// afterwards are dropped.
func (b *spanBatcher) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.stop.Do(func() { close(b.quit) })
	var err error
	select {
	case <-b.done:
	case <-ctx.Done():
		// Out of time: the export under way and those left fail at once (and are counted).
		err = ctx.Err()
		b.cancel()
		<-b.done
	}
	b.cancel()
	return errors.Join(err, b.exp.Shutdown(ctx))
}

// appendChunkRequest appends the ExportTraceServiceRequest of c's spans: the bytes
// appendTraceRequest writes for the same spans, with the lengths known before the spans are
// copied, so they are copied once.
func appendChunkRequest(b []byte, c *spanChunk) []byte {
	var head [2][]byte
	resHead := appendResourceField(head[0][:0], c.res)
	scopeHead := appendScopeField(head[1][:0], c.scope)
	scopeLen := len(scopeHead) + len(c.spans) + stringField(3, c.scope.SchemaURL)
	resSchema := ""
	if c.res != nil {
		resSchema = c.res.SchemaURL()
	}
	resLen := len(resHead) + lenField(2, scopeLen) + stringField(3, resSchema)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(resLen))
	b = append(b, resHead...)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(scopeLen))
	b = append(b, scopeHead...)
	b = append(b, c.spans...)
	b = appendString(b, 3, c.scope.SchemaURL)
	return appendString(b, 3, resSchema)
}
