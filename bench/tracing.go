package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
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
// in this process, rounds alternating as in the llm section.
func tracingSection(ctx context.Context, cfg Config) error {
	tmp, err := os.MkdirTemp("", "aigw-bench-tracing-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	simURL, stopSim, err := startSimulator(ctx, cfg.OutputTokens)
	if err != nil {
		return err
	}
	defer stopSim()
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
	var cells []*cell
	for _, stream := range []bool{false, true} {
		for _, c := range cfg.Concurrency {
			cells = append(cells, &cell{scenario: scenarioName("chat", stream), stream: stream, conc: c, targets: []target{
				{kindDirect, call(newClient(c), simURL, stream)},
				{kindTraceOff, call(newClient(c), off.url, stream)},
				{kindTraceOn, call(newClient(c), on.url, stream)},
			}})
		}
	}
	warm(ctx, cfg, cells)
	if err := runRounds(ctx, cfg, cells, nil); err != nil {
		return err
	}
	return tracingReport(cfg, cells, recv)
}

// tracingReport prints added p50 with and without export, and their ratio against the target.
func tracingReport(cfg Config, cells []*cell, recv *otlpSink) error {
	var errs []error
	t := &Table{
		Title:  fmt.Sprintf("Tracing cost: %d round(s) x %s per target, %d output tokens", cfg.Rounds, cfg.Duration, cfg.OutputTokens),
		Header: []string{"scenario", "conc", "direct p50", "aigw +p50", "aigw+otlp +p50", "added p50 otlp/off", fmt.Sprintf("<= %.2f", maxTracingRatio), "req/s otlp/off"},
		Notes: []string{
			"aigw = no OTEL_* variable (nothing exported); aigw+otlp = every span exported over OTLP/HTTP to a receiver in this process (metrics and logs not exported)",
			"+p50 = p50 minus the simulator's own p50",
		},
	}
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
		t.Add(c.scenario, conc, fmtDur(direct.p50), fmtAdded(addedOff), fmtAdded(addedOn),
			fmt.Sprintf("%.2f", ratio), verdict(ratio <= maxTracingRatio), fmt.Sprintf("%.2f", on.rps/max(off.rps, 1)))
	}
	t.Notes = append(t.Notes, fmt.Sprintf("the receiver took %d export requests (%s)", recv.requests.Load(), fmtBytes(uint64(recv.bytes.Load()))))
	if recv.requests.Load() == 0 {
		errs = append(errs, errors.New("the OTLP receiver got nothing: the traced gateway exported no telemetry"))
	}
	errs = append(errs, t.Fprint(cfg.Out))
	return errors.Join(errs...)
}

// otlpSink is an OTLP/HTTP receiver that reads and counts what it is sent and answers with an
// empty (valid) protobuf response, as a collector that keeps up would.
type otlpSink struct {
	url             string
	requests, bytes atomic.Int64
	srv             *http.Server
	done            chan struct{}
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("otlp receiver listener: %w", err)
	}
	s := &otlpSink{url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *otlpSink) stop() { s.srv.Close(); <-s.done }
