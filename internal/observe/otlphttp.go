package observe

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// httpSpanExporter sends spans to an OTLP/HTTP collector as protobuf, encoded by
// appendTraceRequest into one reused buffer. It behaves as the SDK's otlptracehttp exporter does
// on the wire (POST, application/x-protobuf, optional gzip, the configured headers; 429, 502,
// 503 and 504 retried with backoff or Retry-After, for at most exportRetry), at a fraction of its
// CPU.
type httpSpanExporter struct {
	url     string
	headers map[string]string
	gzip    bool
	timeout time.Duration
	client  *http.Client

	mu      sync.Mutex // one export at a time: they share buf
	buf     []byte
	zbuf    bytes.Buffer
	zw      *gzip.Writer
	stopped bool
}

// maxKeptExportBuffer bounds the encoding buffer kept between exports.
const maxKeptExportBuffer = 8 << 20

func newHTTPSpanExporter(s otlpSettings, tlsFiles tlsSettings, compression string) (*httpSpanExporter, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2
	// A batch is hundreds of KiB: written in 64 KiB pieces rather than net/http's 4 KiB, the
	// kernel is entered about a sixteenth as often.
	tr.WriteBufferSize = 64 << 10
	if !s.insecure {
		cfg, err := tlsFiles.config()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	e := &httpSpanExporter{url: s.endpoint, headers: s.headers, timeout: s.timeout, client: &http.Client{Transport: tr}}
	switch strings.ToLower(strings.TrimSpace(compression)) {
	case "", "none":
	case "gzip":
		e.gzip = true
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION %q is not supported (use gzip or none)", compression)
	}
	return e, nil
}

// ExportSpans sends spans in one request.
func (e *httpSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	return e.send(ctx, func(b []byte) []byte { return appendTraceRequest(b, spans) })
}

// send posts the ExportTraceServiceRequest that encode appends to its argument, compressed when
// configured, retrying what may be retried.
func (e *httpSpanExporter) send(ctx context.Context, encode func([]byte) []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return errors.New("otlp trace exporter is shut down")
	}
	e.buf = encode(e.buf[:0])
	body := e.buf
	defer func() {
		if cap(e.buf) > maxKeptExportBuffer {
			e.buf = nil
		}
	}()
	if e.gzip {
		e.zbuf.Reset()
		if e.zw == nil {
			e.zw = gzip.NewWriter(&e.zbuf)
		} else {
			e.zw.Reset(&e.zbuf)
		}
		_, _ = e.zw.Write(body)
		if err := e.zw.Close(); err != nil {
			return err
		}
		body = e.zbuf.Bytes()
	}
	deadline := time.Now().Add(exportRetry)
	wait := 500 * time.Millisecond
	for {
		retry, after, err := e.post(ctx, body)
		if err == nil || !retry {
			return err
		}
		if after <= 0 {
			after = wait
			wait = min(2*wait, 2*time.Second)
		}
		if time.Now().Add(after).After(deadline) {
			return err
		}
		t := time.NewTimer(after)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// post sends one request and says whether a failure may be retried, and after how long when the
// collector said (Retry-After).
func (e *httpSpanExporter) post(ctx context.Context, body []byte) (retry bool, after time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	for k, v := range e.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "aigw OTLP trace exporter")
	if e.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		// The collector is unreachable or slow: worth another try while time remains.
		return ctx.Err() == nil, 0, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, 0, partialSuccess(resp.Header.Get("Content-Type"), answer)
	case code == http.StatusTooManyRequests, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return true, after, fmt.Errorf("otlp collector answered %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("otlp collector answered %s: %s", resp.Status, cut(strings.TrimSpace(string(answer)), 240))
	}
}

// partialSuccess is the error a collector's partial success carries, if any.
func partialSuccess(contentType string, answer []byte) error {
	if len(answer) == 0 || !strings.HasPrefix(contentType, "application/x-protobuf") {
		return nil
	}
	var r coltrace.ExportTraceServiceResponse
	if err := proto.Unmarshal(answer, &r); err != nil {
		return fmt.Errorf("otlp collector answer: %w", err)
	}
	if p := r.GetPartialSuccess(); p != nil && (p.GetRejectedSpans() != 0 || p.GetErrorMessage() != "") {
		return fmt.Errorf("otlp collector rejected %d spans: %s", p.GetRejectedSpans(), p.GetErrorMessage())
	}
	return nil
}

// Shutdown stops exporting; ExportSpans fails afterwards.
func (e *httpSpanExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	e.client.CloseIdleConnections()
	return nil
}

// tlsSettings are the OTEL_EXPORTER_OTLP_[TRACES_]{CERTIFICATE,CLIENT_CERTIFICATE,CLIENT_KEY}
// files: the collector's CA and a client certificate.
type tlsSettings struct {
	ca, cert, key string
}

// config is the TLS configuration of the files, or nil (system roots, no client certificate).
func (t tlsSettings) config() (*tls.Config, error) {
	if t == (tlsSettings{}) {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, fmt.Errorf("OTLP certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("OTLP certificate %s: no PEM certificate in it", t.ca)
		}
		cfg.RootCAs = pool
	}
	if t.cert != "" || t.key != "" {
		c, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("OTLP client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}
