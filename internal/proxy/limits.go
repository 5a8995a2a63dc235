package proxy

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aigw/aigw/internal/translate"
)

// Defaults of Limits.
const (
	// DefaultRequestBodyTimeout is how long a client has to send its whole request body.
	DefaultRequestBodyTimeout = 30 * time.Second
	// DefaultMaxConnections caps open client connections to the gateway listener.
	DefaultMaxConnections = 4096
	// DefaultMaxUpstreamBodyBytes bounds a non-streamed upstream body after decompression.
	DefaultMaxUpstreamBodyBytes = 64 << 20
	// DefaultMaxStreamEventBytes bounds one upstream server-sent event.
	DefaultMaxStreamEventBytes = translate.DefaultMaxSSEEventBytes
)

// Limits bound what one client or one backend can make the data plane hold.
type Limits struct {
	// RequestBodyTimeout is how long the whole request body may take to arrive, from the end of
	// its headers; a body slower than that (or one that never ends) is a 408 and its connection
	// is closed.
	RequestBodyTimeout time.Duration
	// MaxConnections caps the client connections open at once; past it, new connections wait
	// in the listen queue until one closes. The admin server has its own listener.
	MaxConnections int
	// MaxUpstreamBodyBytes bounds a non-streamed upstream response after decompression; a larger
	// one is a 502, never a cut body.
	MaxUpstreamBodyBytes int64
	// MaxStreamEventBytes bounds one event of an upstream stream; a larger one ends the stream
	// with an error event.
	MaxStreamEventBytes int
}

func (l Limits) withDefaults() Limits {
	if l.RequestBodyTimeout <= 0 {
		l.RequestBodyTimeout = DefaultRequestBodyTimeout
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxUpstreamBodyBytes <= 0 {
		l.MaxUpstreamBodyBytes = DefaultMaxUpstreamBodyBytes
	}
	if l.MaxStreamEventBytes <= 0 {
		l.MaxStreamEventBytes = DefaultMaxStreamEventBytes
	}
	return l
}

// withBodyDeadline gives every request that has a body RequestBodyTimeout to send all of it. The
// deadline is on the connection, so a stalled body fails its read and the connection is closed;
// handlers that read the body clear it once they have (see readBody), since the same deadline
// would otherwise cut the connection under a long response.
func (s *Server) withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			// Not every ResponseWriter supports deadlines (some test recorders do not); then there
			// is no connection to protect.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.limits.RequestBodyTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// limitListener accepts at most n connections at once: Accept waits for a closed connection
// before it takes another, so a flood of slow clients queues in the kernel instead of taking
// every descriptor of the process.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
