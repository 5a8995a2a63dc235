package observe

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestHubSlowSubscriberDropsOnlyItsOwn: a subscriber that never reads loses events beyond its
// buffer (counted), publishing never blocks, and a reading subscriber gets every event in order.
func TestHubSlowSubscriberDropsOnlyItsOwn(t *testing.T) {
	h := NewHub(64, 8)
	slow, _ := h.Subscribe(0)
	defer slow.Close()
	fast, _ := h.Subscribe(0)
	defer fast.Close()

	const n = 10000
	var got []uint64
	read := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for len(got) < n {
			ev := <-fast.C()
			got = append(got, ev.Seq)
			if len(got)%8 == 0 {
				read <- struct{}{}
			}
		}
	}()
	start := time.Now()
	for i := 1; i <= n; i++ {
		h.Publish(&Event{Kind: KindStart, ID: "r"})
		if i%8 == 0 {
			<-read // the fast reader drains its 8 slots; the slow one never does
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("publishing %d events took %s", n, d)
	}
	wg.Wait()
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("fast subscriber got seq %d at %d", s, i)
		}
	}
	if slow.Dropped() != n-8 {
		t.Errorf("slow subscriber dropped %d, want %d", slow.Dropped(), n-8)
	}
	if h.Dropped() != slow.Dropped()+fast.Dropped() {
		t.Errorf("hub dropped %d, subscribers %d+%d", h.Dropped(), slow.Dropped(), fast.Dropped())
	}
}

// TestHubReplay: since=N replays the buffered events after N, bounded by the ring, with no gap or
// overlap to the live events.
func TestHubReplay(t *testing.T) {
	h := NewHub(10, 4)
	for i := 0; i < 25; i++ {
		h.Publish(&Event{Kind: KindEnd})
	}
	_, all := h.Subscribe(0)
	if len(all) != 10 || all[0].Seq != 16 || all[9].Seq != 25 {
		t.Fatalf("replay of everything: %d events from %d", len(all), all[0].Seq)
	}
	sub, some := h.Subscribe(20)
	defer sub.Close()
	if len(some) != 5 || some[0].Seq != 21 {
		t.Fatalf("replay since 20: %d events", len(some))
	}
	if _, none := h.Subscribe(25); len(none) != 0 {
		t.Fatalf("replay since the last: %d events", len(none))
	}
	if h.Last(3) != 22 || h.Last(100) != 0 {
		t.Errorf("Last: %d %d", h.Last(3), h.Last(100))
	}
	h.Publish(&Event{Kind: KindStart})
	if ev := <-sub.C(); ev.Seq != 26 || ev.V != SchemaVersion {
		t.Errorf("live event %+v", ev)
	}
}

func TestUSDJSON(t *testing.T) {
	for _, c := range []struct {
		u    USD
		want string
	}{{USD{Amount: 0.0012}, "0.0012"}, {USD{Unknown: true}, `"unknown"`}, {USD{}, "0"}} {
		b, _ := c.u.MarshalJSON()
		if string(b) != c.want {
			t.Errorf("%+v: %s, want %s", c.u, b, c.want)
		}
		var back USD
		if err := back.UnmarshalJSON(b); err != nil || back != c.u {
			t.Errorf("round trip of %s: %+v %v", b, back, err)
		}
	}
}

// TestHubInFlightAndLiveProgress: the hub knows which requests are in flight (start without
// end), and progress events go to live subscribers only, unnumbered and never replayed.
func TestHubInFlightAndLiveProgress(t *testing.T) {
	h := NewHub(8, 16)
	sub, _ := h.Subscribe(0)
	defer sub.Close()
	h.Publish(&Event{Kind: KindStart, ID: "a"})
	h.Publish(&Event{Kind: KindStart, ID: "b"})
	h.Publish(&Event{Kind: KindProgress, ID: "a", Progress: &ProgressInfo{OutputTokens: 5}})
	h.Publish(&Event{Kind: KindEnd, ID: "a", End: &RequestEvent{ID: "a"}})

	f := h.InFlight()
	if f.Seq != 3 || len(f.IDs) != 1 || f.IDs[0] != "b" {
		t.Errorf("in flight: %+v, want b as of seq 3", f)
	}
	var seqs []uint64
	for len(seqs) < 4 {
		ev := <-sub.C()
		seqs = append(seqs, ev.Seq)
		if ev.Kind == KindProgress && ev.Seq != 0 {
			t.Errorf("a progress event numbered %d", ev.Seq)
		}
	}
	if want := []uint64{1, 2, 0, 3}; fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Errorf("live sequence numbers %v, want %v", seqs, want)
	}
	_, replay := h.Subscribe(0)
	for _, ev := range replay {
		if ev.Kind == KindProgress {
			t.Error("a progress event was replayed")
		}
	}
	if len(replay) != 3 {
		t.Errorf("replayed %d events, want 3", len(replay))
	}
}
