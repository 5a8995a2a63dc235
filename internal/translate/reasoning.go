package translate

import "strings"

// Reasoning is asked for differently by the two APIs: OpenAI takes a reasoning_effort level,
// Anthropic takes either a fixed thinking budget (thinking.type "enabled" with budget_tokens,
// every thinking-capable Claude model up to the 4.5 family) or adaptive thinking steered by an
// effort level (thinking.type "adaptive" with output_config.effort, Claude 4.6 and later, and
// the only form Claude Opus 4.7 and later accept). This file is the mapping between them, as
// data.

// effortLevel is one OpenAI reasoning_effort value and its Anthropic equivalents.
type effortLevel struct {
	effort string // OpenAI reasoning_effort
	budget int64  // Anthropic thinking.budget_tokens
	// adaptive is Anthropic's output_config.effort for adaptive thinking.
	adaptive string
}

// effortLevels is ordered by budget. Anthropic's minimum budget is 1024, so "minimal" and "low"
// share it; going back, a budget maps to the highest level whose budget it reaches, which makes
// every level but "minimal" survive a round trip.
var effortLevels = []effortLevel{
	{"minimal", 1024, "low"},
	{"low", 1024, "low"},
	{"medium", 4096, "medium"},
	{"high", 16384, "high"},
	{"xhigh", 32768, "xhigh"},
	{"max", 65536, "max"},
}

// minThinkingBudget is the smallest budget_tokens Anthropic accepts.
const minThinkingBudget = 1024

// effortByName finds an OpenAI reasoning_effort level.
func effortByName(effort string) (effortLevel, bool) {
	for _, l := range effortLevels {
		if l.effort == effort {
			return l, true
		}
	}
	return effortLevel{}, false
}

// effortForBudget is the OpenAI reasoning_effort for an Anthropic thinking budget.
func effortForBudget(budget int64) string {
	effort := "low"
	for _, l := range effortLevels[1:] {
		if budget >= l.budget {
			effort = l.effort
		}
	}
	return effort
}

// effortForAdaptive is the OpenAI reasoning_effort for an Anthropic output_config.effort; the
// names are the same. Anthropic's default effort, when none is given, is "high".
func effortForAdaptive(effort string) string {
	if effort == "" {
		return "high"
	}
	return effort
}

// budgetThinkingModels are the Claude model families that take a fixed thinking budget and do
// not know adaptive thinking. Claude models not listed here are newer ones, which take adaptive
// thinking (and from Opus 4.7 on reject budgets). Models that are not Claude at all, served by
// Anthropic-compatible servers, are sent the budget form, the one such servers implement.
var budgetThinkingModels = []string{
	// Every 3.x model.
	"claude-3",
	// The 4.0, 4.1 and 4.5 families; "claude-opus-4-2…" is the dated 4.0 id (claude-opus-4-20250514).
	"claude-opus-4-0", "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-2",
	"claude-sonnet-4-0", "claude-sonnet-4-5", "claude-sonnet-4-2",
	"claude-haiku-4-5",
}

// adaptiveThinking reports whether model takes adaptive thinking rather than a budget.
func adaptiveThinking(model string) bool {
	m := claudeModelName(model)
	if !strings.HasPrefix(m, "claude-") {
		return false
	}
	if m == "claude-opus-4" || m == "claude-sonnet-4" {
		return false
	}
	for _, p := range budgetThinkingModels {
		if strings.HasPrefix(m, p) {
			return false
		}
	}
	return true
}
