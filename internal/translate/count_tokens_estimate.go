package translate

import (
	"encoding/base64"
	"encoding/json"
	"image"
	_ "image/gif"  // image sizes for the estimate
	_ "image/jpeg" // image sizes for the estimate
	_ "image/png"  // image sizes for the estimate
	"net/http"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
	"github.com/tiktoken-go/tokenizer/codec"
)

// countTokensEstimate answers a Messages count_tokens request for a backend that has no such
// endpoint (the OpenAI schema) with a local estimate, instead of refusing it: Claude Code asks
// for counts to manage its context, whatever model it talks to. The text of the request
// (system, messages, tool calls and results as JSON, tool definitions) is counted with OpenAI's
// o200k_base encoding (GPT-4o, GPT-4.1, GPT-5 and the o-series), compiled into aigw by the
// github.com/tiktoken-go/tokenizer library (no download), plus the per-message framing OpenAI
// documents (3 tokens a message, 3 to prime the reply). Images count as OpenAI bills a
// high-detail image (85 + 170 per 512-pixel tile after scaling, 765 when the size is unknown),
// PDF documents a flat pdfTokens. It is an estimate: other model families tokenize differently
// and providers add hidden prompt tokens; the answer says nothing to tell it from a count.
type countTokensEstimate struct{}

var _ Translator = (*countTokensEstimate)(nil)

func newCountTokensEstimate(Target) Translator { return &countTokensEstimate{} }

const (
	tokensPerMessage = 3
	tokensPerReply   = 3
	unknownImage     = 765
	pdfTokens        = 1500
)

var (
	o200kOnce  sync.Once
	o200kCodec tokenizer.Codec
)

// o200k is the encoding, built on first use (its vocabulary is large; a gateway that is never
// asked to count does not pay for it).
func o200k() tokenizer.Codec {
	o200kOnce.Do(func() { o200kCodec = codec.NewO200kBase() })
	return o200kCodec
}

func (c *countTokensEstimate) RequestBody(req *Request) (*Upstream, error) {
	var in anRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badRequest("", "request body is not a valid count_tokens request: %v", err)
	}
	n, err := estimateTokens(&in)
	if err != nil {
		return nil, err
	}
	body, err := marshalJSON(struct {
		InputTokens int64 `json:"input_tokens"`
	}{n})
	if err != nil {
		return nil, badRequest("", "cannot encode the count: %v", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Upstream{Method: http.MethodPost, Header: h, Local: &LocalResponse{Status: http.StatusOK, Header: h.Clone(), Body: body}}, nil
}

// estimateTokens counts the request's input tokens (see countTokensEstimate).
func estimateTokens(in *anRequest) (int64, error) {
	enc := o200k()
	var text strings.Builder
	n := int64(tokensPerReply)
	if in.System != nil {
		n += tokensPerMessage
		for _, b := range in.System.blocks() {
			if b.Text != nil {
				text.WriteString(*b.Text)
			}
		}
	}
	for i := range in.Messages {
		n += tokensPerMessage
		text.WriteString(in.Messages[i].Role)
		n += estimateBlocks(&text, in.Messages[i].Content.blocks())
	}
	for _, t := range in.Tools {
		text.WriteString(t.Name)
		text.WriteString(t.Description)
		text.Write(t.InputSchema)
	}
	ids, _, err := enc.Encode(text.String())
	if err != nil {
		return 0, Errorf(http.StatusInternalServerError, "token_count", "cannot count tokens: %v", err)
	}
	return n + int64(len(ids)), nil
}

// estimateBlocks writes the blocks' text to text and returns the tokens of what is not text.
func estimateBlocks(text *strings.Builder, blocks []anBlock) int64 {
	var n int64
	for i := range blocks {
		b := &blocks[i]
		switch b.Type {
		case "text":
			if b.Text != nil {
				text.WriteString(*b.Text)
			}
		case "thinking":
			if b.Thinking != nil {
				text.WriteString(*b.Thinking)
			}
		case "tool_use":
			text.WriteString(b.Name)
			text.Write(b.Input)
		case "tool_result":
			if b.Content != nil {
				n += estimateBlocks(text, b.Content.blocks())
			}
		case "image":
			n += imageTokens(b.Source)
		case "document":
			if b.Source != nil && b.Source.Type == "text" {
				text.WriteString(b.Source.Data)
			} else {
				n += pdfTokens
			}
		}
	}
	return n
}

// imageTokens is what OpenAI bills for a high-detail image: scaled to fit 2048×2048, then its
// short side to 768, 170 tokens per 512-pixel tile plus 85.
func imageTokens(src *anSource) int64 {
	if src == nil || src.Type != "base64" {
		return unknownImage
	}
	cfg, _, err := image.DecodeConfig(base64.NewDecoder(base64.StdEncoding, strings.NewReader(src.Data)))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return unknownImage
	}
	w, h := float64(cfg.Width), float64(cfg.Height)
	if m := max(w, h); m > 2048 {
		w, h = w*2048/m, h*2048/m
	}
	if s := min(w, h); s > 768 {
		w, h = w*768/s, h*768/s
	}
	tiles := int64((w+511)/512) * int64((h+511)/512)
	return 85 + 170*tiles
}

func (c *countTokensEstimate) ResponseHeaders(int, http.Header) error { return nil }

func (c *countTokensEstimate) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	return chunk, nil
}

func (c *countTokensEstimate) ResponseError(status int, _ http.Header, body []byte) []byte {
	return ErrorBody(APIAnthropic, &Error{Status: status, Message: upstreamMessage(status, body)})
}

func (c *countTokensEstimate) Usage() Usage          { return Usage{} }
func (c *countTokensEstimate) ResponseModel() string { return "" }
