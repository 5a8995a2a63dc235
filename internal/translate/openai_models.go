package translate

import "strings"

// Anthropic clients (Claude Code above all) send what Claude models take: a 32000-token
// max_tokens, thinking, temperature 1. OpenAI's own models refuse some of it outright, so the
// Messages → OpenAI translator adjusts a request for the OpenAI models it knows, as data here;
// any other model (OpenAI-compatible servers, newer OpenAI models) gets the request as it is.

// openAIModelLimits is what one OpenAI model family accepts, by id prefix (longest wins).
type openAIModelLimits struct {
	prefix string
	// maxOutput is the most output tokens the model writes; a larger max_completion_tokens is
	// lowered to it (OpenAI answers 400 otherwise). 0: no known limit below what clients ask.
	maxOutput int64
	// reasoning: the model takes reasoning_effort and only the default temperature and top_p.
	// Otherwise it rejects reasoning_effort.
	reasoning bool
}

var openAIModels = []openAIModelLimits{
	{"gpt-3.5-turbo", 4096, false},
	{"gpt-4", 8192, false},
	{"gpt-4-turbo", 4096, false},
	{"gpt-4o", 16384, false},
	{"chatgpt-4o", 16384, false},
	{"gpt-4.1", 32768, false},
	{"gpt-4.5", 16384, false},
	{"gpt-5", 0, true},
	{"gpt-5-chat", 16384, false},
	{"gpt-5.1-chat", 16384, false},
	{"o1", 0, true},
	{"o3", 0, true},
	{"o4", 0, true},
}

// openAIModelInfo is the limits of a known OpenAI model family.
func openAIModelInfo(model string) (openAIModelLimits, bool) {
	m := strings.ToLower(model)
	var best openAIModelLimits
	for _, l := range openAIModels {
		if strings.HasPrefix(m, l.prefix) && len(l.prefix) > len(best.prefix) {
			best = l
		}
	}
	return best, best.prefix != ""
}

// fitOpenAIModel adjusts a translated request to the known limits of its OpenAI model: output
// tokens lowered to the model's maximum; reasoning_effort dropped for a model without
// reasoning; temperature and top_p dropped for a reasoning model (which takes only the
// default, 1).
func fitOpenAIModel(out *oaChatRequest) {
	l, ok := openAIModelInfo(out.Model)
	if !ok {
		return
	}
	if mt := out.MaxCompletionTokens; l.maxOutput > 0 && mt != nil && *mt > l.maxOutput {
		out.MaxCompletionTokens = ptr(l.maxOutput)
	}
	if l.reasoning {
		out.Temperature, out.TopP = nil, nil
	} else {
		out.ReasoningEffort = ""
	}
}
