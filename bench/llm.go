package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// Target kinds. Memory peaks are kept per kind, so the translated cells' aigw counts as aigw.
const (
	kindDirect = "direct"
	kindBare   = "bare"
	kindAIGW   = "aigw"
)

// target is one thing put under load in a cell.
type target struct {
	kind string
	call func(context.Context) error
}

// cell is one scenario at one concurrency with the targets compared in it. targets[0] is the
// simulator itself, the baseline every added latency is measured from.
type cell struct {
	scenario string
	stream   bool
	conc     int
	targets  []target
	warmed   int        // how many of targets warm has run
	results  [][]result // per target, one per round
	err      error      // set when warm-up failed; the cell is then not measured
}

// llmModel is what the OpenAI-path cells ask for; the simulator accepts any name.
const llmModel = "gpt-4o-mini"

// claudeModel is what the translated cells ask for.
const claudeModel = "claude-sonnet-4-5"

// llmSection measures chat completions, plain and streamed, against the simulator directly, a
// bare reverse proxy and aigw, and OpenAI chat → aigw → Anthropic when aigw can translate it.
func llmSection(ctx context.Context, cfg Config) error {
	tmp, simURL, cleanup, err := sectionSetup(ctx, cfg, "aigw-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	bareURL, stopBare, err := startBareProxy(simURL)
	if err != nil {
		return err
	}
	defer stopBare()
	mem := newMemWatch()
	defer mem.close()

	maxConc := slices.Max(cfg.Concurrency)
	// Both APIs accept the same minimal body; max_tokens keeps every path at the same answer length.
	const bodyFormat = `{"model":%q,"max_tokens":%d,"stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`
	chat := func(client *http.Client, base, model string, stream bool) func(context.Context) error {
		body := fmt.Appendf(nil, bodyFormat, model, cfg.OutputTokens, stream)
		return httpCall(client, base+"/v1/chat/completions", nil, body, []byte(map[bool]string{true: "[DONE]", false: `"choices"`}[stream]))
	}
	messages := func(client *http.Client, base string, stream bool) func(context.Context) error {
		body := fmt.Appendf(nil, bodyFormat, claudeModel, cfg.OutputTokens, stream)
		h := http.Header{"Anthropic-Version": {"2023-06-01"}}
		return httpCall(client, base+"/v1/messages", h, body, []byte(map[bool]string{true: "message_stop", false: `"content"`}[stream]))
	}
	directC, bareC, aigwC := newClient(maxConc), newClient(maxConc), newClient(maxConc)

	// Warm the simulator and the bare proxy, then take the peak RSS before aigw exists.
	var cells []*cell
	for _, stream := range []bool{false, true} {
		for _, c := range cfg.Concurrency {
			cells = append(cells, &cell{scenario: scenarioName("chat", stream), stream: stream, conc: c, targets: []target{
				{kindDirect, chat(directC, simURL, llmModel, stream)},
				{kindBare, chat(bareC, bareURL, llmModel, stream)},
			}})
		}
	}
	warm(ctx, cfg, cells)
	rssBefore := mem.processPeak()

	gw, err := startGateway(ctx, map[string]string{"OPENAI_BASE_URL": simURL + "/v1"}, filepath.Join(tmp, "openai"))
	if err != nil {
		return err
	}
	defer gw.stop()
	for _, c := range cells {
		c.targets = append(c.targets, target{kindAIGW, chat(aigwC, gw.url, llmModel, c.stream)})
	}
	translated := translate.Supports(translate.EndpointChatCompletions, config.SchemaAnthropic)
	var tcells []*cell
	if translated {
		tgw, err := startGateway(ctx, map[string]string{"ANTHROPIC_BASE_URL": simURL}, filepath.Join(tmp, "anthropic"))
		if err != nil {
			return err
		}
		defer tgw.stop()
		anthC, tC := newClient(maxConc), newClient(maxConc)
		for _, stream := range []bool{false, true} {
			for _, c := range cfg.Concurrency {
				tcells = append(tcells, &cell{scenario: scenarioName("translated", stream), stream: stream, conc: c, targets: []target{
					{kindDirect, messages(anthC, simURL, stream)},
					{kindAIGW, chat(tC, tgw.url, claudeModel, stream)},
				}})
			}
		}
	}
	cells = append(cells, tcells...)
	if cfg.Scenario != "" {
		cells = slices.DeleteFunc(cells, func(c *cell) bool { return c.scenario != cfg.Scenario })
		if len(cells) == 0 {
			return fmt.Errorf("no scenario %q", cfg.Scenario)
		}
	}
	warm(ctx, cfg, cells)

	if err := runRounds(ctx, cfg, cells, mem); err != nil {
		return err
	}
	rssAfter := mem.processPeak()

	errs := report(cfg, cells, translated)
	errs = append(errs, memoryTable(mem, rssBefore, rssAfter).Fprint(cfg.Out))
	return errors.Join(errs...)
}

// runRounds measures every target of every warmed cell once per round, rotating which target
// goes first so no target always follows the same neighbour; mem, when not nil, watches each
// segment's memory.
func runRounds(ctx context.Context, cfg Config, cells []*cell, mem *memWatch) error {
	for r := range cfg.Rounds {
		for _, c := range cells {
			if c.err != nil {
				continue
			}
			for k := range c.targets {
				i := (k + r) % len(c.targets)
				if mem != nil {
					mem.begin(c.targets[i].kind)
				}
				res := runLoad(ctx, c.conc, cfg.MaxRequests, cfg.Duration, c.targets[i].call)
				if mem != nil {
					mem.end()
				}
				c.results[i] = append(c.results[i], res)
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped in round %d: %w", r+1, err)
		}
	}
	return nil
}

// scenarioName is "chat" or "chat-stream", "translated" or "translated-stream".
func scenarioName(base string, stream bool) string {
	if stream {
		return base + "-stream"
	}
	return base
}

// warm runs every not yet warmed target of every cell for cfg.Warmup, so connection pools are
// full and code paths hot before anything is measured. A target that fails here fails its cell.
func warm(ctx context.Context, cfg Config, cells []*cell) {
	for _, c := range cells {
		for ; c.warmed < len(c.targets) && c.err == nil; c.warmed++ {
			res := runLoad(ctx, c.conc, cfg.MaxRequests, cfg.Warmup, c.targets[c.warmed].call)
			if res.errs > 0 {
				c.err = fmt.Errorf("%s warm-up: %d of %d calls failed; first: %w", c.targets[c.warmed].kind, res.errs, res.errs+len(res.lat), res.firstErr)
			}
		}
		c.results = make([][]result, len(c.targets))
	}
}
