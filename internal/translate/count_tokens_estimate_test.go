package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// TestCountTokensEstimate checks the local count for OpenAI-schema backends: o200k_base tokens of
// the text plus the framing, answered without a request to the backend.
func TestCountTokensEstimate(t *testing.T) {
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 1024, 1024))); err != nil {
		t.Fatal(err)
	}
	png64 := base64.StdEncoding.EncodeToString(img.Bytes())
	cases := []struct {
		name, body string
		want       int64
	}{
		// "Hello, world" is 3 o200k_base tokens (13225 11 2375); + 3 for the message, 3 for the
		// reply, and "user" is 1.
		{"one message", `{"model":"gpt-5","messages":[{"role":"user","content":"Hello, world"}]}`, 3 + 1 + 3 + 3},
		{"system", `{"model":"gpt-5","system":"Hello, world","messages":[{"role":"user","content":"Hello, world"}]}`, 3 + 3 + 1 + 3 + 3 + 3},
		// A 1024×1024 image scales to 768×768: 4 tiles, 85 + 4×170.
		{"image", `{"model":"gpt-5","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + png64 + `"}}]}]}`, 1 + 3 + 3 + 765},
		{"image by url", `{"model":"gpt-5","messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}`, 1 + 3 + 3 + unknownImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, schema := range []config.SchemaName{config.SchemaOpenAI, config.SchemaAzureOpenAI} {
				tr, err := New(EndpointCountTokens, Target{Backend: &config.Backend{Name: "b", Schema: config.Schema{Name: schema}}, Model: "gpt-5"})
				if err != nil {
					t.Fatal(err)
				}
				up, err := tr.RequestBody(&Request{Endpoint: EndpointCountTokens, Body: []byte(c.body), Model: "gpt-5"})
				if err != nil {
					t.Fatal(err)
				}
				if up.Local == nil || up.Local.Status != http.StatusOK {
					t.Fatalf("%s: not answered locally: %+v", schema, up)
				}
				var got struct {
					InputTokens int64 `json:"input_tokens"`
				}
				if err := json.Unmarshal(up.Local.Body, &got); err != nil {
					t.Fatal(err)
				}
				if got.InputTokens != c.want {
					t.Errorf("%s: input_tokens %d, want %d", schema, got.InputTokens, c.want)
				}
				if out, _ := tr.ResponseBody(up.Local.Body, true); !bytes.Equal(out, up.Local.Body) {
					t.Errorf("%s: the local answer is not passed on: %s", schema, out)
				}
			}
		})
	}
}

// TestCountTokensEstimateGrows checks that what a request holds is counted: tools and tool
// results add tokens.
func TestCountTokensEstimateGrows(t *testing.T) {
	count := func(body string) int64 {
		var in anRequest
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		n, err := estimateTokens(&in)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := count(`{"messages":[{"role":"user","content":"list files"}]}`)
	withTools := count(`{"messages":[{"role":"user","content":"list files"}],"tools":[{"name":"Bash","description":"Runs a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}]}`)
	withResult := count(`{"messages":[{"role":"user","content":"list files"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"ls"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"a.txt b.txt"}]}]}`)
	if !(base < withTools && base < withResult) {
		t.Errorf("counts do not grow with content: %d, tools %d, results %d", base, withTools, withResult)
	}
}
