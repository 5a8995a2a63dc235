package tui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/version"
)

// ConnState is the state of the link to the admin server.
type ConnState int

// The link is being made, is up, or is down until the next try.
const (
	Connecting ConnState = iota
	Connected
	Disconnected
)

// EventsMsg carries events from the stream, in order, batched so a busy gateway costs one
// Update per batch rather than one per event.
type EventsMsg []*observe.Event

// ConnMsg reports a change of the link. Restarted is set on a connection to a new gateway
// process (its events are numbered from 1 again); Retry is the wait before the next try.
type ConnMsg struct {
	State     ConnState
	Err       error
	Retry     time.Duration
	Restarted bool
}

// Client reads the admin server's event stream (GET /events) and reconnects by itself when the
// gateway goes away. It is the TUI's one subscriber: everything it learns reaches the program
// through the send function, from the goroutine that calls Run.
type Client struct {
	// Admin is the admin server's base URL, e.g. http://127.0.0.1:1064.
	Admin string
	// Replay is how many past events to ask for on the first connection.
	Replay int
	// MinBackoff and MaxBackoff bound the wait between tries (defaults 250ms and 3s).
	MinBackoff, MaxBackoff time.Duration
	// Batch is how long events are gathered before they are sent on (default 50ms).
	Batch time.Duration
	// Idle is how long a connection may stay silent (the server sends a keep-alive every 15s)
	// before it is taken for dead (default 45s).
	Idle time.Duration
	// HTTP is the client to use; nil makes one with short connect timeouts.
	HTTP *http.Client
}

// errRestarted ends a connection whose event numbers went backwards: a new gateway process.
var errRestarted = errors.New("the gateway restarted")

// Run reads events until ctx is done, sending EventsMsg and ConnMsg values to send. It returns
// once its reader has stopped too.
func (c *Client) Run(ctx context.Context, send func(tea.Msg)) {
	c.defaults()
	items := make(chan any, 4096)
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); c.connectLoop(ctx, items) }()
	defer func() { <-loopDone }() // every wait in the loop ends with ctx
	var batch EventsMsg
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			send(batch)
			batch = nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case it := <-items:
			switch it := it.(type) {
			case *observe.Event:
				if len(batch) == 0 {
					timer.Reset(c.Batch)
				}
				batch = append(batch, it)
				if len(batch) >= 2048 {
					timer.Stop()
					flush()
				}
			case ConnMsg:
				timer.Stop()
				flush()
				send(it)
			}
		case <-timer.C:
			flush()
		}
	}
}

func (c *Client) defaults() {
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 3 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 50 * time.Millisecond
	}
	if c.Idle <= 0 {
		c.Idle = 45 * time.Second
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			ResponseHeaderTimeout: 5 * time.Second,
		}}
	}
	c.Admin = strings.TrimSuffix(c.Admin, "/")
}

// connectLoop connects, reads, and on any failure waits and connects again.
func (c *Client) connectLoop(ctx context.Context, items chan<- any) {
	push := func(v any) bool {
		select {
		case items <- v:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var (
		last      uint64    // the last event number read
		instance  time.Time // the gateway process's start, from GET /stats
		connected bool      // a connection has succeeded before
		restarted bool      // the next connection replays everything: a new process
		backoff   = c.MinBackoff
	)
	for ctx.Err() == nil {
		if !push(ConnMsg{State: Connecting}) {
			return
		}
		if inst, ok := c.instance(ctx); ok {
			if connected && !instance.IsZero() && !inst.Equal(instance) {
				restarted = true
			}
			instance = inst
		}
		query := "last=" + strconv.Itoa(c.Replay)
		if restarted {
			query = "since=0"
		} else if connected {
			query = "since=" + strconv.FormatUint(last, 10)
		}
		body, err := c.open(ctx, query)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !push(ConnMsg{State: Disconnected, Err: err, Retry: backoff}) {
				return
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, c.MaxBackoff)
			continue
		}
		if !push(ConnMsg{State: Connected, Restarted: restarted}) {
			body.Close()
			return
		}
		if restarted {
			last = 0
		}
		restarted, connected, backoff = false, true, c.MinBackoff
		err = c.read(ctx, body, func(ev *observe.Event) error {
			if ev.Seq != 0 && last != 0 && ev.Seq <= last {
				return errRestarted
			}
			if ev.Seq != 0 {
				last = ev.Seq
			}
			if !push(ev) {
				return ctx.Err()
			}
			return nil
		})
		body.Close()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errRestarted) {
			restarted = true
			continue
		}
		if err == nil {
			err = errors.New("the event stream ended")
		}
		if !push(ConnMsg{State: Disconnected, Err: err, Retry: backoff}) {
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
	}
}

// instance asks GET /stats when the gateway process started, which tells a restart apart from a
// dropped connection. Gateways without /stats answer ok=false, and restarts are then found by
// event numbers going backwards.
func (c *Client) instance(ctx context.Context) (time.Time, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Admin+"/stats", nil)
	if err != nil {
		return time.Time{}, false
	}
	req.Header.Set("User-Agent", version.UserAgent())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return time.Time{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, false
	}
	var s struct {
		Since time.Time `json:"since"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s) != nil || s.Since.IsZero() {
		return time.Time{}, false
	}
	return s.Since, true
}

// streamBody is an open event stream; Close ends it.
type streamBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *streamBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}

// open starts GET /events?query.
func (c *Client) open(ctx context.Context, query string) (*streamBody, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Admin+"/events?"+query, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", version.UserAgent())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		cancel()
		return nil, unwrapURL(err) // "dial tcp ...: connection refused" says it all
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s has no event stream (GET /events: 404): is it an aigw admin server, and a recent one?", c.Admin)
		}
		return nil, fmt.Errorf("%s answered GET /events with %s", c.Admin, resp.Status)
	}
	return &streamBody{ReadCloser: resp.Body, cancel: cancel}, nil
}

// unwrapURL drops the method and URL *url.Error adds, which the message already names.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// read parses server-sent events from b until it ends, calling f for each event.
func (c *Client) read(ctx context.Context, b *streamBody, f func(*observe.Event) error) error {
	idle := time.AfterFunc(c.Idle, b.cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(b)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	var data []byte
	for sc.Scan() {
		idle.Reset(c.Idle)
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) == 0 {
				continue
			}
			ev := new(observe.Event)
			err := json.Unmarshal(data, ev)
			data = data[:0]
			if err != nil {
				continue // one event this version cannot read is skipped, not fatal
			}
			if err := f(ev); err != nil {
				return err
			}
		case line[0] == ':':
			// a comment: the greeting or a keep-alive
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(line[5:], []byte(" "))
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, v...)
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() == nil && errors.Is(err, context.Canceled) {
			return fmt.Errorf("no event or keep-alive for %s", c.Idle)
		}
		return fmt.Errorf("event stream: %w", err)
	}
	return nil
}
