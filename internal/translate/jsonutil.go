package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// marshalJSON encodes v compactly without escaping <, > and & (which encoding/json does by
// default for HTML safety, and which would needlessly rewrite model text on its way through).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// appendSSEJSON appends v as one server-sent event. Marshalling a translator's own wire structs
// cannot fail (no channels, funcs or unsupported floats in them), so an error is dropped rather
// than threaded through every stream path.
func appendSSEJSON(dst []byte, event string, v any) []byte {
	data, err := marshalJSON(v)
	if err != nil {
		return dst
	}
	return AppendSSE(dst, event, data)
}

// isJSONNull reports whether b is empty or the JSON literal null.
func isJSONNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}

// compactJSON returns raw without insignificant whitespace, or raw itself when it is not JSON.
func compactJSON(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}

// jsonString returns the string a raw JSON value holds, or "" when it holds something else.
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// badRequest is the 400 for a client body aigw cannot read.
func badRequest(param, format string, args ...any) *Error {
	e := Errorf(http.StatusBadRequest, "invalid_request_body", format, args...)
	e.Param = param
	return e
}

// untranslatable is the 422 for a request feature the backend's API has no way to express.
func untranslatable(param, format string, args ...any) *Error {
	e := Errorf(http.StatusUnprocessableEntity, "unsupported_translation", format, args...)
	e.Param = param
	return e
}

// upstreamInvalid is the 502 for a successful upstream answer aigw cannot read.
func upstreamInvalid(format string, args ...any) *Error {
	return Errorf(http.StatusBadGateway, "invalid_upstream_response", format, args...)
}

// bodyBuffer collects a non-streamed response body, which the data plane may deliver in chunks.
type bodyBuffer struct{ b []byte }

// whole adds a chunk and, with the last one, returns the whole body and true. A body delivered
// in one piece is returned without a copy.
func (bb *bodyBuffer) whole(chunk []byte, eos bool) ([]byte, bool) {
	if !eos {
		bb.b = append(bb.b, chunk...)
		return nil, false
	}
	if len(bb.b) == 0 {
		return chunk, true
	}
	return append(bb.b, chunk...), true
}

// marshalTextOr encodes a union that is either a string or an array (message content in both
// APIs): the array when set, else the string, else null.
func marshalTextOr[T any](text *string, items []T) ([]byte, error) {
	switch {
	case items != nil:
		return marshalJSON(items)
	case text != nil:
		return marshalJSON(*text)
	}
	return []byte("null"), nil
}

// unmarshalTextOr decodes such a union into whichever of text and items it holds.
func unmarshalTextOr[T any](b []byte, text **string, items *[]T, what string) error {
	*text, *items = nil, nil
	switch {
	case isJSONNull(b):
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*text = &s
		return nil
	case b[0] == '[':
		*items = []T{}
		return json.Unmarshal(b, items)
	}
	return fmt.Errorf("content must be a string or an array of %s", what)
}
