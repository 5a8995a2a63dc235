package proxy

import (
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
)

// decodedBody returns the response body with any content coding removed, so the pipeline sees
// plain JSON or SSE. (The transport already undoes gzip it negotiated itself; this covers
// providers that compress unasked, and brotli.)
func decodedBody(resp *http.Response) (io.Reader, error) {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return resp.Body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("backend sent a malformed gzip body: %w", err)
		}
		return zr, nil
	case "br":
		return brotli.NewReader(resp.Body), nil
	case "deflate":
		return flate.NewReader(resp.Body), nil
	}
	return nil, fmt.Errorf("backend sent an unsupported content encoding %q", enc)
}
