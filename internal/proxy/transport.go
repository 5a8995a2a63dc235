package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// transports hands out one connection pool per distinct backend TLS setting, so backends with
// the default setting share a pool and reloads of the same configuration reuse it.
type transports struct {
	base http.RoundTripper
	mu   sync.Mutex
	byID map[[32]byte]http.RoundTripper
}

func newTransports(base http.RoundTripper) *transports {
	return &transports{base: base, byID: map[[32]byte]http.RoundTripper{}}
}

// get returns the round tripper for b.
func (t *transports) get(b *config.Backend) http.RoundTripper {
	if b.TLS == nil {
		return t.base
	}
	id := tlsID(b.TLS)
	t.mu.Lock()
	defer t.mu.Unlock()
	if rt, ok := t.byID[id]; ok {
		return rt
	}
	rt := newTransport()
	rt.TLSClientConfig = tlsConfig(b.TLS)
	t.byID[id] = rt
	return rt
}

func tlsID(c *config.TLS) [32]byte {
	h := sha256.New()
	h.Write([]byte(c.ServerName))
	h.Write([]byte{0})
	h.Write(c.CACertPEM)
	if c.InsecureSkipVerify {
		h.Write([]byte{1})
	}
	var id [32]byte
	copy(id[:], h.Sum(nil))
	return id
}

// tlsConfig builds a client TLS configuration; the loader has already checked the PEM parses.
func tlsConfig(c *config.TLS) *tls.Config {
	cfg := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if len(c.CACertPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(c.CACertPEM)
		cfg.RootCAs = pool
	}
	return cfg
}

// newTransport is an http.Transport for a gateway: keep-alive pools sized for concurrency, no
// overall client timeout (streams are long), bounded dials and TLS handshakes.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
