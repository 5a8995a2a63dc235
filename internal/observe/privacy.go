package observe

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Privacy decides which request and response contents reach spans. Its switches are the
// OpenInference ones (OPENINFERENCE_HIDE_*, OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH) plus aigw's
// Redact, which replaces every body and message text with its length and a hash, so traces still
// show that two requests carried the same text without carrying it.
type Privacy struct {
	HideInputs, HideOutputs               bool
	HideInputMessages, HideOutputMessages bool
	HideInputImages                       bool
	HideInputText, HideOutputText         bool
	HideEmbeddingVectors                  bool
	// Base64ImageMaxLength bounds a data: image URL kept in a span (longer ones are redacted).
	Base64ImageMaxLength int
	Redact               bool
}

// RedactedValue replaces a hidden value, as OpenInference's instrumentations do.
const RedactedValue = "__REDACTED__"

// DefaultBase64ImageMaxLength is OpenInference's default for OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH.
const DefaultBase64ImageMaxLength = 32000

// PrivacyFromEnv reads the OpenInference hiding variables and AIGW_TRACE_REDACT.
func PrivacyFromEnv(getenv func(string) string) Privacy {
	b := func(name string) bool {
		v, _ := strconv.ParseBool(strings.TrimSpace(getenv(name)))
		return v
	}
	p := Privacy{
		HideInputs: b("OPENINFERENCE_HIDE_INPUTS"), HideOutputs: b("OPENINFERENCE_HIDE_OUTPUTS"),
		HideInputMessages: b("OPENINFERENCE_HIDE_INPUT_MESSAGES"), HideOutputMessages: b("OPENINFERENCE_HIDE_OUTPUT_MESSAGES"),
		HideInputImages: b("OPENINFERENCE_HIDE_INPUT_IMAGES"),
		HideInputText:   b("OPENINFERENCE_HIDE_INPUT_TEXT"), HideOutputText: b("OPENINFERENCE_HIDE_OUTPUT_TEXT"),
		HideEmbeddingVectors: b("OPENINFERENCE_HIDE_EMBEDDING_VECTORS"),
		Base64ImageMaxLength: DefaultBase64ImageMaxLength,
		Redact:               b("AIGW_TRACE_REDACT"),
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH"))); err == nil && n >= 0 {
		p.Base64ImageMaxLength = n
	}
	return p
}

// mask returns what to record for a string attribute, or false to leave it out. The rules go by
// attribute name, as OpenInference's TraceConfig does.
func (p *Privacy) mask(key, v string) (string, bool) {
	if *p == (Privacy{Base64ImageMaxLength: p.Base64ImageMaxLength}) {
		// Nothing hidden (the default): only a long data: image URL is replaced.
		if len(v) > p.Base64ImageMaxLength && strings.HasSuffix(key, ".image.url") && strings.HasPrefix(v, "data:") {
			return RedactedValue, true
		}
		return v, true
	}
	inMsg := strings.HasPrefix(key, oiInputMessages)
	outMsg := strings.HasPrefix(key, oiOutputMessages)
	text := strings.HasSuffix(key, ".message.content") || strings.HasSuffix(key, ".message_content.text")
	embText := strings.HasPrefix(key, "embedding.embeddings.") && strings.HasSuffix(key, ".embedding.text")
	prompt := strings.HasPrefix(key, "llm.prompts.")
	choice := strings.HasPrefix(key, "llm.choices.")
	switch {
	case p.HideInputs && key == "input.value", p.HideOutputs && key == "output.value":
		return RedactedValue, true
	case p.HideInputs && (key == "input.mime_type" || inMsg || prompt || embText),
		p.HideOutputs && (key == "output.mime_type" || outMsg || choice),
		p.HideInputMessages && inMsg, p.HideOutputMessages && outMsg,
		p.HideInputImages && inMsg && strings.Contains(key, ".image."):
		return "", false
	case p.HideInputText && ((inMsg && text) || embText || prompt),
		p.HideOutputText && ((outMsg && text) || choice):
		return RedactedValue, true
	}
	if strings.HasSuffix(key, ".image.url") && strings.HasPrefix(v, "data:") && len(v) > p.Base64ImageMaxLength {
		return RedactedValue, true
	}
	if p.Redact && isBody(key) {
		return redacted(v), true
	}
	return v, true
}

// isBody reports whether an attribute carries request or response contents.
func isBody(key string) bool {
	switch key {
	case "input.value", "output.value", "llm.invocation_parameters", "embedding.invocation_parameters":
		return true
	}
	for _, suffix := range []string{".message.content", ".message_content.text", ".image.url", ".function.arguments",
		".embedding.text", ".prompt.text", ".completion.text", ".tool.json_schema"} {
		if strings.HasSuffix(key, suffix) {
			return true
		}
	}
	return false
}

// redacted is v's length and the start of its SHA-256.
func redacted(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "[redacted " + strconv.Itoa(len(v)) + " bytes sha256:" + hex.EncodeToString(sum[:8]) + "]"
}
