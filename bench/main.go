// Command bench is aigw's load generator. In one process it measures the demo simulator
// directly, a bare httputil.ReverseProxy in front of it, and the real gateway (run.Run) in front
// of it, alternating the three in rounds so machine noise hits them alike, and prints what aigw
// adds over the bare proxy. Run it with `go run ./bench` (`make bench`); `-quick` is a smoke
// run of about 20 seconds. It exits non-zero only when the harness itself failed (a target
// could not start or answered with errors), never because a target missed its mark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is what every bench section is given.
type Config struct {
	Rounds int // rounds; each runs every target of every cell once
	// TracingRounds are the tracing section's rounds: what it measures (at most a tenth of
	// aigw's added latency) is smaller than the run-to-run noise of a few rounds.
	TracingRounds int
	Duration      time.Duration // per target, per cell, per round
	Warmup        time.Duration // per target, per cell, once
	MaxRequests   int           // cap on calls per target, per cell, per round
	Concurrency   []int         // closed-loop workers per cell
	OutputTokens  int           // tokens the simulator streams per answer
	Scenario      string        // when set, the llm and tracing sections measure only this scenario
	Out           io.Writer     // where tables go
}

// parseConcurrency reads "1,32" as [1 32]; every value must be positive.
func parseConcurrency(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Section is one part of the report: it starts what it measures, runs its rounds and prints
// its tables. Another component's benchmark (such as the MCP stdio bridge's, being written in
// internal/mcpstdio/mcpbench) joins the report as one more Section, reusing runLoad, summarize
// and Table.
type Section struct {
	Name string
	Run  func(ctx context.Context, cfg Config) error
}

func main() { os.Exit(benchMain(os.Args[1:], os.Stdout, os.Stderr)) }

// benchMain parses flags, runs every section and returns the exit code.
func benchMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 5, "rounds; each runs every target of every scenario once")
	tracingRounds := fs.Int("tracing-rounds", 24, "rounds of the tracing section (its budget is 10% of aigw's added p50; at 5 rounds a cell moves about ±7% between runs)")
	duration := fs.Duration("duration", 1100*time.Millisecond, "load time per target per scenario per round")
	warmup := fs.Duration("warmup", 200*time.Millisecond, "warm-up time per target per scenario")
	maxReq := fs.Int("max-requests", 200_000, "cap on requests per target per scenario per round")
	tokens := fs.Int("tokens", 16, "output tokens per simulated answer")
	quick := fs.Bool("quick", false, "smoke run of about 20s: 2 rounds, short segments (explicit flags still win)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := fs.String("memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	only := fs.String("section", "", "run only this section (llm, soak, tracing, mcp, extproc, providers, ratelimit)")
	scenario := fs.String("scenario", "", "llm and tracing sections: measure only this scenario (chat, chat-stream; llm also translated, translated-stream)")
	conc := fs.String("conc", "1,32", "closed-loop concurrencies, comma-separated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	concs, err := parseConcurrency(*conc)
	if err != nil {
		fmt.Fprintf(stderr, "bench: -conc: %v\n", err)
		return 2
	}
	cfg := Config{Rounds: *rounds, TracingRounds: *tracingRounds, Duration: *duration, Warmup: *warmup, MaxRequests: *maxReq,
		Concurrency: concs, OutputTokens: *tokens, Scenario: *scenario, Out: stdout}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			cfg.Rounds = 2
		}
		if !set["tracing-rounds"] {
			cfg.TracingRounds = 2
		}
		if !set["duration"] {
			cfg.Duration = 300 * time.Millisecond
		}
		if !set["warmup"] {
			cfg.Warmup = 100 * time.Millisecond
		}
	}
	if cfg.Rounds < 1 || cfg.TracingRounds < 1 || cfg.Duration <= 0 || cfg.Warmup <= 0 || cfg.MaxRequests < 1 || cfg.OutputTokens < 1 {
		fmt.Fprintln(stderr, "bench: -rounds, -tracing-rounds, -duration, -warmup, -max-requests and -tokens must be positive")
		return 2
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	if *memprofile != "" {
		defer func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				fmt.Fprintf(stderr, "bench: %v\n", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(stderr, "bench: %v\n", err)
			}
		}()
	}

	// A hard stop well past the expected length, so a wedged target cannot keep the run alive.
	budget := time.Duration(cfg.Rounds*40+cfg.TracingRounds*16)*cfg.Duration + 2*time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	sections := []Section{
		{Name: "llm", Run: llmSection},
		{Name: "soak", Run: soakSection},
		{Name: "tracing", Run: tracingSection},
		{Name: "mcp", Run: mcpSection},
		{Name: "extproc", Run: extprocSection},
		{Name: "providers", Run: providersSection},
		{Name: "ratelimit", Run: ratelimitSection},
	}
	if *only != "" {
		sections = slices.DeleteFunc(sections, func(s Section) bool { return s.Name != *only })
		if len(sections) == 0 {
			fmt.Fprintf(stderr, "bench: no section %q\n", *only)
			return 2
		}
	}
	start := time.Now()
	fmt.Fprintf(stderr, "bench: %s, GOMAXPROCS=%d, %d round(s) x %s per target per scenario\n",
		runtime.Version(), runtime.GOMAXPROCS(0), cfg.Rounds, cfg.Duration)
	var errs []error
	for _, s := range sections {
		if err := s.Run(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
		}
	}
	fmt.Fprintf(stderr, "bench: done in %s\n", since(start))
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}
