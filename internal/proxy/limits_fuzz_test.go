package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/translate"
)

// FuzzUpstreamBody runs the non-streamed body buffer on any provider body, plain or gzipped: it
// never returns more than the limit, refuses what is over it or nested too deep with a 502, and
// never panics.
func FuzzUpstreamBody(f *testing.F) {
	f.Add([]byte(chatOK), false, uint16(4096))
	f.Add([]byte(strings.Repeat("[", 600)), false, uint16(4096))
	f.Add(bytes.Repeat([]byte("0"), 5000), true, uint16(100))
	f.Add([]byte(`{"a":"[[[[\"]]]"}`), true, uint16(20))
	f.Fuzz(func(t *testing.T, body []byte, gz bool, limit uint16) {
		s := &Server{limits: Limits{MaxUpstreamBodyBytes: int64(limit) + 1}.withDefaults()}
		wire, size := body, int64(len(body))
		h := http.Header{"Content-Type": {"application/json"}}
		if gz { // a coded body: its decompressed length is unknown
			size = -1
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(body)
			_ = zw.Close()
			wire = buf.Bytes()
			h.Set("Content-Encoding", "gzip")
		}
		req, _ := http.NewRequest(http.MethodPost, "http://upstream/", nil)
		resp := &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader(wire)), ContentLength: size, Request: req}
		r, err := decodedBody(resp)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.readUpstreamBody(&upstreamCall{resp: resp}, r)
		max := s.limits.MaxUpstreamBodyBytes
		if err != nil {
			var te *translate.Error
			if !errors.As(err, &te) || te.Status != http.StatusBadGateway {
				t.Fatalf("error %v is not a 502", err)
			}
			if int64(len(body)) <= max && translate.CheckUpstreamJSON(body) == nil {
				t.Fatalf("refused a %d-byte body under the %d limit: %v", len(body), max, err)
			}
			return
		}
		if int64(len(out)) > max || !bytes.Equal(out, body) {
			t.Fatalf("got %d bytes (limit %d) for a %d-byte body", len(out), max, len(body))
		}
	})
}
