package observe

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Hub fans lifecycle events out to live subscribers and keeps the most recent ones in a ring so a
// subscriber that connects late can replay them. Publishing never blocks: each subscriber has a
// bounded buffer, and a subscriber whose buffer is full loses that event (counted on it and in
// Dropped), so a slow reader can only hurt itself.
type Hub struct {
	mu   sync.Mutex
	seq  uint64
	ring []*Event // ring[(i) % len(ring)] for the last min(seq, len(ring)) events
	subs map[*Subscription]struct{}
	buf  int
	now  func() time.Time
	// inflight are the requests started (a start event) and not yet ended, by id.
	inflight map[string]struct{}

	dropped atomic.Uint64
}

// Default sizes of the replay ring and of each subscriber's buffer.
const (
	DefaultRingSize   = 4096
	DefaultSubscriber = 1024
)

// NewHub keeps the last ringSize events and gives each subscriber a buffer of subBuffer events.
func NewHub(ringSize, subBuffer int) *Hub {
	if ringSize <= 0 {
		ringSize = DefaultRingSize
	}
	if subBuffer <= 0 {
		subBuffer = DefaultSubscriber
	}
	return &Hub{ring: make([]*Event, ringSize), subs: map[*Subscription]struct{}{}, buf: subBuffer, now: time.Now,
		inflight: map[string]struct{}{}}
}

// Subscription is one live reader of the hub.
type Subscription struct {
	hub *Hub
	c   chan *Event
	// dropped counts the events this subscriber lost because its buffer was full.
	dropped atomic.Uint64
}

// C delivers events in publication order, with gaps where events were dropped.
func (s *Subscription) C() <-chan *Event { return s.c }

// Dropped is how many events this subscriber lost.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes; C is not closed, so a reader selecting on it must also watch its own end.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
}

// OnMCP publishes an MCP request as a KindMCP event, timed at its answer; it makes a Hub an
// MCPSubscriber of the MCP gateway's events.
func (h *Hub) OnMCP(ev *MCPEvent) {
	h.Publish(&Event{Kind: KindMCP, Time: ev.Start.Add(ev.Duration), MCP: ev})
}

// Publish numbers ev, keeps it for replay and offers it to every subscriber. The event must not
// be modified afterwards. A nil hub ignores events.
//
// Progress events are live only: they carry sequence number 0 and are not kept for replay (a
// replayed stream's progress is stale, and 50 busy streams would otherwise fill the ring with
// them in seconds); losing one is not a gap.
func (h *Hub) Publish(ev *Event) {
	if h == nil {
		return
	}
	ev.V = SchemaVersion
	if ev.Time.IsZero() {
		ev.Time = h.now()
	}
	h.mu.Lock()
	switch ev.Kind {
	case KindProgress:
		ev.Seq = 0
	default:
		h.seq++
		ev.Seq = h.seq
		h.ring[h.seq%uint64(len(h.ring))] = ev
	}
	switch ev.Kind {
	case KindStart:
		h.inflight[ev.ID] = struct{}{}
	case KindEnd:
		delete(h.inflight, ev.ID)
	}
	for s := range h.subs {
		select {
		case s.c <- ev:
		default:
			s.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
	h.mu.Unlock()
}

// Subscribe starts a live subscription and returns with it the buffered events after sequence
// number since (0: every buffered event; use Last to ask for fewer). Replay and live events do
// not overlap or leave a gap: the first live event is the one after the last replayed.
func (h *Hub) Subscribe(since uint64) (*Subscription, []*Event) {
	s := &Subscription{hub: h, c: make(chan *Event, h.buf)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	return s, h.replayLocked(since)
}

// Last returns the sequence number after which the last n buffered events start, for Subscribe.
func (h *Hub) Last(n int) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if uint64(n) >= h.seq {
		return 0
	}
	return h.seq - uint64(n)
}

func (h *Hub) replayLocked(since uint64) []*Event {
	oldest := uint64(1)
	if n := uint64(len(h.ring)); h.seq > n {
		oldest = h.seq - n + 1
	}
	if since+1 > oldest {
		oldest = since + 1
	}
	if oldest > h.seq {
		return nil
	}
	out := make([]*Event, 0, h.seq-oldest+1)
	for i := oldest; i <= h.seq; i++ {
		out = append(out, h.ring[i%uint64(len(h.ring))])
	}
	return out
}

// InFlight is the requests started and not ended as of event number seq, so that a reader that
// lost events can tell which of its in-flight requests have in fact ended.
type InFlight struct {
	V   int      `json:"v"`
	Seq uint64   `json:"seq"`
	IDs []string `json:"ids"`
}

// InFlight lists the requests in flight now.
func (h *Hub) InFlight() InFlight {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.inflight))
	for id := range h.inflight {
		ids = append(ids, id)
	}
	return InFlight{V: SchemaVersion, Seq: h.seq, IDs: ids}
}

// Seq is the number of the last event published.
func (h *Hub) Seq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Dropped is how many events all subscribers together lost to full buffers.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Subscribers is the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// ObserveHub exports the hub's dropped-event count (aigw_events_dropped_total) and its number of
// subscribers (aigw_events_subscribers) with the other metrics.
func (m *Metrics) ObserveHub(h *Hub) error {
	meter := m.provider.Meter("github.com/aigw/aigw")
	dropped, err := meter.Int64ObservableCounter("aigw.events.dropped",
		metric.WithDescription("Lifecycle events lost by event-stream subscribers that read too slowly."))
	if err != nil {
		return err
	}
	subs, err := meter.Int64ObservableGauge("aigw.events.subscribers",
		metric.WithDescription("Event-stream subscribers connected."))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(dropped, int64(h.Dropped()))
		o.ObserveInt64(subs, int64(h.Subscribers()))
		return nil
	}, dropped, subs)
	return err
}

// WithMeterProviderOptions adds options to the meter provider, such as a periodic OTLP reader.
func WithMeterProviderOptions(o ...sdkmetric.Option) MetricsOption {
	return func(m *Metrics) { m.providerOptions = append(m.providerOptions, o...) }
}
