package extproc

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// headerEdits collects the header mutations of one ext_proc answer.
type headerEdits struct {
	sets    []*corev3.HeaderValueOption
	removes []string
}

func (m *headerEdits) set(name, value string) {
	m.sets = append(m.sets, headerOption(name, value, false))
}

func (m *headerEdits) add(name, value string) {
	m.sets = append(m.sets, headerOption(name, value, true))
}

func (m *headerEdits) remove(name string) { m.removes = append(m.removes, lower(name)) }

func (m *headerEdits) proto() *extprocv3.HeaderMutation {
	if m == nil || len(m.sets)+len(m.removes) == 0 {
		return nil
	}
	return &extprocv3.HeaderMutation{SetHeaders: m.sets, RemoveHeaders: m.removes}
}

// headerOption is one header to set (or append to), with its value as raw bytes, as Envoy
// expects from ext_proc servers.
func headerOption(name, value string, appendValue bool) *corev3.HeaderValueOption {
	action := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	if appendValue {
		action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	}
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: lower(name), RawValue: []byte(value)},
		AppendAction: action,
	}
}

// lower is an ASCII lower-casing of a header name: Envoy's header keys are lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// headersResponse continues a headers phase with mutations; response selects the direction.
func headersResponse(m *headerEdits, response bool) *extprocv3.ProcessingResponse {
	hr := &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{HeaderMutation: m.proto()}}
	if response {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: hr}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: hr}}
}

// continueHeaders lets response headers pass unchanged.
func continueHeaders() *extprocv3.ProcessingResponse { return headersResponse(nil, true) }

// continueBody lets a body chunk pass unchanged.
func continueBody(response bool) *extprocv3.ProcessingResponse {
	br := &extprocv3.BodyResponse{}
	if response {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: br}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: br}}
}

// bodyResponse answers a response body chunk with a mutation (and, in BUFFERED mode, headers).
func bodyResponse(m *headerEdits, b *extprocv3.BodyMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{HeaderMutation: m.proto(), BodyMutation: b}},
	}}
}

// replaceBody replaces a body or chunk; an empty one is cleared.
func replaceBody(b []byte) *extprocv3.BodyMutation {
	if len(b) == 0 {
		return &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}
	}
	return &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: b}}
}

// withMode sets how the rest of the response body is sent to the server.
func withMode(resp *extprocv3.ProcessingResponse, body extprocfilterv3.ProcessingMode_BodySendMode) *extprocv3.ProcessingResponse {
	resp.ModeOverride = &extprocfilterv3.ProcessingMode{
		ResponseHeaderMode: extprocfilterv3.ProcessingMode_SEND,
		ResponseBodyMode:   body,
	}
	return resp
}

// immediate answers the client at once with a JSON body.
func immediate(status int, body []byte, requestID string) *extprocv3.ProcessingResponse {
	var m headerEdits
	m.set("content-type", "application/json")
	if requestID != "" {
		m.set(requestIDKey, requestID)
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: &extprocv3.HeaderMutation{SetHeaders: m.sets},
			Body:    body,
			Details: "aigw_" + strconv.Itoa(status),
		},
	}}
}

// internalError is an immediate 500 for a protocol sequence the server cannot follow.
func internalError(why string) *extprocv3.ProcessingResponse {
	te := &translate.Error{Status: http.StatusInternalServerError, Code: "ext_proc", Message: "internal gateway error: " + why}
	return immediate(te.Status, translate.ErrorBody(translate.APIOpenAI, te), "")
}

// continueResponse lets a message of a phase the server does not process pass unchanged.
func continueResponse(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	switch req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return headersResponse(nil, false)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return continueHeaders()
	case *extprocv3.ProcessingRequest_RequestBody:
		return continueBody(false)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return continueBody(true)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	}
	return &extprocv3.ProcessingResponse{}
}

// endpointRef is the rule's backend reference of the endpoint Envoy picked for this attempt, read
// from the endpoint's metadata (namespace EndpointMetadataNamespace: "backend", "ref"). Envoy
// renders the metadata as JSON, so the namespace is looked for under either spelling of
// filter_metadata.
func endpointRef(st *Stream, attrs map[string]*structpb.Struct) (*config.BackendRef, error) {
	if st.rule == nil {
		return nil, errors.New("the request has no route")
	}
	var md *structpb.Struct
	if a := attrs[extProcAttributesKey]; a != nil {
		if v := a.Fields[UpstreamHostMetadataAttribute]; v != nil {
			md = v.GetStructValue()
		}
	}
	if md != nil {
		for _, key := range []string{"filter_metadata", "filterMetadata"} {
			if fm := md.Fields[key].GetStructValue(); fm != nil {
				md = fm
				break
			}
		}
		md = md.Fields[EndpointMetadataNamespace].GetStructValue()
	}
	if md == nil {
		return nil, translate.Errorf(http.StatusInternalServerError, "ext_proc", "the upstream filter got no %s attribute", UpstreamHostMetadataAttribute)
	}
	name := md.Fields["backend"].GetStringValue()
	i := int(md.Fields["ref"].GetNumberValue())
	if s := md.Fields["ref"].GetStringValue(); s != "" {
		i, _ = strconv.Atoi(s)
	}
	refs := st.rule.Backends
	if i < 0 || i >= len(refs) || refs[i].Backend.Name != name {
		// Envoy runs a configuration other than this request's (a reload in between).
		return nil, translate.Errorf(http.StatusServiceUnavailable, "config_changed", "backend %q (reference %d) is not in the rule %s of this configuration", name, i, st.rule.Name)
	}
	return refs[i], nil
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// asTranslateError is err as a client error, or one of the given status and code.
func asTranslateError(err error, status int, code string) *translate.Error {
	var te *translate.Error
	if errors.As(err, &te) {
		return te
	}
	return translate.Errorf(status, code, "%v", err)
}
