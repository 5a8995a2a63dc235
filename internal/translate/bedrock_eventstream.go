package translate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// AWSEventStreamType is the content type of Bedrock's streamed responses: binary frames of the
// AWS event-stream encoding, not server-sent events.
const AWSEventStreamType = "application/vnd.amazon.eventstream"

// IsAWSEventStream reports whether a response is an AWS event stream.
func IsAWSEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), AWSEventStreamType)
}

// MaxAWSEventBytes bounds one event-stream frame (prelude, headers, payload and CRCs); a larger
// frame is refused rather than buffered. The SDK's decoder allows payloads up to 16 MiB.
const MaxAWSEventBytes = 16 << 20

// awsEvent is one decoded frame: its message type (event, exception, error), event or exception
// type, and payload.
type awsEvent struct {
	messageType string
	eventType   string
	payload     []byte
	// errorCode and errorMessage are the headers of an "error" frame.
	errorCode, errorMessage string
}

// awsEventDecoder splits an event stream into frames as network chunks arrive, and decodes each
// whole frame (CRCs checked) with the SDK's decoder. Only a frame cut by a chunk boundary is
// copied and carried to the next chunk.
type awsEventDecoder struct {
	dec     *eventstream.Decoder
	r       bytes.Reader
	pending []byte
	payload []byte
}

// each calls fn for every whole frame in chunk (after any carried part); fn's event is valid
// until fn returns. An error means the stream is not a valid event stream.
func (d *awsEventDecoder) each(chunk []byte, fn func(awsEvent) error) error {
	if d.dec == nil {
		d.dec = eventstream.NewDecoder()
	}
	buf := chunk
	if len(d.pending) > 0 {
		d.pending = append(d.pending, chunk...)
		buf = d.pending
	}
	for len(buf) >= 4 {
		total := int(binary.BigEndian.Uint32(buf))
		if total < 16 || total > MaxAWSEventBytes {
			return fmt.Errorf("event-stream frame of %d bytes", total)
		}
		if len(buf) < total {
			break
		}
		d.r.Reset(buf[:total])
		m, err := d.dec.Decode(&d.r, d.payload[:0])
		if err != nil {
			return fmt.Errorf("event-stream frame: %w", err)
		}
		d.payload = m.Payload
		ev := awsEvent{payload: m.Payload}
		for _, h := range m.Headers {
			switch h.Name {
			case ":message-type":
				ev.messageType = h.Value.String()
			case ":event-type", ":exception-type":
				ev.eventType = h.Value.String()
			case ":error-code":
				ev.errorCode = h.Value.String()
			case ":error-message":
				ev.errorMessage = h.Value.String()
			}
		}
		buf = buf[total:]
		if err := fn(ev); err != nil {
			return err
		}
	}
	// Keep the partial frame; it may point into chunk, which the caller reuses.
	d.pending = append(d.pending[:0], buf...)
	return nil
}

// complete reports whether no partial frame is pending.
func (d *awsEventDecoder) complete() bool { return len(d.pending) == 0 }

// bedrockExceptionStatus is the HTTP status of each Bedrock exception, as the API reference
// lists them (exceptions inside a stream carry only the type), except the model's own failures
// (424 at Bedrock), which a client sees as the upstream failure they are: 502.
var bedrockExceptionStatus = map[string]int{
	"validationException":           http.StatusBadRequest,
	"ValidationException":           http.StatusBadRequest,
	"accessDeniedException":         http.StatusForbidden,
	"AccessDeniedException":         http.StatusForbidden,
	"resourceNotFoundException":     http.StatusNotFound,
	"ResourceNotFoundException":     http.StatusNotFound,
	"throttlingException":           http.StatusTooManyRequests,
	"ThrottlingException":           http.StatusTooManyRequests,
	"serviceQuotaExceededException": http.StatusTooManyRequests,
	"ServiceQuotaExceededException": http.StatusTooManyRequests,
	"modelTimeoutException":         http.StatusRequestTimeout,
	"ModelTimeoutException":         http.StatusRequestTimeout,
	"serviceUnavailableException":   http.StatusServiceUnavailable,
	"ServiceUnavailableException":   http.StatusServiceUnavailable,
	"modelNotReadyException":        http.StatusTooManyRequests,
	"ModelNotReadyException":        http.StatusTooManyRequests,
	"internalServerException":       http.StatusInternalServerError,
	"InternalServerException":       http.StatusInternalServerError,
	"modelStreamErrorException":     http.StatusBadGateway,
	"ModelStreamErrorException":     http.StatusBadGateway,
	"modelErrorException":           http.StatusBadGateway,
	"ModelErrorException":           http.StatusBadGateway,
}

// bedrockError is the Error for an exception in a stream, or an error frame.
func bedrockStreamError(ev awsEvent) *Error {
	code, msg := ev.eventType, ""
	if ev.messageType == "error" {
		code, msg = ev.errorCode, ev.errorMessage
	} else {
		var body struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(ev.payload, &body) == nil {
			msg = body.Message
		}
	}
	if msg == "" {
		msg = "the Bedrock backend reported " + code
	}
	status, ok := bedrockExceptionStatus[code]
	if !ok {
		status = http.StatusBadGateway
	}
	return &Error{Status: status, Code: code, Message: msg}
}

// bedrockErrorBody reads a non-2xx Bedrock answer: {"message": ...} (or "Message") with the
// exception's type in the X-Amzn-Errortype header ("ValidationException:http://...").
func bedrockErrorBody(status int, h http.Header, body []byte) *Error {
	var b struct {
		Message string `json:"message"` // "Message" too: encoding/json matches names without case
	}
	_ = json.Unmarshal(body, &b)
	code, _, _ := strings.Cut(h.Get("X-Amzn-Errortype"), ":")
	msg := b.Message
	if msg == "" {
		msg = upstreamMessage(status, body)
	}
	return &Error{Status: status, Code: code, Message: msg}
}
