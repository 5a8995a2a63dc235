package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// apiError is the body of an OpenAI error, field order as OpenAI sends it.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// openAIErrorBody wraps apiError the way OpenAI does.
type openAIErrorBody struct {
	Error apiError `json:"error"`
}

// anthropicErrorBody is Anthropic's error envelope.
type anthropicErrorBody struct {
	Type      string             `json:"type"`
	Error     anthropicErrorInfo `json:"error"`
	RequestID string             `json:"request_id"`
}

type anthropicErrorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Anthropic error types this simulator produces.
const (
	errInvalidRequest = "invalid_request_error"
	errNotFound       = "not_found_error"
	errTooLarge       = "request_too_large"
)

// ptr returns a pointer to s, for the optional param and code fields.
func ptr(s string) *string { return &s }

// requestError is a client mistake found while reading a request, carrying what both API shapes
// need to report it.
type requestError struct {
	status  int
	message string
	param   string // OpenAI param; empty = null
	code    string // OpenAI code; empty = null
	// malformed marks a body that is not JSON at all, which each API words differently.
	malformed bool
}

func (e *requestError) Error() string { return e.message }

// badRequest is a 400 for an invalid field.
func badRequest(message, param, code string) *requestError {
	return &requestError{status: http.StatusBadRequest, message: message, param: param, code: code}
}

// readOpenAI reads an OpenAI API request into req, validates it and checks its model, answering
// the client with OpenAI's error when any of that fails; it returns the model, or ok false.
func readOpenAI[T any](s *Server, w http.ResponseWriter, r *http.Request, req *T, validate func(*T) *requestError, model func(*T) string) (string, bool) {
	e := s.readJSON(w, r, req)
	if e == nil {
		e = validate(req)
	}
	if e != nil {
		s.openAIRequestError(w, e)
		return "", false
	}
	m := model(req)
	if modelUnknown(m) {
		s.openAIModelNotFound(w, m)
		return "", false
	}
	return m, true
}

// readJSON reads and decodes the request body into v. A body over maxBodyBytes is a 413 and
// anything that is not JSON of the right shape is a 400, in the words OpenAI uses.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) *requestError {
	buf := s.getBuf()
	defer s.putBuf(buf)
	b := bytes.NewBuffer(*buf)
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	*buf = b.Bytes()
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &requestError{status: http.StatusRequestEntityTooLarge,
			message: "Request too large: the body exceeds " + strconv.Itoa(maxBodyBytes) + " bytes."}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return &requestError{status: http.StatusBadRequest, message: "could not read the request body: " + err.Error()}
	}
	if err := json.Unmarshal(*buf, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest("Invalid type for '"+typeErr.Field+"': expected "+typeErr.Type.String()+
				", but got "+typeErr.Value+" instead.", typeErr.Field, "invalid_type")
		}
		return &requestError{status: http.StatusBadRequest, malformed: true,
			message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't " +
				"using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not " +
				"valid JSON.)"}
	}
	return nil
}

// writeJSON encodes v as the response body with the given status. HTML escaping is off because
// the providers do not escape <, > and &.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	buf := s.getBuf()
	defer s.putBuf(buf)
	b := bytes.NewBuffer(*buf)
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types reach here, so this is a programming error; say so in the API's shape.
		http.Error(w, `{"error":{"message":"demo: encoding response failed","type":"server_error","param":null,"code":null}}`,
			http.StatusInternalServerError)
		return
	}
	*buf = b.Bytes()
	h := w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(*buf)))
	w.WriteHeader(status)
	_, _ = w.Write(*buf) // a failed write means the client left; nothing to tell it
}

// openAIError writes an error in OpenAI's shape.
func (s *Server) openAIError(w http.ResponseWriter, status int, e apiError) {
	h := w.Header()
	h.Set("X-Request-Id", s.openAIRequestID())
	h.Set("Openai-Version", "2020-10-01")
	if status == http.StatusNotFound {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	s.writeJSON(w, status, openAIErrorBody{Error: e})
}

// openAIRequestError reports a requestError in OpenAI's shape.
func (s *Server) openAIRequestError(w http.ResponseWriter, e *requestError) {
	ae := apiError{Message: e.message, Type: "invalid_request_error"}
	if e.param != "" {
		ae.Param = ptr(e.param)
	}
	if e.code != "" {
		ae.Code = ptr(e.code)
	}
	s.openAIError(w, e.status, ae)
}

// openAIModelNotFound is OpenAI's answer for a model the account cannot use.
func (s *Server) openAIModelNotFound(w http.ResponseWriter, model string) {
	s.openAIError(w, http.StatusNotFound, apiError{
		Message: "The model `" + model + "` does not exist or you do not have access to it.",
		Type:    "invalid_request_error",
		Code:    ptr("model_not_found"),
	})
}

// anthropicError writes an error in Anthropic's shape, with the request id in both the header and
// the body as Anthropic does.
func (s *Server) anthropicError(w http.ResponseWriter, status int, typ, message string) {
	id := s.anthropicRequestID()
	w.Header().Set("Request-Id", id)
	s.writeJSON(w, status, anthropicErrorBody{
		Type:      "error",
		Error:     anthropicErrorInfo{Type: typ, Message: message},
		RequestID: id,
	})
}

// anthropicRequestError reports a requestError in Anthropic's shape.
func (s *Server) anthropicRequestError(w http.ResponseWriter, e *requestError) {
	typ := errInvalidRequest
	msg := e.message
	switch e.status {
	case http.StatusRequestEntityTooLarge:
		typ = errTooLarge
	case http.StatusBadRequest:
		if e.malformed {
			msg = "There was an error parsing the body of your request. Please check that it is valid JSON."
		}
	}
	s.anthropicError(w, e.status, typ, msg)
}
