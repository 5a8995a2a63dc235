package translate

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a gateway error destined for a client, rendered in the client's API shape.
type Error struct {
	Status  int
	Type    string // OpenAI-style type, e.g. "invalid_request_error"; derived from Status when empty
	Code    string
	Param   string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// Errorf builds an Error with a status and a message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// openAIErrorType is the OpenAI error type for a status.
func openAIErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

// anthropicErrorType is the Anthropic error type for a status, as its API documents them.
func anthropicErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == 529 || status == http.StatusServiceUnavailable:
		return "overloaded_error"
	case status == http.StatusGatewayTimeout:
		return "timeout_error"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}

type openAIErrorBody struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

type anthropicErrorBody struct {
	Type  string               `json:"type"`
	Error anthropicErrorDetail `json:"error"`
}

type anthropicErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ErrorBody renders e as the given API's error JSON.
func ErrorBody(api API, e *Error) []byte {
	var v any
	switch api {
	case APIAnthropic:
		v = anthropicErrorBody{Type: "error", Error: anthropicErrorDetail{Type: anthropicErrorType(e.Status), Message: e.Message}}
	default:
		typ := e.Type
		if typ == "" {
			typ = openAIErrorType(e.Status)
		}
		d := openAIErrorDetail{Message: e.Message, Type: typ}
		if e.Param != "" {
			d.Param = &e.Param
		}
		if e.Code != "" {
			d.Code = &e.Code
		}
		v = openAIErrorBody{Error: d}
	}
	b, _ := json.Marshal(v) // plain structs of strings cannot fail to marshal
	return b
}

// upstreamMessage makes a readable message from an upstream error body that is not in the
// expected shape (an HTML page from a proxy, plain text, nothing).
func upstreamMessage(status int, body []byte) string {
	const max = 512
	if len(body) == 0 {
		return fmt.Sprintf("upstream returned %d %s", status, http.StatusText(status))
	}
	if len(body) > max {
		body = body[:max]
	}
	return fmt.Sprintf("upstream returned %d %s: %s", status, http.StatusText(status), body)
}
