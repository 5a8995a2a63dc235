package translate

// anthropicCountTokens forwards a Messages count_tokens request to an Anthropic-schema backend,
// exactly as the messages passthrough does but at {prefix}/messages/count_tokens. Counting is
// free and generates nothing, so it reports no usage; the answer ({"input_tokens": N}) goes back
// unchanged.
type anthropicCountTokens struct {
	anthropicPassthrough
}

var _ Translator = (*anthropicCountTokens)(nil)

func newAnthropicCountTokens(t Target) Translator {
	return &anthropicCountTokens{anthropicPassthrough{target: t}}
}

func (p *anthropicCountTokens) RequestBody(req *Request) (*Upstream, error) {
	up, err := p.anthropicPassthrough.RequestBody(req)
	if err != nil {
		return nil, err
	}
	up.Path += "/count_tokens"
	return up, nil
}

func (p *anthropicCountTokens) Usage() Usage { return Usage{} }
