package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// maxTracingRatio is the target for tracing: aigw's added p50 with every signal exported to an
// OTLP receiver, over its added p50 with nothing exported.
const maxTracingRatio = 1.10

// Targets of the tracing section.
const (
	kindTraceOff = "aigw"
	kindTraceOn  = "aigw+otlp"
)

// tracingSection measures what exporting costs a request: the same gateway twice in front of the
// simulator, once with no OTEL_* variable and once exporting traces over OTLP/HTTP to a receiver
// in this process, rounds alternating as in the llm section. Besides latency it reports the CPU
// time per request, which is what the added latency is made of once the cores are busy, and
// checks that every span arrived (a dropped span is work not measured).
func tracingSection(ctx context.Context, cfg Config) error {
	tmp, simURL, cleanup, err := sectionSetup(ctx, cfg, "aigw-bench-tracing-")
	if err != nil {
		return err
	}
	defer cleanup()
	recv, err := startOTLPSink()
	if err != nil {
		return err
	}
	defer recv.stop()

	off, err := startGateway(ctx, map[string]string{"OPENAI_BASE_URL": simURL + "/v1"}, filepath.Join(tmp, "off"))
	if err != nil {
		return err
	}
	defer off.stop()
	on, err := startGateway(ctx, map[string]string{
		"OPENAI_BASE_URL":             simURL + "/v1",
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.url,
		// Traces only: what the budget is about. Metrics and logs exported too cost about
		// as much again (1.5-1.7x added p50 on a 2-core machine in November 2026).
		"OTEL_LOGS_EXPORTER":    "none",
		"OTEL_METRICS_EXPORTER": "none",
	}, filepath.Join(tmp, "on"))
	if err != nil {
		return err
	}
	defer on.stop()

	const bodyFormat = `{"model":%q,"max_tokens":%d,"stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`
	call := func(client *http.Client, base string, stream bool) func(context.Context) error {
		body := fmt.Appendf(nil, bodyFormat, llmModel, cfg.OutputTokens, stream)
		return httpCall(client, base+"/v1/chat/completions", nil, body, []byte(map[bool]string{true: "[DONE]", false: `"choices"`}[stream]))
	}
	// traced counts the traced gateway's answered requests, warm-up included: each should reach
	// the receiver as two spans (the request's and its attempt's). untraced counts the other's,
	// to read a CPU profile of the run per request (-cpuprofile, labels in startGateway).
	var traced, untraced atomic.Int64
	counted := func(n *atomic.Int64, do func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			err := do(ctx)
			if err == nil {
				n.Add(1)
			}
			return err
		}
	}
	var cells []*cell
	for _, stream := range []bool{false, true} {
		if cfg.Scenario != "" && cfg.Scenario != scenarioName("chat", stream) {
			continue
		}
		for _, c := range cfg.Concurrency {
			cells = append(cells, &cell{scenario: scenarioName("chat", stream), stream: stream, conc: c, targets: []target{
				{kindDirect, call(newClient(c), simURL, stream)},
				{kindTraceOff, counted(&untraced, call(newClient(c), off.url, stream))},
				{kindTraceOn, counted(&traced, call(newClient(c), on.url, stream))},
			}})
		}
	}
	warm(ctx, cfg, cells)
	cfg.Rounds = cfg.TracingRounds
	cpu, err := tracingRounds(ctx, cfg, cells)
	if err != nil {
		return err
	}
	// Spans wait up to the batch timeout (1 s) in the gateway before they are exported.
	for deadline := time.Now().Add(5 * time.Second); recv.spans.Load() < 2*traced.Load() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	return tracingReport(cfg, cells, cpu, recv, traced.Load(), untraced.Load())
}

// tracingRounds is runRounds, also measuring the process's CPU time over each target's
// segment: per cell and target, the CPU time and the requests answered in all rounds.
func tracingRounds(ctx context.Context, cfg Config, cells []*cell) (map[*cell][]cpuUse, error) {
	cpu := map[*cell][]cpuUse{}
	for _, c := range cells {
		cpu[c] = make([]cpuUse, len(c.targets))
	}
	for r := range cfg.Rounds {
		for _, c := range cells {
			if c.err != nil {
				continue
			}
			for k := range c.targets {
				i := (k + r) % len(c.targets)
				before := processUse()
				var res result
				// The load goroutines are labelled with their target too (see startGateway).
				pprof.Do(ctx, pprof.Labels("load", c.targets[i].kind), func(ctx context.Context) {
					res = runLoad(ctx, c.conc, cfg.MaxRequests, cfg.Duration, c.targets[i].call)
				})
				after, u := processUse(), &cpu[c][i]
				u.time += after.time - before.time
				u.gc += after.gc - before.gc
				u.sys += after.sys - before.sys
				u.faults += after.faults - before.faults
				u.requests += len(res.lat)
				c.results[i] = append(c.results[i], res)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stopped in round %d: %w", r+1, err)
		}
	}
	return cpu, nil
}

// cpuUse is the CPU time this process used while one target was under load, and the requests
// it answered meanwhile.
type cpuUse struct {
	time     time.Duration
	gc, sys  time.Duration // of time: the garbage collector's (as the runtime estimates it), the kernel's
	faults   int64         // minor page faults
	requests int
}

// processUse is what this process has used so far (requests not counted): its CPU time, the
// part the runtime estimates its garbage collector took, the kernel's part, its page faults.
func processUse() cpuUse {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	u := cpuUse{time: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), sys: time.Duration(ru.Stime.Nano()), faults: ru.Minflt}
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindFloat64 {
		u.gc = time.Duration(s[0].Value.Float64() * float64(time.Second))
	}
	return u
}

// per is d per request of u.
func (u cpuUse) per(d time.Duration) time.Duration {
	if u.requests == 0 {
		return 0
	}
	return d / time.Duration(u.requests)
}

func (u cpuUse) perRequest() time.Duration { return u.per(u.time) }

// tracingReport prints added p50 with and without export, and their ratio against the target,
// with the CPU time each request cost the machine.
func tracingReport(cfg Config, cells []*cell, cpu map[*cell][]cpuUse, recv *otlpSink, traced, untraced int64) error {
	var errs []error
	t := &Table{
		Title: fmt.Sprintf("Tracing cost: %d round(s) x %s per target, %d output tokens", cfg.Rounds, cfg.Duration, cfg.OutputTokens),
		Header: []string{"scenario", "conc", "direct p50", "aigw +p50", "aigw+otlp +p50", "added p50 otlp/off", fmt.Sprintf("<= %.2f", maxTracingRatio), "req/s otlp/off",
			"aigw +CPU/req", "aigw+otlp +CPU/req", "added CPU otlp/off"},
		Notes: []string{
			"aigw = no OTEL_* variable (nothing exported); aigw+otlp = every span exported over OTLP/HTTP to a receiver in this process (metrics and logs not exported)",
			"+p50 = p50 minus the simulator's own p50; +CPU/req = this process's CPU time per request while the target was under load (load generator, simulator, gateway, receiver) minus the same for the simulator alone",
			"everything shares this machine's cores: at high concurrency the CPU a request costs is what its latency is made of",
		},
	}
	var gcNotes []string
	for _, c := range cells {
		conc := strconv.Itoa(c.conc)
		if c.err != nil {
			t.Add(c.scenario, conc, "NOT MEASURED", c.err.Error())
			errs = append(errs, fmt.Errorf("%s c=%d: %w", c.scenario, c.conc, c.err))
			continue
		}
		direct, off, on := summarize(c.results[0]), summarize(c.results[1]), summarize(c.results[2])
		for i, s := range []stats{direct, off, on} {
			if s.errs > 0 {
				errs = append(errs, fmt.Errorf("%s c=%d %s: %d failed calls; first: %w", c.scenario, c.conc, c.targets[i].kind, s.errs, s.firstErr))
			}
		}
		addedOff, addedOn := off.p50-direct.p50, on.p50-direct.p50
		ratio := float64(addedOn) / float64(max(addedOff, time.Microsecond))
		u := cpu[c]
		cpuOff, cpuOn := u[1].perRequest()-u[0].perRequest(), u[2].perRequest()-u[0].perRequest()
		faults := func(u cpuUse) float64 { return float64(u.faults) / float64(max(u.requests, 1)) }
		gcNotes = append(gcNotes, fmt.Sprintf("%s c=%d: GC %s / %s / %s, kernel %s / %s / %s, page faults %.2f / %.2f / %.2f", c.scenario, c.conc,
			fmtDur(u[0].per(u[0].gc)), fmtDur(u[1].per(u[1].gc)), fmtDur(u[2].per(u[2].gc)),
			fmtDur(u[0].per(u[0].sys)), fmtDur(u[1].per(u[1].sys)), fmtDur(u[2].per(u[2].sys)),
			faults(u[0]), faults(u[1]), faults(u[2])))
		t.Add(c.scenario, conc, fmtDur(direct.p50), fmtAdded(addedOff), fmtAdded(addedOn),
			fmt.Sprintf("%.2f", ratio), verdict(ratio <= maxTracingRatio), fmt.Sprintf("%.2f", on.rps/max(off.rps, 1)),
			fmtAdded(cpuOff), fmtAdded(cpuOn), fmt.Sprintf("%.2f", float64(cpuOn)/float64(max(cpuOff, time.Microsecond))))
	}
	if len(gcNotes) > 0 {
		t.Notes = append(t.Notes, "CPU per request of the process, direct / aigw / aigw+otlp: "+strings.Join(gcNotes, "; "))
	}
	busy := time.Duration(recv.busy.Load())
	t.Notes = append(t.Notes, fmt.Sprintf("the receiver took %d export requests, %d spans for %d traced requests (%s), reading them for %s in all",
		recv.requests.Load(), recv.spans.Load(), traced, fmtBytes(uint64(recv.bytes.Load())), busy.Round(time.Millisecond)),
		fmt.Sprintf("requests answered, warm-up included: %s %d, %s %d", kindTraceOff, untraced, kindTraceOn, traced))
	if recv.requests.Load() == 0 {
		errs = append(errs, errors.New("the OTLP receiver got nothing: the traced gateway exported no telemetry"))
	} else if n := recv.spans.Load(); n < 2*traced {
		// A full export queue drops spans silently; a cheap-looking run that lost them measured
		// less than the work.
		t.Notes = append(t.Notes, fmt.Sprintf("WARNING: %d of %d spans did not arrive (dropped by a full export queue or still queued)", 2*traced-n, 2*traced))
	}
	errs = append(errs, t.Fprint(cfg.Out))
	return errors.Join(errs...)
}

// otlpSink is an OTLP/HTTP receiver that reads what it is sent, counts the spans in it and
// answers with an empty (valid) protobuf response, as a collector that keeps up would. It does
// no more than that, so that it costs the machine about what sending to a remote collector
// costs: the bytes crossing the socket.
type otlpSink struct {
	url                    string
	requests, bytes, spans atomic.Int64
	busy                   atomic.Int64 // nanoseconds spent reading and counting
	mu                     sync.Mutex
	buf                    bytes.Buffer // the request being read
	srv                    *http.Server
	done                   chan struct{}
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("otlp receiver listener: %w", err)
	}
	s := &otlpSink{url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		// Read into a buffer kept from one request to the next (the exporter sends one batch at a
		// time): a collector's memory is its own, and io.ReadAll's growing copies (twice each
		// batch's size), or a sync.Pool's buffer that each garbage collection empties, were
		// garbage and page faults the gateway's collector paid for in this shared process.
		s.mu.Lock()
		s.buf.Reset()
		_, _ = s.buf.ReadFrom(r.Body)
		s.spans.Add(int64(countSpans(s.buf.Bytes())))
		n := s.buf.Len()
		s.mu.Unlock()
		s.requests.Add(1)
		s.bytes.Add(int64(n))
		s.busy.Add(int64(time.Since(t0)))
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go pprof.Do(context.Background(), pprof.Labels("receiver", "otlp"), func(context.Context) {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	})
	return s, nil
}

func (s *otlpSink) stop() { s.srv.Close(); <-s.done }

// countSpans counts the spans of an ExportTraceServiceRequest (resource_spans = 1, their
// scope_spans = 2, their spans = 2) without decoding them.
func countSpans(b []byte) int {
	return countNested(b, 1, func(rs []byte) int {
		return countNested(rs, 2, func(ss []byte) int {
			return countNested(ss, 2, func([]byte) int { return 1 })
		})
	})
}

// countNested sums count over the length-delimited fields numbered field of message b.
func countNested(b []byte, field protowire.Number, count func([]byte) int) int {
	n := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return n
		}
		b = b[l:]
		if num == field && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return n
			}
			n += count(v)
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return n
		}
		b = b[l:]
	}
	return n
}
