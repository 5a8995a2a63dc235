package observe

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"go.opentelemetry.io/otel/attribute"

	"github.com/aigw/aigw/internal/translate"
)

// OpenInference attribute names and values (github.com/Arize-ai/openinference, semantic
// conventions) used by more than one function.
const (
	oiSpanKind        = "openinference.span.kind"
	oiInputValue      = "input.value"
	oiInputMime       = "input.mime_type"
	oiOutputValue     = "output.value"
	oiOutputMime      = "output.mime_type"
	oiModelName       = "llm.model_name"
	oiSystem          = "llm.system"
	oiProvider        = "llm.provider"
	oiInvocation      = "llm.invocation_parameters"
	oiEmbInvocation   = "embedding.invocation_parameters"
	oiEmbModel        = "embedding.model_name"
	oiTokensPrompt    = "llm.token_count.prompt"
	oiTokensOutput    = "llm.token_count.completion"
	oiTokensTotal     = "llm.token_count.total"
	mimeJSON          = "application/json"
	firstTokenEvent   = "First Token Stream Event"
	maxAssembledBytes = 4 << 20 // a streamed answer's text kept for a span, per request
)

// attrs collects span attributes, passing strings through the privacy rules.
type attrs struct {
	p  *Privacy
	kv []attribute.KeyValue
}

func (a *attrs) str(key, v string) {
	if v, ok := a.p.mask(key, v); ok {
		a.kv = append(a.kv, attribute.String(key, v))
	}
}

func (a *attrs) int(key string, v int64) { a.kv = append(a.kv, attribute.Int64(key, v)) }

// json records a gjson value: strings as they are, anything else as its JSON text.
func (a *attrs) json(key string, v gjson.Result) {
	if v.Type == gjson.String {
		a.str(key, v.String())
		return
	}
	a.str(key, v.Raw)
}

// spanName is the span's name per client endpoint, as the OpenInference instrumentation of the
// OpenAI SDK names its spans.
func spanName(e translate.Endpoint) string {
	switch e {
	case translate.EndpointChatCompletions:
		return "ChatCompletion"
	case translate.EndpointCompletions:
		return "Completion"
	case translate.EndpointEmbeddings:
		return "CreateEmbeddings"
	case translate.EndpointAudioTranscriptions:
		return "Transcription"
	case translate.EndpointAudioTranslations:
		return "Translation"
	case translate.EndpointAudioSpeech:
		return "Speech"
	case translate.EndpointImageGenerations:
		return "ImageGeneration"
	case translate.EndpointResponses:
		return "Response"
	case translate.EndpointMessages:
		return "Messages"
	case translate.EndpointCountTokens:
		return "CountTokens"
	case translate.EndpointRerank:
		return "Rerank"
	}
	return string(e)
}

// requestAttrs describes the client's request: the OpenInference input attributes of its
// endpoint.
func requestAttrs(a *attrs, e translate.Endpoint, contentType string, body []byte) {
	embedding := e == translate.EndpointEmbeddings
	switch {
	case embedding:
		a.str(oiSpanKind, "EMBEDDING")
	case e == translate.EndpointRerank:
		a.str(oiSpanKind, "RERANKER")
	default:
		a.str(oiSpanKind, "LLM")
		if e.API() == translate.APIAnthropic {
			a.str(oiSystem, "anthropic")
		} else {
			a.str(oiSystem, "openai")
		}
	}
	if e == translate.EndpointAudioTranscriptions || e == translate.EndpointAudioTranslations {
		fields := formFields(contentType, body)
		a.str(oiInputValue, fields)
		a.str(oiInputMime, mimeJSON)
		a.str(oiInvocation, fields)
		return
	}
	// One copy of the body: input.value and the values read from it share it.
	in := string(body)
	if e == translate.EndpointChatCompletions && describeFast && chatRequestFast(a, in) {
		return
	}
	if !gjson.Valid(in) {
		return
	}
	a.str(oiInputValue, in)
	a.str(oiInputMime, mimeJSON)
	req := gjson.Parse(in)
	switch e {
	case translate.EndpointChatCompletions:
		a.str(oiInvocation, without(req, "messages", "tools", "functions"))
		chatMessages(a, oiInputMessages, req.Get("messages"))
		tools(a, req.Get("tools"))
	case translate.EndpointMessages:
		a.str(oiInvocation, without(req, "messages", "tools", "system"))
		n := 0
		if sys := req.Get("system"); sys.Exists() {
			k := messageKeysAt(oiInputMessages, 0)
			a.str(k.role, "system")
			anthropicContent(a, k, sys)
			n = 1
		}
		req.Get("messages").ForEach(func(_, m gjson.Result) bool {
			k := messageKeysAt(oiInputMessages, n)
			a.str(k.role, m.Get("role").String())
			anthropicContent(a, k, m.Get("content"))
			n++
			return true
		})
		tools(a, req.Get("tools"))
	case translate.EndpointCompletions:
		a.str(oiInvocation, without(req, "prompt"))
		prompts := req.Get("prompt")
		if prompts.Type == gjson.String {
			a.str("llm.prompts.0.prompt.text", prompts.String())
		} else if prompts.IsArray() {
			for i, p := range prompts.Array() {
				if p.Type == gjson.String {
					a.str("llm.prompts."+strconv.Itoa(i)+".prompt.text", p.String())
				}
			}
		}
	case translate.EndpointEmbeddings:
		a.str(oiEmbInvocation, without(req, "input"))
		in := req.Get("input")
		if in.Type == gjson.String {
			a.str("embedding.embeddings.0.embedding.text", in.String())
		} else if in.IsArray() {
			for i, t := range in.Array() {
				if t.Type == gjson.String {
					a.str("embedding.embeddings."+strconv.Itoa(i)+".embedding.text", t.String())
				}
			}
		}
	case translate.EndpointRerank:
		// OpenInference's reranker attributes: the query, the model, top_k and each document.
		a.str("reranker.query", req.Get("query").String())
		a.str("reranker.model_name", req.Get("model").String())
		if n := req.Get("top_n"); n.Exists() {
			a.int("reranker.top_k", n.Int())
		}
		i := 0
		req.Get("documents").ForEach(func(_, d gjson.Result) bool {
			text := d.String()
			if d.IsObject() {
				text = d.Get("text").String()
			}
			a.str("reranker.input_documents."+strconv.Itoa(i)+".document.content", text)
			i++
			return true
		})
	default:
		a.str(oiInvocation, without(req, "messages", "input", "prompt", "tools"))
	}
}

// without is the JSON object req without the named top-level fields, its other members as
// they were sent (one pass, one copy).
func without(req gjson.Result, fields ...string) string {
	var b strings.Builder
	b.Grow(len(req.Raw))
	b.WriteByte('{')
	first := true
	req.ForEach(func(k, v gjson.Result) bool {
		for _, f := range fields {
			if k.Str == f {
				return true
			}
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(k.Raw)
		b.WriteByte(':')
		b.WriteString(v.Raw)
		return true
	})
	b.WriteByte('}')
	return b.String()
}

// messageKeys are the attribute keys of one message: prefix is "llm.input_messages.N.message."
// (or output), the others its usual members.
type messageKeys struct{ prefix, role, name, toolCallID, content string }

// Message attribute prefixes.
const (
	oiInputMessages  = "llm.input_messages."
	oiOutputMessages = "llm.output_messages."
)

// cachedMessageKeys are the keys of the first messages in and out, made once: a conversation's
// keys were most of what describing a request allocated.
var cachedMessageKeys = func() (k [2][16]messageKeys) {
	for i := range k[0] {
		k[0][i] = newMessageKeys(oiInputMessages, i)
		k[1][i] = newMessageKeys(oiOutputMessages, i)
	}
	return k
}()

func newMessageKeys(prefix string, i int) messageKeys {
	p := prefix + strconv.Itoa(i) + ".message."
	return messageKeys{prefix: p, role: p + "role", name: p + "name", toolCallID: p + "tool_call_id", content: p + "content"}
}

// messageKeysAt is the keys of message i under prefix (oiInputMessages or oiOutputMessages).
func messageKeysAt(prefix string, i int) *messageKeys {
	if i >= 0 && i < len(cachedMessageKeys[0]) {
		switch prefix {
		case oiInputMessages:
			return &cachedMessageKeys[0][i]
		case oiOutputMessages:
			return &cachedMessageKeys[1][i]
		}
	}
	k := newMessageKeys(prefix, i)
	return &k
}

// chatMessages records OpenAI chat messages under prefix.
func chatMessages(a *attrs, prefix string, msgs gjson.Result) {
	i := 0
	msgs.ForEach(func(_, m gjson.Result) bool {
		chatMessage(a, messageKeysAt(prefix, i), m)
		i++
		return true
	})
}

func chatMessage(a *attrs, k *messageKeys, m gjson.Result) {
	p := k.prefix
	// One pass over the message's members; attributes in the order OpenInference writes them.
	var role, name, id, c, calls gjson.Result
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role":
			role = v
		case "name":
			name = v
		case "tool_call_id":
			id = v
		case "content":
			c = v
		case "tool_calls":
			calls = v
		}
		return true
	})
	if role.Exists() {
		a.str(k.role, role.String())
	}
	if name.Type == gjson.String {
		a.str(k.name, name.String())
	}
	if id.Type == gjson.String {
		a.str(k.toolCallID, id.String())
	}
	switch {
	case c.Type == gjson.String && c.String() != "":
		a.str(k.content, c.String())
	case c.IsArray():
		j := 0
		c.ForEach(func(_, part gjson.Result) bool {
			cp := p + "contents." + strconv.Itoa(j) + ".message_content."
			switch part.Get("type").String() {
			case "text":
				a.str(cp+"type", "text")
				a.str(cp+"text", part.Get("text").String())
			case "image_url":
				a.str(cp+"type", "image")
				a.str(cp+"image.image.url", part.Get("image_url.url").String())
			default:
				a.str(cp+"type", part.Get("type").String())
			}
			j++
			return true
		})
	}
	// Only a list: toolCalls would take anything else (null, as some servers send) for one call.
	if calls.IsArray() {
		toolCalls(a, p, calls)
	}
}

func toolCalls(a *attrs, p string, calls gjson.Result) {
	k := 0
	calls.ForEach(func(_, tc gjson.Result) bool {
		tp := p + "tool_calls." + strconv.Itoa(k) + ".tool_call."
		if id := tc.Get("id"); id.Exists() {
			a.str(tp+"id", id.String())
		}
		a.str(tp+"function.name", tc.Get("function.name").String())
		a.str(tp+"function.arguments", tc.Get("function.arguments").String())
		k++
		return true
	})
}

func tools(a *attrs, ts gjson.Result) {
	i := 0
	ts.ForEach(func(_, t gjson.Result) bool {
		a.str("llm.tools."+strconv.Itoa(i)+".tool.json_schema", t.Raw)
		i++
		return true
	})
}

// anthropicContent records an Anthropic message's content: text, images, tool uses and results.
func anthropicContent(a *attrs, mk *messageKeys, c gjson.Result) {
	p := mk.prefix
	if c.Type == gjson.String {
		a.str(mk.content, c.String())
		return
	}
	j, k := 0, 0
	c.ForEach(func(_, b gjson.Result) bool {
		cp := p + "contents." + strconv.Itoa(j) + ".message_content."
		switch b.Get("type").String() {
		case "text":
			a.str(cp+"type", "text")
			a.str(cp+"text", b.Get("text").String())
			j++
		case "image":
			a.str(cp+"type", "image")
			if u := b.Get("source.url"); u.Exists() {
				a.str(cp+"image.image.url", u.String())
			} else {
				a.str(cp+"image.image.url", "data:"+b.Get("source.media_type").String()+";base64,"+b.Get("source.data").String())
			}
			j++
		case "tool_use":
			tp := p + "tool_calls." + strconv.Itoa(k) + ".tool_call."
			a.str(tp+"id", b.Get("id").String())
			a.str(tp+"function.name", b.Get("name").String())
			a.str(tp+"function.arguments", b.Get("input").Raw)
			k++
		case "tool_result":
			a.str(p+"tool_call_id", b.Get("tool_use_id").String())
			if t := b.Get("content"); t.Type == gjson.String {
				a.str(p+"content", t.String())
			}
		}
		return true
	})
}

// formFields is the JSON object of a multipart form's non-file fields, in order.
func formFields(contentType string, body []byte) string {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return "{}"
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	out := []byte("{}")
	for {
		part, err := r.NextPart()
		if err != nil {
			break
		}
		if part.FileName() != "" || part.FormName() == "" {
			continue
		}
		v, _ := io.ReadAll(io.LimitReader(part, 64<<10))
		out, _ = sjson.SetBytes(out, escapeKey(part.FormName()), string(v))
	}
	return string(out)
}

// escapeKey makes a form field name a literal sjson path.
func escapeKey(k string) string {
	r := strings.NewReplacer(".", `\.`, "*", `\*`, "?", `\?`, "|", `\|`, "#", `\#`, "@", `\@`)
	return r.Replace(k)
}

// responseAttrs describes a whole (non-streamed) successful response.
func responseAttrs(a *attrs, e translate.Endpoint, body []byte, contentType string) {
	answerAttrs(a, e, body, string(body), contentType)
}

// answerAttrs is responseAttrs for an answer held both as body and as out, the same bytes, which
// the attributes may keep: out must not change after.
func answerAttrs(a *attrs, e translate.Endpoint, body []byte, out, contentType string) {
	if e == translate.EndpointChatCompletions && describeFast && chatAnswerFast(a, out) {
		return
	}
	if !gjson.Valid(out) {
		return
	}
	resp := gjson.Parse(out)
	if e == translate.EndpointImageGenerations {
		// Generated images come back as base64 (megabytes each): the span keeps their size.
		a.str(oiOutputValue, withoutImageData(body, resp))
	} else {
		a.str(oiOutputValue, out)
	}
	a.str(oiOutputMime, mimeJSON)
	switch e {
	case translate.EndpointChatCompletions:
		// One pass over the answer's members (gjson.Get would walk it again for each), the first
		// of each key counting as Get's.
		var model, usage, choices gjson.Result
		resp.ForEach(func(k, v gjson.Result) bool {
			switch {
			case k.Str == "model" && !model.Exists():
				model = v
			case k.Str == "usage" && !usage.Exists():
				usage = v
			case k.Str == "choices" && !choices.Exists():
				choices = v
			}
			return true
		})
		if model.Type == gjson.String {
			a.str(oiModelName, model.String())
		}
		openAIUsage(a, usage)
		i := 0
		choices.ForEach(func(_, c gjson.Result) bool {
			chatMessage(a, messageKeysAt(oiOutputMessages, i), c.Get("message"))
			i++
			return true
		})
	case translate.EndpointCompletions:
		modelName(a, e, resp)
		openAIUsage(a, resp.Get("usage"))
		resp.Get("choices").ForEach(func(_, c gjson.Result) bool {
			a.str("llm.choices."+strconv.Itoa(int(c.Get("index").Int()))+".completion.text", c.Get("text").String())
			return true
		})
	case translate.EndpointEmbeddings:
		modelName(a, e, resp)
		openAIUsage(a, resp.Get("usage"))
		if !a.p.HideEmbeddingVectors {
			resp.Get("data").ForEach(func(_, d gjson.Result) bool {
				if v := embeddingVector(d.Get("embedding")); v != nil {
					a.kv = append(a.kv, attribute.Float64Slice("embedding.embeddings."+strconv.Itoa(int(d.Get("index").Int()))+".embedding.vector", v))
				}
				return true
			})
		}
	case translate.EndpointMessages:
		modelName(a, e, resp)
		anthropicUsage(a, resp.Get("usage"))
		k := messageKeysAt(oiOutputMessages, 0)
		a.str(k.role, resp.Get("role").String())
		anthropicContent(a, k, resp.Get("content"))
	case translate.EndpointImageGenerations:
		if u := resp.Get("usage"); u.Exists() {
			a.int(oiTokensPrompt, u.Get("input_tokens").Int())
			a.int(oiTokensOutput, u.Get("output_tokens").Int())
			a.int(oiTokensTotal, u.Get("total_tokens").Int())
		}
	case translate.EndpointRerank:
		i := 0
		resp.Get("results").ForEach(func(_, r gjson.Result) bool {
			p := "reranker.output_documents." + strconv.Itoa(i) + ".document."
			a.str(p+"id", strconv.FormatInt(r.Get("index").Int(), 10))
			a.kv = append(a.kv, attribute.Float64(p+"score", r.Get("relevance_score").Float()))
			i++
			return true
		})
		if n := resp.Get("meta.billed_units.search_units"); n.Exists() {
			a.int("aigw.rerank.search_units", n.Int())
		}
	case translate.EndpointResponses:
		modelName(a, e, resp)
		if u := resp.Get("usage"); u.Exists() {
			a.int(oiTokensPrompt, u.Get("input_tokens").Int())
			a.int(oiTokensOutput, u.Get("output_tokens").Int())
			a.int(oiTokensTotal, u.Get("total_tokens").Int())
		}
	}
}

func modelName(a *attrs, e translate.Endpoint, resp gjson.Result) {
	if m := resp.Get("model"); m.Type == gjson.String {
		if e == translate.EndpointEmbeddings {
			a.str(oiEmbModel, m.String())
		} else {
			a.str(oiModelName, m.String())
		}
	}
}

// openAIUsage records an OpenAI usage object's counts, with the details it carries.
func openAIUsage(a *attrs, u gjson.Result) {
	if !u.IsObject() {
		return
	}
	// One pass over the object and its details, recorded in this order.
	var total, prompt, completion, cached, promptAudio, reasoning, completionAudio gjson.Result
	u.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "total_tokens":
			total = v
		case "prompt_tokens":
			prompt = v
		case "completion_tokens":
			completion = v
		case "prompt_tokens_details":
			v.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "cached_tokens":
					cached = v
				case "audio_tokens":
					promptAudio = v
				}
				return true
			})
		case "completion_tokens_details":
			v.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "reasoning_tokens":
					reasoning = v
				case "audio_tokens":
					completionAudio = v
				}
				return true
			})
		}
		return true
	})
	for _, f := range [...]struct {
		v   gjson.Result
		key string
	}{
		{total, oiTokensTotal}, {prompt, oiTokensPrompt}, {completion, oiTokensOutput},
		{cached, "llm.token_count.prompt_details.cache_read"},
		{promptAudio, "llm.token_count.prompt_details.audio"},
		{reasoning, "llm.token_count.completion_details.reasoning"},
		{completionAudio, "llm.token_count.completion_details.audio"},
	} {
		if f.v.Type == gjson.Number {
			a.int(f.key, f.v.Int())
		}
	}
}

// anthropicUsage records an Anthropic usage object: prompt tokens include cache reads and writes.
func anthropicUsage(a *attrs, u gjson.Result) {
	if !u.IsObject() {
		return
	}
	in := u.Get("input_tokens").Int() + u.Get("cache_read_input_tokens").Int() + u.Get("cache_creation_input_tokens").Int()
	out := u.Get("output_tokens").Int()
	a.int(oiTokensPrompt, in)
	a.int(oiTokensOutput, out)
	a.int(oiTokensTotal, in+out)
	if v := u.Get("cache_read_input_tokens"); v.Exists() {
		a.int("llm.token_count.prompt_details.cache_read", v.Int())
	}
	if v := u.Get("cache_creation_input_tokens"); v.Exists() {
		a.int("llm.token_count.prompt_details.cache_write", v.Int())
	}
}

// embeddingVector reads an embedding given as floats or as base64 little-endian float32s.
func embeddingVector(v gjson.Result) []float64 {
	switch {
	case v.IsArray():
		arr := v.Array()
		out := make([]float64, len(arr))
		for i, x := range arr {
			out[i] = x.Float()
		}
		return out
	case v.Type == gjson.String:
		raw, err := base64.StdEncoding.DecodeString(v.String())
		if err != nil || len(raw)%4 != 0 {
			return nil
		}
		out := make([]float64, len(raw)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		return out
	}
	return nil
}

// compactJSON is v marshalled, for assembled outputs.
func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// speechAttrs describe generated speech as its size and type, not its bytes (as image spans
// keep the size of an image): output.value reads "[audio/mpeg, N bytes]" (text/plain), and
// OpenInference's audio.mime_type and aigw.response.bytes carry the type and size. The type is
// the one the request asked for (response_format, mp3 by default; stream_format "sse" answers
// with events).
func speechAttrs(a *attrs, req []byte, size int) {
	mt := "audio/mpeg"
	if gjson.GetBytes(req, "stream_format").String() == "sse" {
		mt = "text/event-stream"
	} else if f := gjson.GetBytes(req, "response_format").String(); f != "" {
		mt = speechMimeTypes[f]
		if mt == "" {
			mt = "application/octet-stream"
		}
	}
	a.str(oiOutputValue, "["+mt+", "+strconv.Itoa(size)+" bytes]")
	a.str(oiOutputMime, "text/plain")
	a.str("audio.mime_type", mt)
	a.int("aigw.response.bytes", int64(size))
}

// speechMimeTypes are the media types of the OpenAI speech formats.
var speechMimeTypes = map[string]string{
	"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm",
}

// withoutImageData is an image generation response with each image's base64 data replaced by its
// size, so that a span carries what was generated, not megabytes of pixels.
func withoutImageData(body []byte, resp gjson.Result) string {
	out := body
	for i, d := range resp.Get("data").Array() {
		if b := d.Get("b64_json"); b.Type == gjson.String {
			marker := "[base64 image, " + strconv.Itoa(len(b.String())) + " bytes]"
			if o, err := sjson.SetBytes(out, "data."+strconv.Itoa(i)+".b64_json", marker); err == nil {
				out = o
			}
		}
	}
	return string(out)
}
