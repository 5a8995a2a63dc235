package mcpstdio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tidwall/gjson"
)

// proc is one running child process and its stdio connection, built on the SDK's
// CommandTransport (newline-delimited JSON-RPC, and the close-stdin → SIGTERM → SIGKILL shutdown).
type proc struct {
	cmd      *exec.Cmd
	conn     mcp.Connection
	pid      int
	stopOnce sync.Once
	stopErr  error
}

// startProc starts the child described by cfg; it does not speak MCP yet.
func startProc(ctx context.Context, cfg Config) (*proc, error) {
	cmd := exec.Command(cfg.Command, cfg.Args...)
	cmd.Env = cfg.childEnv()
	cmd.Dir = cfg.Dir
	cmd.Stderr = newLogWriter(cfg.Logger, cfg.Name)
	// A grandchild holding stderr open must not keep Wait (and so shutdown) blocked forever.
	cmd.WaitDelay = cfg.StopTimeout
	setProcessGroup(cmd)
	t := &mcp.CommandTransport{Command: cmd, TerminateDuration: cfg.StopTimeout}
	conn, err := t.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Command, err)
	}
	return &proc{cmd: cmd, conn: conn, pid: cmd.Process.Pid}, nil
}

// stop ends the child: close stdin, wait, SIGTERM, wait, SIGKILL (the transport's Close), and
// then kill whatever is left of its process group so no grandchild survives.
func (p *proc) stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.conn.Close()
		killProcessGroup(p.pid)
	})
	return p.stopErr
}

// initResult is what the child answered to the bridge's initialize, kept verbatim so clients'
// initialize and server/discover are answered from it.
type initResult struct {
	ProtocolVersion string          `json:"protocolVersion"`
	Capabilities    json.RawMessage `json:"capabilities"`
	ServerInfo      json.RawMessage `json:"serverInfo"`
	Instructions    string          `json:"instructions,omitempty"`
}

// hasListChanged reports whether the child advertises list_changed for a feature.
func (r *initResult) hasListChanged(feature string) bool {
	return gjson.GetBytes(r.Capabilities, feature+".listChanged").Bool()
}

// bridgeClientInfo is how the bridge introduces itself to a shared child.
var bridgeClientInfo = json.RawMessage(`{"name":"aigw-mcp-bridge","version":"1"}`)

// childClient is what the bridge declares to a child in initialize: no capabilities for the
// shared child, so a server never offers one session what needs another session's client
// (sampling, elicitation, roots); a client's own capabilities and info for a child that
// serves that client alone (see children.go).
type childClient struct {
	Capabilities json.RawMessage
	ClientInfo   json.RawMessage
}

// key identifies children that may serve the same clients: those declared the same way.
func (c childClient) key() string { return string(c.Capabilities) }

// initialize performs the MCP handshake with a freshly started child. It reads the
// connection itself because the routing loop starts only once the child is ready.
func (p *proc) initialize(ctx context.Context, log *slog.Logger, cc childClient) (*initResult, error) {
	id := strID("aigw-initialize")
	caps, info := cc.Capabilities, cc.ClientInfo
	if len(caps) == 0 {
		caps = json.RawMessage(`{}`)
	}
	if len(info) == 0 {
		info = bridgeClientInfo
	}
	params, _ := json.Marshal(map[string]any{
		"protocolVersion": version20251125,
		"capabilities":    caps,
		"clientInfo":      info,
	})
	if err := p.conn.Write(ctx, &jsonrpc.Request{ID: id, Method: methodInitialize, Params: params}); err != nil {
		return nil, fmt.Errorf("sending initialize: %w", err)
	}
	for {
		msg, err := p.conn.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("waiting for the initialize result: %w", err)
		}
		switch msg := msg.(type) {
		case *jsonrpc.Response:
			if msg.ID != id {
				continue
			}
			if msg.Error != nil {
				return nil, fmt.Errorf("initialize failed: %w", msg.Error)
			}
			var res initResult
			if err := json.Unmarshal(msg.Result, &res); err != nil {
				return nil, fmt.Errorf("decoding the initialize result: %w", err)
			}
			if !isLegacyVersion(res.ProtocolVersion) {
				return nil, fmt.Errorf("the server answered with unsupported protocol version %q", res.ProtocolVersion)
			}
			if len(res.Capabilities) == 0 {
				res.Capabilities = json.RawMessage(`{}`)
			}
			note := &jsonrpc.Request{Method: notifInitialized}
			if err := p.conn.Write(ctx, note); err != nil {
				return nil, fmt.Errorf("sending initialized: %w", err)
			}
			return &res, nil
		case *jsonrpc.Request:
			// Before initialized only pings and log messages are allowed; answer pings.
			if msg.IsCall() {
				var resp *jsonrpc.Response
				if msg.Method == methodPing {
					resp = &jsonrpc.Response{ID: msg.ID, Result: emptyResult}
				} else {
					resp = errorResponse(msg.ID, codeInvalidRequest, "not initialized yet")
				}
				if err := p.conn.Write(ctx, resp); err != nil {
					return nil, err
				}
				continue
			}
			log.Debug("dropping notification sent before initialization", "method", msg.Method)
		}
	}
}

// discover performs the 2026-07-28 handshake with a freshly started child: server/discover as
// its first message. A child that does not answer with 2026-07-28 among its supported versions
// is not a 2026-07-28 server (errNotModern); one that answers is used without initialize.
func (p *proc) discover(ctx context.Context) (*initResult, error) {
	id := strID("aigw-discover")
	params, _ := json.Marshal(map[string]any{"_meta": map[string]any{
		metaProtocolVersion:    version20260728,
		metaClientCapabilities: map[string]any{},
		metaClientInfo:         bridgeClientInfo,
	}})
	if err := p.conn.Write(ctx, &jsonrpc.Request{ID: id, Method: methodDiscover, Params: params}); err != nil {
		return nil, fmt.Errorf("sending server/discover: %w", err)
	}
	for {
		msg, err := p.conn.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotModern, err)
		}
		resp, ok := msg.(*jsonrpc.Response)
		if !ok || resp.ID != id {
			continue
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%w: %v", errNotModern, resp.Error)
		}
		modern := false
		gjson.GetBytes(resp.Result, "supportedVersions").ForEach(func(_, v gjson.Result) bool {
			modern = modern || v.Str == version20260728
			return !modern
		})
		if !modern {
			return nil, fmt.Errorf("%w: it supports %s", errNotModern, gjson.GetBytes(resp.Result, "supportedVersions").Raw)
		}
		res := &initResult{
			ProtocolVersion: version20260728,
			Capabilities:    json.RawMessage(gjson.GetBytes(resp.Result, "capabilities").Raw),
			ServerInfo:      json.RawMessage(gjson.GetBytes(resp.Result, "_meta."+gjsonEscape(metaServerInfo)).Raw),
			Instructions:    gjson.GetBytes(resp.Result, "instructions").Str,
		}
		if len(res.Capabilities) == 0 {
			res.Capabilities = json.RawMessage(`{}`)
		}
		return res, nil
	}
}

// errNotModern says a child does not speak the 2026-07-28 revision over stdio.
var errNotModern = errors.New("the server does not speak 2026-07-28 over stdio")

func isLegacyVersion(v string) bool {
	for _, lv := range legacyVersions {
		if v == lv {
			return true
		}
	}
	return false
}

// backoff yields restart delays: 100ms doubling up to max, reset once a child stays up.
type backoff struct {
	max, next time.Duration
}

func (b *backoff) delay(upFor time.Duration) time.Duration {
	if b.next == 0 || upFor > b.max {
		b.next = 100 * time.Millisecond
	}
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}

// errChildGone is what in-flight requests see when the child exits under them.
var errChildGone = errors.New("the MCP server process exited; aigw is restarting it")

// logWriter turns the child's stderr into log lines prefixed with the server's name.
type logWriter struct {
	log    *slog.Logger
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func newLogWriter(log *slog.Logger, name string) *logWriter {
	return &logWriter{log: log, prefix: "[" + name + "] "}
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a very long line without newline: flush what we have
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func (w *logWriter) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return
	}
	w.log.Info(w.prefix+string(line), "source", "stderr")
}
