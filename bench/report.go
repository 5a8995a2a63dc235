package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets the gateway is held to, relative to the bare reverse proxy.
const (
	maxAddedRatio = 1.5 // aigw's added p50 over bare's added p50
	minRPSRatio   = 0.7 // aigw's requests per second over bare's, at the highest concurrency
)

// report prints the latency table and the aigw-vs-bare table, and returns an error for every
// cell that could not be measured or had failed calls.
func report(cfg Config, cells []*cell, translated bool) []error {
	var errs []error
	maxConc := slices.Max(cfg.Concurrency)
	lat := &Table{
		Title:  fmt.Sprintf("LLM latency and throughput: %d round(s) x %s per target, %d output tokens", cfg.Rounds, cfg.Duration, cfg.OutputTokens),
		Header: []string{"scenario", "conc", "target", "reqs", "p50", "p99", "req/s", "+p50 vs direct", "errors"},
		Notes: []string{
			"closed loop: each of conc workers sends its next request when the previous one is fully read",
			"direct = the simulator; bare = httputil.ReverseProxy (FlushInterval -1) in front of it; aigw = run.Run in front of it",
		},
	}
	cmp := &Table{
		Title:  "aigw vs bare reverse proxy",
		Header: []string{"scenario", "conc", "added p50 aigw/bare", fmt.Sprintf("<= %.1f", maxAddedRatio), "req/s aigw/bare", fmt.Sprintf(">= %.1f at c=%d", minRPSRatio, maxConc)},
	}
	for _, c := range cells {
		conc := strconv.Itoa(c.conc)
		if c.err != nil {
			lat.Add(c.scenario, conc, "NOT MEASURED", c.err.Error())
			errs = append(errs, fmt.Errorf("%s c=%d: %w", c.scenario, c.conc, c.err))
			continue
		}
		st := make([]stats, len(c.targets))
		bare, aigw := -1, -1
		for i, t := range c.targets {
			st[i] = summarize(c.results[i])
			s := st[i]
			added := "-"
			if i > 0 {
				added = fmtAdded(s.p50 - st[0].p50)
			}
			lat.Add(c.scenario, conc, targetLabel(c, t), strconv.Itoa(s.n), fmtDur(s.p50), fmtDur(s.p99), fmt.Sprintf("%.0f", s.rps), added, strconv.Itoa(s.errs))
			if s.errs > 0 {
				errs = append(errs, fmt.Errorf("%s c=%d %s: %d failed calls; first: %w", c.scenario, c.conc, t.kind, s.errs, s.firstErr))
			}
			switch t.kind {
			case kindBare:
				bare = i
			case kindAIGW:
				aigw = i
			}
		}
		if bare < 0 || aigw < 0 {
			continue
		}
		cmp.Add(append([]string{c.scenario, conc}, vsBare(st, bare, aigw, c.conc == maxConc)...)...)
	}
	if translated {
		lat.Notes = append(lat.Notes, "translated: OpenAI chat client -> aigw -> Anthropic backend; its direct row is the simulator's /v1/messages with the same prompt and max_tokens")
	} else {
		lat.Notes = append(lat.Notes, "translated: not available yet")
	}
	errs = append(errs, lat.Fprint(cfg.Out), cmp.Fprint(cfg.Out))
	return errs
}

// targetLabel names a target in the table, saying which API the translated cells' hops speak.
func targetLabel(c *cell, t target) string {
	if c.scenario == scenarioName("translated", c.stream) {
		switch t.kind {
		case kindDirect:
			return "direct (/v1/messages)"
		case kindAIGW:
			return "aigw (chat->Anthropic)"
		}
	}
	return t.kind
}

// memoryTable reports peak resident set and Go heap, stating what each number includes.
func memoryTable(m *memWatch, before, after uint64) *Table {
	t := &Table{
		Title:  "memory (this whole process: load generator + simulator + bare proxy + aigw)",
		Header: []string{"measure", "value", "includes"},
	}
	t.Add("peak RSS (VmHWM) before aigw started", fmtBytes(before), "load generator, simulator, bare proxy, all warmed up")
	t.Add("peak RSS (VmHWM) after all rounds", fmtBytes(after), "the above + aigw instance(s) and their rounds")
	t.Add("growth", fmtBytes(after-min(after, before)), "aigw, its clients' connections, and load-generator buffers")
	for _, kind := range []string{kindDirect, kindBare, kindAIGW} {
		rss, heap := m.peaks(kind)
		rssS := fmtBytes(rss)
		if !m.canReset {
			rssS = "n/a (clear_refs not writable)"
		}
		t.Add("peak RSS while loading "+kind, rssS, "whole process; VmHWM reset before each segment")
		t.Add("peak Go heap while loading "+kind, fmtBytes(heap), "whole process; "+heapMetric+" sampled every 20ms")
	}
	t.Notes = append(t.Notes, "memory already mapped stays resident, so a segment's peak includes what earlier segments left behind; compare rows, not absolute values")
	return t
}

// since formats how long a run took, for the final status line.
func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

// Table is an aligned text table with a title and footnotes. Every bench section prints its
// results through it, so a new section (the MCP bridge benchmark, say) reports in the same form.
type Table struct {
	Title  string
	Header []string
	Notes  []string
	rows   [][]string
}

// Add appends one row; missing trailing cells print empty.
func (t *Table) Add(cells ...string) { t.rows = append(t.rows, cells) }

// Fprint writes the table, columns aligned with text/tabwriter.
func (t *Table) Fprint(w io.Writer) error {
	if t.Title != "" {
		if _, err := fmt.Fprintf(w, "\n== %s ==\n", t.Title); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(t.Header) > 0 {
		fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	}
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range t.Notes {
		if _, err := fmt.Fprintf(w, "  * %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// fmtDur prints a latency with three significant digits in µs or ms; negative values (noise in
// an added latency) keep their sign.
func fmtDur(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%s%.2fµs", sign, float64(d)/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%s%.0fµs", sign, float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%s%.2fms", sign, float64(d)/1e6)
	}
	return fmt.Sprintf("%s%.1fms", sign, float64(d)/1e6)
}

// fmtAdded prints a latency added over a baseline, with an explicit "+".
func fmtAdded(d time.Duration) string {
	if d >= 0 {
		return "+" + fmtDur(d)
	}
	return fmtDur(d)
}

// fmtBytes prints a byte count in MiB.
func fmtBytes(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// verdict marks a measured value against a target: PASS or FAIL.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// vsBare is the aigw-versus-bare part of a comparison row: aigw's added p50 over the bare
// proxy's with its verdict (at most maxAddedRatio), and its req/s over bare's, judged only at the
// highest concurrency (atMax).
func vsBare(st []stats, bare, aigw int, atMax bool) []string {
	addedRatio, addedMark := "n/a (bare added <= 0)", "-"
	if bareAdd := st[bare].p50 - st[0].p50; bareAdd > 0 {
		r := float64(st[aigw].p50-st[0].p50) / float64(bareAdd)
		addedRatio, addedMark = fmt.Sprintf("%.2f", r), verdict(r <= maxAddedRatio)
	}
	rpsRatio, rpsMark := "n/a", "-"
	if st[bare].rps > 0 {
		r := st[aigw].rps / st[bare].rps
		rpsRatio = fmt.Sprintf("%.2f", r)
		if atMax {
			rpsMark = verdict(r >= minRPSRatio)
		}
	}
	return []string{addedRatio, addedMark, rpsRatio, rpsMark}
}
