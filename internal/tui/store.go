package tui

import (
	"time"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/usage"
)

// Request is what the TUI knows about one request, assembled from its lifecycle events.
type Request struct {
	ID string
	// order is the arrival order in the store, for the default sort.
	order uint64
	// firstSeq is the sequence number of the first event seen of the request.
	firstSeq     uint64
	Start        time.Time
	Endpoint     string
	RequestModel string
	Route        string
	Stream       bool
	TraceID      string
	Attempts     []Attempt
	// FirstTokenAt is when the first response bytes came (zero when none yet or not streamed).
	FirstTokenAt time.Time
	TTFT         time.Duration
	// OutputSoFar is the output token count of the last progress event of a stream in flight;
	// OutputEstimated says the gateway estimated it (the provider had reported fewer).
	OutputSoFar     int64
	OutputEstimated bool
	// End is the final record, nil while the request is in flight.
	End *observe.RequestEvent
	// Content is the request's and answer's messages, when the gateway captures content.
	Content *observe.Content
	// Lost marks a request whose end the TUI will never see: the gateway restarted, or the
	// stream lost events while it was in flight.
	Lost bool
}

// Attempt is one try at one backend.
type Attempt struct {
	Try          int
	At           time.Time
	Backend      string
	Provider     string
	BackendModel string
	// Ended is set when the attempt's outcome arrived (an attempt_end event: it failed without
	// its answer reaching the client). Status is the backend's (0: no answer), Error why.
	Ended    bool
	Status   int
	Error    string
	Duration time.Duration
}

// InFlight reports whether the request has not ended.
func (r *Request) InFlight() bool { return r.End == nil && !r.Lost }

// API names the client endpoint the request came in on, short: chat, msgs, resp.
func (r *Request) API() string {
	if short, ok := shortEndpoints[r.Endpoint]; ok {
		return short
	}
	return r.Endpoint
}

// shortEndpoints are the names of the endpoints whose own names are long.
var shortEndpoints = map[string]string{
	"chat_completions":     "chat",
	"messages":             "msgs",
	"responses":            "resp",
	"embeddings":           "embed",
	"count_tokens":         "count",
	"image_generations":    "images",
	"audio_speech":         "speech",
	"audio_transcriptions": "transcribe",
	"audio_translations":   "translate",
}

// Backend is the backend that answered, else the last one tried.
func (r *Request) Backend() string {
	if r.End != nil && r.End.Backend != "" {
		return r.End.Backend
	}
	if n := len(r.Attempts); n > 0 {
		return r.Attempts[n-1].Backend
	}
	return ""
}

// ServedModel is the model the backend answered with, else the one sent to it.
func (r *Request) ServedModel() string {
	if r.End != nil {
		if r.End.ResponseModel != "" {
			return r.End.ResponseModel
		}
		if r.End.BackendModel != "" {
			return r.End.BackendModel
		}
	}
	if n := len(r.Attempts); n > 0 {
		return r.Attempts[n-1].BackendModel
	}
	return ""
}

// Latency is the request's duration, or for one in flight the time it has run until now.
func (r *Request) Latency(now time.Time) time.Duration {
	if r.End != nil {
		return r.End.Duration
	}
	if r.Lost || r.Start.IsZero() || now.Before(r.Start) {
		return 0
	}
	return now.Sub(r.Start)
}

// Usage is the request's token usage (zero until it ends).
func (r *Request) Usage() usage.Usage {
	if r.End != nil {
		return r.End.Usage
	}
	return usage.Usage{}
}

// Failed reports whether the request ended in an error.
func (r *Request) Failed() bool {
	return r.End != nil && r.End.Failed()
}

// Store keeps the most recent requests in a ring of fixed capacity, so memory stays bounded
// however long the TUI runs, and totals over every request it has seen end.
type Store struct {
	ring  []*Request // ring[i % cap] holds the i-th request to arrive, for the last len ones
	next  uint64     // arrival number of the next request
	byID  map[string]*Request
	Total *Totals
	// LastSeq is the sequence number of the last event applied; Gaps counts events the stream
	// skipped (a slow reader loses events, which shows as a jump in the numbers).
	LastSeq uint64
	Gaps    uint64
	// Events counts every event applied.
	Events uint64
	// MCP is what the MCP gateway's requests add up to.
	MCP *MCPStats
}

// NewStore keeps at most capacity requests (at least 1).
func NewStore(capacity int) *Store {
	if capacity < 1 {
		capacity = 1
	}
	return &Store{ring: make([]*Request, capacity), byID: make(map[string]*Request, capacity), Total: NewTotals(), MCP: newMCPStats()}
}

// Cap is the most requests the store keeps.
func (s *Store) Cap() int { return len(s.ring) }

// Len is the number of requests kept.
func (s *Store) Len() int { return len(s.byID) }

// Get returns the request with the id, if it is still kept.
func (s *Store) Get(id string) *Request { return s.byID[id] }

// Each calls f on the kept requests, oldest first.
func (s *Store) Each(f func(*Request)) {
	n := uint64(len(s.ring))
	first := uint64(0)
	if s.next > n {
		first = s.next - n
	}
	for i := first; i < s.next; i++ {
		if r := s.ring[i%n]; r != nil {
			f(r)
		}
	}
}

// request finds or makes the request of id, evicting the oldest when the ring is full.
func (s *Store) request(id string, at time.Time) *Request {
	if r, ok := s.byID[id]; ok {
		return r
	}
	r := &Request{ID: id, Start: at, order: s.next}
	slot := s.next % uint64(len(s.ring))
	if old := s.ring[slot]; old != nil && s.byID[old.ID] == old {
		delete(s.byID, old.ID)
	}
	s.ring[slot] = r
	s.byID[id] = r
	s.next++
	return r
}

// Apply adds one event. A replayed event already applied (by its sequence number) is ignored.
func (s *Store) Apply(ev *observe.Event) {
	if ev == nil || (ev.ID == "" && ev.Kind != observe.KindMCP) {
		return
	}
	if ev.Seq != 0 {
		if ev.Seq <= s.LastSeq {
			return
		}
		if s.LastSeq != 0 && ev.Seq > s.LastSeq+1 {
			s.Gaps += ev.Seq - s.LastSeq - 1
		}
		s.LastSeq = ev.Seq
	}
	s.Events++
	if ev.Kind == observe.KindMCP {
		if ev.MCP != nil {
			s.MCP.add(ev.MCP)
		}
		return
	}
	r := s.request(ev.ID, ev.Time)
	if r.firstSeq == 0 {
		r.firstSeq = ev.Seq
	}
	switch ev.Kind {
	case observe.KindStart:
		if st := ev.Start; st != nil {
			r.Start = ev.Time
			r.Endpoint, r.RequestModel, r.Route = st.Endpoint, st.RequestModel, st.Route
			r.Stream, r.TraceID = st.Stream, st.TraceID
		}
	case observe.KindAttempt:
		if a := ev.Attempt; a != nil {
			r.Attempts = append(r.Attempts, Attempt{Try: a.Try, At: ev.Time, Backend: a.Backend,
				Provider: a.Provider, BackendModel: a.BackendModel})
		}
	case observe.KindFirstToken:
		if ft := ev.FirstToken; ft != nil {
			r.FirstTokenAt, r.TTFT = ev.Time, ft.TimeToFirstToken
		}
	case observe.KindProgress:
		if p := ev.Progress; p != nil && r.End == nil && p.OutputTokens > r.OutputSoFar {
			r.OutputSoFar, r.OutputEstimated = p.OutputTokens, p.Estimated
		}
	case observe.KindAttemptEnd:
		if ae := ev.AttemptEnd; ae != nil {
			for i := len(r.Attempts) - 1; i >= 0; i-- {
				if a := &r.Attempts[i]; a.Try == ae.Try && !a.Ended {
					a.Ended, a.Status, a.Error, a.Duration = true, ae.Status, ae.Error, ae.Duration
					break
				}
			}
		}
	case observe.KindEnd:
		if e := ev.End; e != nil && r.End == nil {
			r.End, r.Lost, r.Content = e, false, ev.Content
			if !e.Start.IsZero() {
				r.Start = e.Start
			}
			if r.Endpoint == "" {
				r.Endpoint, r.RequestModel, r.Route, r.Stream = e.Endpoint, e.RequestModel, e.Route, e.Stream
			}
			if r.TraceID == "" {
				r.TraceID = e.TraceID
			}
			if e.TimeToFirstToken > 0 {
				r.TTFT = e.TimeToFirstToken
			}
			s.Total.Add(e, ev.Time)
		}
	}
}

// Restarted is called when the gateway on the other end is a new process: requests in flight
// will never end, and sequence numbers start again from 1.
// Reconcile takes the gateway's list of requests in flight (GET /inflight) after events were
// lost: a request the TUI still shows in flight, first seen at or before the list's sequence
// number and absent from it, has ended with its end event lost; it is marked Lost. It returns
// how many were.
func (s *Store) Reconcile(f *observe.InFlight) int {
	live := make(map[string]bool, len(f.IDs))
	for _, id := range f.IDs {
		live[id] = true
	}
	n := 0
	s.Each(func(r *Request) {
		if r.End == nil && !r.Lost && r.firstSeq != 0 && r.firstSeq <= f.Seq && !live[r.ID] {
			r.Lost = true
			n++
		}
	})
	return n
}

func (s *Store) Restarted() {
	s.LastSeq = 0
	s.Each(func(r *Request) {
		if r.End == nil {
			r.Lost = true
		}
	})
}
