package demo

import "strconv"

// Identifiers look like the providers' (same prefixes, lengths and alphabets) so anything that
// parses or logs them sees realistic values. They come from a per-server atomic counter run
// through splitmix64: unique, random-looking, and free of locks or crypto/rand on the hot path.

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix followed by n characters drawn from alphabet.
func (s *Server) newID(prefix, alphabet string, n int) string {
	x := splitmix64(s.idBase + s.idCount.Add(1)*0x9e3779b97f4a7c15)
	var buf [64]byte
	b := append(buf[:0], prefix...)
	for i := 0; i < n; i++ {
		if i%8 == 7 {
			x = splitmix64(x)
		}
		b = append(b, alphabet[x%uint64(len(alphabet))])
		x /= uint64(len(alphabet))
	}
	return string(b)
}

// chatID is an OpenAI chat completion id: "chatcmpl-" and 29 alphanumerics.
func (s *Server) chatID() string { return s.newID("chatcmpl-", alnum, 29) }

// completionID is a legacy completion id: "cmpl-" and 29 alphanumerics.
func (s *Server) completionID() string { return s.newID("cmpl-", alnum, 29) }

// toolCallID is an OpenAI tool call id: "call_" and 24 alphanumerics.
func (s *Server) toolCallID() string { return s.newID("call_", alnum, 24) }

// openAIRequestID is OpenAI's x-request-id: "req_" and 32 hex digits.
func (s *Server) openAIRequestID() string { return s.newID("req_", "0123456789abcdef", 32) }

// messageID is an Anthropic message id: "msg_01" and 22 alphanumerics.
func (s *Server) messageID() string { return s.newID("msg_01", alnum, 22) }

// toolUseID is an Anthropic tool_use block id: "toolu_01" and 22 alphanumerics.
func (s *Server) toolUseID() string { return s.newID("toolu_01", alnum, 22) }

// anthropicRequestID is Anthropic's request-id: "req_011C" and 20 alphanumerics.
func (s *Server) anthropicRequestID() string { return s.newID("req_011C", alnum, 20) }

// fingerprint is a stable system_fingerprint per model, as OpenAI keeps one per deployment.
func fingerprint(model string) string {
	h := splitmix64(fnv64(fnvOffset, model))
	b := strconv.AppendUint([]byte("fp_"), h&0xffffffffff, 16)
	for len(b) < 13 {
		b = append(b, '0')
	}
	return string(b)
}
