package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// titanUpstream answers Titan calls: "bad" at once with a 400, "slow" only when its request is
// cancelled (counted in slow, and in cancelled once cancelled), anything else with an embedding.
func titanUpstream(t *testing.T, calls, slow, cancelled *atomic.Int32) *config.Backend {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct {
			InputText string `json:"inputText"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &in)
		w.Header().Set("Content-Type", "application/json")
		switch in.InputText {
		case "bad":
			w.Header().Set("X-Amzn-Errortype", "ValidationException")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"input bad refused"}`)
		case "slow":
			slow.Add(1)
			select {
			case <-r.Context().Done():
				cancelled.Add(1)
			case <-time.After(10 * time.Second):
			}
		default:
			_, _ = io.WriteString(w, `{"embedding":[1,2],"inputTextTokenCount":1}`)
		}
	}))
	t.Cleanup(up.Close)
	b := backend(t, "titan", config.SchemaAWSBedrock, up.URL)
	b.Auth = nil
	return b
}

// TestFanOutFirstFailureStops: a part refused by the backend is the client's answer at once, in
// OpenAI's shape; the parts still at the backend are cancelled and the rest never sent.
func TestFanOutFirstFailureStops(t *testing.T) {
	var calls, slow, cancelled atomic.Int32
	gw, _, _ := gatewayFor(t, 5*time.Second, &config.BackendRef{Backend: titanUpstream(t, &calls, &slow, &cancelled), Weight: 1})
	start := time.Now()
	resp, body := do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"gpt-test","input":["slow","slow","slow","bad","x","x","x","x"]}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(errorShape(t, false, body), "input bad refused") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the answer took %s: the failure did not stop the slow parts", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for cancelled.Load() != slow.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n, m := cancelled.Load(), slow.Load(); n != m {
		t.Errorf("%d of the %d slow parts at the backend cancelled", n, m)
	}
	if n := calls.Load(); n > translate.MaxPartsInFlight {
		t.Errorf("%d calls: parts after the failure were sent", n)
	}
}

// TestFanOutTimeout: the parts share the attempt's deadline; past it the client gets a 504 and
// the parts are cancelled.
func TestFanOutTimeout(t *testing.T) {
	var calls, slow, cancelled atomic.Int32
	gw, _, _ := gatewayFor(t, 300*time.Millisecond, &config.BackendRef{Backend: titanUpstream(t, &calls, &slow, &cancelled), Weight: 1})
	resp, body := do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"gpt-test","input":["x","slow"]}`)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	errorShape(t, false, body)
	deadline := time.Now().Add(2 * time.Second)
	for cancelled.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if cancelled.Load() != 1 {
		t.Error("the slow part was not cancelled")
	}
}
