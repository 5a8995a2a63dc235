package extproc

import (
	"context"
	"net/http"
	"testing"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/translate"
)

// TestLifecycleEvents: a streamed request that falls back once publishes start, two attempts
// (the first ended when the second began), the first token and the end, in that order, all with
// the request's id.
func TestLifecycleEvents(t *testing.T) {
	hub := observe.NewHub(16, 16)
	sub, _ := hub.Subscribe(0)
	defer sub.Close()
	a, b := openAI("a"), openAI("b")
	p := New(ruleModel(&config.BackendRef{Backend: a, Weight: 1}, &config.BackendRef{Backend: b, Weight: 1, Priority: 1, ModelNameOverride: "real"}), nil, WithHub(hub))
	s := p.NewStream(translate.EndpointChatCompletions)
	s.RequestHeaders("req-1", "h", http.Header{})
	if err := s.RequestBody("application/json", []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)); err != nil {
		t.Fatal(err)
	}
	c := s.Candidates()
	if _, err := s.Attempt(context.Background(), c[0]); err != nil {
		t.Fatal(err)
	}
	at, err := s.Attempt(context.Background(), c[1])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Type": {"text/event-stream"}}
	if err := at.ResponseHeaders(200, h); err != nil {
		t.Fatal(err)
	}
	chunk := "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"model\":\"real-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\n"
	if _, err := at.ResponseBody([]byte(chunk), false); err != nil {
		t.Fatal(err)
	}
	if _, err := at.ResponseBody([]byte("data: [DONE]\n\n"), true); err != nil {
		t.Fatal(err)
	}
	s.Finish(200, nil)

	var kinds []observe.Kind
	var evs []*observe.Event
	for len(kinds) < 6 {
		ev := <-sub.C()
		kinds = append(kinds, ev.Kind)
		evs = append(evs, ev)
		if ev.ID != "req-1" {
			t.Errorf("%s event has id %q", ev.Kind, ev.ID)
		}
	}
	want := []observe.Kind{observe.KindStart, observe.KindAttempt, observe.KindAttemptEnd, observe.KindAttempt, observe.KindFirstToken, observe.KindEnd}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
	if st := evs[0].Start; st.RequestModel != "m" || st.Route != "r/0" || !st.Stream {
		t.Errorf("start %+v", st)
	}
	// Nothing reported the first attempt's outcome: it ends without a status when the next begins.
	if ae := evs[2].AttemptEnd; ae.Try != 1 || ae.Backend != "a" || ae.Status != 0 || ae.Error != "" {
		t.Errorf("first attempt's end %+v", ae)
	}
	if at2 := evs[3].Attempt; at2.Try != 2 || at2.Backend != "b" || at2.BackendModel != "real" {
		t.Errorf("second attempt %+v", at2)
	}
	if ft := evs[4].FirstToken; ft.TimeToFirstToken <= 0 || ft.Backend != "b" {
		t.Errorf("first token %+v", ft)
	}
	if end := evs[5].End; end.Status != 200 || end.Attempts != 2 || end.ResponseModel != "real-1" {
		t.Errorf("end %+v", end)
	}
}
