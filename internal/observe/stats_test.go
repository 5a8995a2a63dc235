package observe

import (
	"strconv"
	"strings"
	"testing"
)

func TestStatsKeysBounded(t *testing.T) {
	s := NewStats()
	huge := strings.Repeat("m", 512<<10)
	s.OnRequest(&RequestEvent{RequestModel: huge, Route: "r", Backend: "b", Status: 200})
	s.OnRequest(&RequestEvent{RequestModel: "bad\xffutf8", Route: "r", Backend: "b", Status: 200})
	for i := range 2 * maxStatKeys {
		s.OnRequest(&RequestEvent{RequestModel: "model-" + strconv.Itoa(i), Route: "r", Backend: "b", Status: 200})
	}
	snap := s.Snapshot()
	if len(snap.Models) > maxStatKeys+1 {
		t.Errorf("%d model keys, want at most %d", len(snap.Models), maxStatKeys+1)
	}
	for k := range snap.Models {
		if len(k) > MaxModelLabelBytes {
			t.Errorf("model key of %d bytes kept", len(k))
		}
	}
	// Every request is counted once: under its own name or under the one for the rest.
	var sum uint64
	for _, row := range snap.Models {
		sum += uint64(row.Requests)
	}
	if want := uint64(2 + 2*maxStatKeys); sum != want || snap.Models[OtherStatKey].Requests == 0 {
		t.Errorf("%d requests counted across models (%s: %d), want %d", sum, OtherStatKey, snap.Models[OtherStatKey].Requests, want)
	}
}
