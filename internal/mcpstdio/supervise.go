package mcpstdio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// This file is the child's life cycle under a multiplexer: start, supervise, restart with
// back-off after a crash (failing what was in flight and restoring what sessions expect), stop.

// start launches and initialises the child, then supervises it until close. A child that
// cannot be started the first time is an error; later crashes are restarted with back-off.
func (m *mux) start(ctx context.Context) error {
	p, res, err := m.launch(ctx)
	if err != nil {
		close(m.done)
		return err
	}
	if !m.install(p, res) {
		_ = p.stop()
		close(m.done)
		return errors.New("aigw is shutting down")
	}
	go m.supervise(p)
	return nil
}

// launch starts one child and performs the MCP handshake with it.
func (m *mux) launch(ctx context.Context) (*proc, *initResult, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.InitTimeout)
	defer cancel()
	p, err := startProc(ctx, m.cfg)
	if err != nil {
		return nil, nil, err
	}
	var res *initResult
	if m.modern {
		res, err = p.discover(ctx)
	} else {
		res, err = p.initialize(ctx, m.log, m.client)
	}
	if err != nil {
		_ = p.stop()
		return nil, nil, fmt.Errorf("initializing %s: %w", m.cfg.Name, err)
	}
	m.log.Info("MCP server started", "server", m.cfg.Name, "pid", p.pid,
		"protocolVersion", res.ProtocolVersion)
	return p, res, nil
}

// install makes p the current child; it reports false when the bridge is closing.
func (m *mux) install(p *proc, res *initResult) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.p, m.init = p, res
	m.gen++
	close(m.ready)
	return true
}

// supervise reads the current child until it exits, fails what was in flight, and restarts it.
func (m *mux) supervise(p *proc) {
	defer close(m.done)
	var bo backoff
	bo.max = m.cfg.MaxRestartDelay
	for {
		startedAt := time.Now()
		m.readLoop(p)
		m.mu.Lock()
		closing := m.closing
		m.mu.Unlock()
		err := p.stop()
		if closing {
			return
		}
		m.log.Warn("MCP server exited; restarting", "server", m.cfg.Name, "pid", p.pid, "err", err)
		m.childLost()
		for {
			select {
			case <-m.stop:
				return
			case <-time.After(bo.delay(time.Since(startedAt))):
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-m.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			np, res, err := m.launch(ctx)
			cancel()
			if err == nil {
				if !m.install(np, res) {
					_ = np.stop()
					return
				}
				p = np
				m.restore()
				break
			}
			m.log.Error("restarting MCP server failed", "server", m.cfg.Name, "err", err)
			startedAt = time.Now()
		}
	}
}

// readLoop routes the child's messages until its stdout ends or carries something that is
// not JSON-RPC (after which the stream cannot be trusted, so the child is restarted).
func (m *mux) readLoop(p *proc) {
	ctx := context.Background()
	for {
		msg, err := p.conn.Read(ctx)
		if err != nil {
			m.mu.Lock()
			closing := m.closing
			m.mu.Unlock()
			if !closing && !errors.Is(err, io.EOF) {
				m.log.Error("reading from MCP server", "server", m.cfg.Name, "err", err)
			}
			return
		}
		m.fromChild(msg)
	}
}

// childLost fails every request in flight to the child that just went away.
func (m *mux) childLost() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p = nil
	m.ready = make(chan struct{})
	for id, c := range m.calls {
		delete(m.calls, id)
		m.finishLocked(c, errorResponse(c.clientID, codeUnavailable, errChildGone.Error()))
	}
	clear(m.s2c)
	clear(m.s2cByKey)
	clear(m.mrtr)
}

// restore brings a restarted child to the state the sessions expect: the log level, the
// resource subscriptions, and a list_changed so clients re-list what may have changed.
func (m *mux) restore() {
	m.mu.Lock()
	level := m.minLevelLocked()
	var uris []string
	for uri := range m.subs {
		uris = append(uris, uri)
	}
	res := m.init
	m.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.InitTimeout)
		defer cancel()
		if level != "" {
			_, _ = m.callChild(ctx, methodSetLevel, map[string]string{"level": level})
		}
		for _, uri := range uris {
			_, _ = m.callChild(ctx, methodSubscribe, map[string]string{"uri": uri})
		}
	}()
	for feature, method := range map[string]string{
		"tools": notifToolsChanged, "prompts": notifPromptsChanged, "resources": notifResourcesChange,
	} {
		if res.hasListChanged(feature) {
			m.fromChild(&jsonrpc.Request{Method: method})
		}
	}
}

// close stops the child (stdin, SIGTERM, SIGKILL) and fails whatever is still waiting.
func (m *mux) close() {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		<-m.done
		return
	}
	m.closing = true
	p := m.p
	close(m.stop)
	m.mu.Unlock()
	if p != nil {
		_ = p.stop()
	}
	<-m.done
	m.mu.Lock()
	m.p = nil
	for id, c := range m.calls {
		delete(m.calls, id)
		m.finishLocked(c, errorResponse(c.clientID, codeUnavailable, "aigw is shutting down"))
	}
	for l := range m.listeners {
		l.q.close()
	}
	m.mu.Unlock()
}

// pid reports the current child's process id, 0 while none runs (for tests and status).
func (m *mux) pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return 0
	}
	return m.p.pid
}
