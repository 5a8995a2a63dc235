package translate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
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
//
// Decoding a frame's headers is most of the SDK decoder's cost (a string, a value and a map
// entry per header), and nearly every frame of a stream has the same headers as the frame before
// it (":event-type contentBlockDelta" and the same content and message types). So the last
// headers the SDK decoded are kept with the event fields read from them, and a frame whose
// header bytes are identical, whose lengths are consistent and whose prelude and message CRCs
// both check is taken without decoding again: the SDK would read exactly the same headers from
// the same bytes, and the same payload. Any other frame goes to the SDK.
type awsEventDecoder struct {
	dec     *eventstream.Decoder
	r       bytes.Reader
	pending []byte
	payload []byte
	// last holds the header bytes of the last frame the SDK decoded, and lastEvent the event
	// fields read from them (its payload unset); sdkOnly turns their reuse off, for tests.
	last      []byte
	lastEvent awsEvent
	hasLast   bool
	sdkOnly   bool
}

// The layout of a frame: total length, headers length, prelude CRC, headers, payload, message
// CRC.
const (
	awsPreludeLen = 12
	awsFrameMin   = awsPreludeLen + 4
)

// each calls fn for every whole frame in chunk (after any carried part); fn's event is valid
// until fn returns. An error means the stream is not a valid event stream.
func (d *awsEventDecoder) each(chunk []byte, fn func(awsEvent) error) error {
	buf := chunk
	if len(d.pending) > 0 {
		d.pending = append(d.pending, chunk...)
		buf = d.pending
	}
	for len(buf) >= 4 {
		total := int(binary.BigEndian.Uint32(buf))
		if total < awsFrameMin || total > MaxAWSEventBytes {
			return fmt.Errorf("event-stream frame of %d bytes", total)
		}
		if len(buf) < total {
			break
		}
		ev, ok := d.repeated(buf[:total])
		if !ok {
			var err error
			if ev, err = d.decode(buf[:total]); err != nil {
				return err
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

// decode decodes a whole frame with the SDK's decoder and keeps its headers for repeated.
func (d *awsEventDecoder) decode(frame []byte) (awsEvent, error) {
	if d.dec == nil {
		d.dec = eventstream.NewDecoder()
	}
	d.r.Reset(frame)
	m, err := d.dec.Decode(&d.r, d.payload[:0])
	if err != nil {
		return awsEvent{}, fmt.Errorf("event-stream frame: %w", err)
	}
	d.payload = m.Payload
	var ev awsEvent
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
	// The SDK read the headers and the message CRC within the frame, so they fit in it; the
	// check only keeps a mistake here from becoming a panic.
	d.hasLast = false
	if hl := int(binary.BigEndian.Uint32(frame[4:])); hl <= len(frame)-awsFrameMin {
		d.last, d.lastEvent, d.hasLast = append(d.last[:0], frame[awsPreludeLen:awsPreludeLen+hl]...), ev, true
	}
	ev.payload = m.Payload
	return ev, nil
}

// repeated returns the event of a frame whose headers are byte for byte those the SDK decoded
// last, when its lengths are consistent and both its CRCs check (as the SDK checks them).
func (d *awsEventDecoder) repeated(frame []byte) (awsEvent, bool) {
	if !d.hasLast || d.sdkOnly {
		return awsEvent{}, false
	}
	total := len(frame)
	hl := int(binary.BigEndian.Uint32(frame[4:]))
	if hl != len(d.last) || hl > total-awsFrameMin ||
		crc32.ChecksumIEEE(frame[:8]) != binary.BigEndian.Uint32(frame[8:]) ||
		!bytes.Equal(frame[awsPreludeLen:awsPreludeLen+hl], d.last) ||
		crc32.ChecksumIEEE(frame[:total-4]) != binary.BigEndian.Uint32(frame[total-4:]) {
		return awsEvent{}, false
	}
	ev := d.lastEvent
	if payload := frame[awsPreludeLen+hl : total-4]; len(payload) > 0 {
		ev.payload = payload
	}
	return ev, true
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
