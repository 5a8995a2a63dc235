package observe

import "sync"

// Flusher is a subscriber that buffers output and can write it out.
type Flusher interface {
	Flush()
}

// Queue publishes events from a goroutine of its own, so observing a request never delays its
// response. It never drops an event: when the queue is full, Publish waits. Subscribers that
// buffer are flushed whenever the queue runs dry, and at Close.
type Queue struct {
	bus  *Bus
	ch   chan *RequestEvent
	done chan struct{}
	once sync.Once
}

// NewQueue starts a queue of the given capacity in front of bus.
func NewQueue(bus *Bus, capacity int) *Queue {
	q := &Queue{bus: bus, ch: make(chan *RequestEvent, capacity), done: make(chan struct{})}
	go q.run()
	return q
}

// Publish enqueues ev; the caller must not modify it afterwards.
func (q *Queue) Publish(ev *RequestEvent) { q.ch <- ev }

func (q *Queue) run() {
	defer close(q.done)
	for ev := range q.ch {
		q.bus.Publish(ev)
		if len(q.ch) == 0 {
			q.bus.flush()
		}
	}
	q.bus.flush()
}

// Close delivers every queued event, flushes, and stops. Publish must not be called after.
func (q *Queue) Close() {
	q.once.Do(func() { close(q.ch) })
	<-q.done
}

// flush flushes every subscriber that buffers.
func (b *Bus) flush() {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		if f, ok := s.(Flusher); ok {
			f.Flush()
		}
	}
}
