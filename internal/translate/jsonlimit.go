package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// MaxJSONDepth bounds the nesting of every JSON document aigw reads: client requests, upstream
// bodies and each stream event. Real LLM payloads nest a few dozen levels at most (a JSON
// schema inside a tool inside a request); gjson's validator and encoding/json recurse once per
// level, so an unbounded document of `[[[[...` could exhaust the stack, which Go cannot recover.
const MaxJSONDepth = 256

// ErrJSONTooDeep is returned by DepthScanner when a document nests deeper than its limit.
var ErrJSONTooDeep = errors.New("JSON nested too deeply")

// DepthScanner measures the nesting depth of a JSON document in one linear, non-recursive pass,
// fed in any number of pieces. It does not validate the document (a recursive parser does that
// afterwards, once the depth is known to be safe); it only tracks strings, so brackets inside
// them do not count. The zero value uses MaxJSONDepth.
type DepthScanner struct {
	// Max is the deepest nesting allowed; 0 means MaxJSONDepth.
	Max   int
	depth int
	inStr bool // inside a string
	esc   bool // the previous piece ended in the middle of an escape sequence
	err   error
}

// Reset makes the scanner ready for a new document, keeping its limit.
func (s *DepthScanner) Reset() { *s = DepthScanner{Max: s.Max} }

// Depth is the current nesting depth.
func (s *DepthScanner) Depth() int { return s.depth }

// Feed scans the next piece of the document. Once it has returned an error it keeps returning it.
func (s *DepthScanner) Feed(b []byte) error {
	if s.err != nil {
		return s.err
	}
	_, s.err = s.scan(b, nil)
	return s.err
}

// topKeys counts the keys of a top-level object that routing reads, so a duplicate (which
// gjson resolves to the first and most providers to the last) can be refused.
type topKeys struct {
	model, stream int
	last          byte // the last structural byte seen at depth 1: '{', ',' or ':'
}

// scan is the one pass behind Feed and CheckRequestJSON. keys, when set, requires b to be the
// whole document (key boundaries are tracked within b only). It returns the offset it reached.
func (s *DepthScanner) scan(b []byte, keys *topKeys) (int, error) {
	max := s.Max
	if max <= 0 {
		max = MaxJSONDepth
	}
	i := 0
	for i < len(b) {
		if s.inStr {
			start := i
			if s.esc {
				s.esc = false
				i++
				start = i
			}
			end, pending := stringEnd(b, i)
			if end < 0 {
				// Inside a string still, maybe with an escape that takes the next piece's first byte.
				s.esc = pending
				return len(b), nil
			}
			s.inStr = false
			if keys != nil && s.depth == 1 && (keys.last == '{' || keys.last == ',') && start > 0 {
				keys.count(b[start-1 : end+1])
			}
			i = end + 1
			continue
		}
		switch c := b[i]; c {
		case '"':
			s.inStr = true
		case '{', '[':
			if s.depth == max {
				return i, fmt.Errorf("%w: more than %d levels", ErrJSONTooDeep, max)
			}
			s.depth++
			if keys != nil && s.depth == 1 {
				keys.last = c
				if c == '[' {
					keys.last = 0
				}
			}
		case '}', ']':
			if s.depth > 0 {
				s.depth--
			}
		case ',', ':':
			if keys != nil && s.depth == 1 && keys.last != 0 {
				keys.last = c
			}
		}
		i++
	}
	return i, nil
}

// stringEnd finds the closing quote of a string whose contents start at b[from] (no escape
// pending there), or returns -1 and whether b ends in the middle of an escape. Short strings,
// the usual kind, are walked byte by byte; long ones are searched with IndexByte.
func stringEnd(b []byte, from int) (end int, escPending bool) {
	i := from
	for {
		for lim := min(len(b), i+16); i < lim; i++ {
			switch b[i] {
			case '"':
				return i, false
			case '\\':
				i++ // the escaped byte
				if i == len(b) {
					return -1, true
				}
			}
		}
		if i >= len(b) {
			return -1, false
		}
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1, trailingBackslashes(b[i:])%2 == 1
		}
		k := bytes.IndexByte(b[i:i+q], '\\')
		if k < 0 {
			return i + q, false
		}
		i += k // walk on from the escape
	}
}

// trailingBackslashes counts the backslashes that end b.
func trailingBackslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

// count records a top-level key, given as its quoted JSON string.
func (k *topKeys) count(quoted []byte) {
	key := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		// An escaped key ("mod\u0065l") is the same key to a provider's JSON decoder.
		var s string
		if json.Unmarshal(quoted, &s) != nil {
			return
		}
		key = []byte(s)
	}
	switch string(key) {
	case "model":
		k.model++
	case "stream":
		k.stream++
	}
}

// CheckRequestJSON checks a client's JSON body in one linear pass before anything parses it
// recursively: its nesting is at most MaxJSONDepth, and its top-level object names `model` and
// `stream` at most once each, so what aigw routes on is what the provider reads. Errors are 400s.
func CheckRequestJSON(body []byte) error {
	var s DepthScanner
	var keys topKeys
	if _, err := s.scan(body, &keys); err != nil {
		return Errorf(http.StatusBadRequest, "invalid_request_body", "request body is nested more than %d levels deep", MaxJSONDepth)
	}
	for _, k := range [...]struct {
		name string
		n    int
	}{{"model", keys.model}, {"stream", keys.stream}} {
		if k.n > 1 {
			e := Errorf(http.StatusBadRequest, "duplicate_key", "request body has the key `%s` %d times: send it once", k.name, k.n)
			e.Param = k.name
			return e
		}
	}
	return nil
}

// CheckUpstreamJSON checks that a whole upstream body nests no deeper than MaxJSONDepth before a
// translator parses it; the error is a 502 for the client.
func CheckUpstreamJSON(body []byte) error {
	var s DepthScanner
	if _, err := s.scan(body, nil); err != nil {
		return upstreamInvalid("the backend's response is nested more than %d levels deep", MaxJSONDepth)
	}
	return nil
}
