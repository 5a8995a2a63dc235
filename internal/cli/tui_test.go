package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestTUIFlags: flags reach the options; bad values are usage errors.
func TestTUIFlags(t *testing.T) {
	cases := []struct {
		args    []string
		admin   string
		buffer  int
		replay  int
		wantErr bool
	}{
		{args: nil, admin: "http://127.0.0.1:1064", buffer: 10000, replay: 4096},
		{args: []string{"--admin", "127.0.0.1:9999/"}, admin: "http://127.0.0.1:9999", buffer: 10000, replay: 4096},
		{args: []string{"--buffer", "50", "--replay", "0"}, admin: "http://127.0.0.1:1064", buffer: 50, replay: 0},
		{args: []string{"--buffer", "0"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
	}
	for _, c := range cases {
		var got *TUIOptions
		f := &Factory{IO: &IOStreams{}, Getenv: func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return ""
		}}
		cmd := newTUICmd(f, func(_ context.Context, o *TUIOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if c.wantErr {
			if err == nil {
				t.Errorf("%v: no error", c.args)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got.Admin != c.admin || got.Buffer != c.buffer || got.Replay != c.replay || !got.NoColor {
			t.Errorf("%v: %+v", c.args, got)
		}
	}
}

// TestTUINeedsTerminal: without a terminal, a clear error instead of escape codes in a pipe.
func TestTUINeedsTerminal(t *testing.T) {
	var out strings.Builder
	err := tuiRun(context.Background(), &TUIOptions{IO: &IOStreams{Out: &out}, Admin: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "needs a terminal") || out.Len() != 0 {
		t.Errorf("err %v, out %q", err, out.String())
	}
}

// tmuxSession is a detached tmux session of fixed size on its own server, killed when the test ends.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, w, h int, env []string, command ...string) *tmuxSession {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it with apt-get)")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("aigw-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	args := []string{"-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, strings.Join(command, " "))
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) capture() string {
	out, _ := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", "t").Output()
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-L", s.socket, "send-keys", "-t", "t"}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v %s", err, out)
	}
}

// alive reports whether the session (and so the command in it) still runs.
func (s *tmuxSession) alive() bool {
	return exec.Command("tmux", "-L", s.socket, "has-session", "-t", "t").Run() == nil
}

// waitScreen polls the screen until ok accepts it.
func (s *tmuxSession) waitScreen(what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := s.capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %s:\n%s", what, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lineWith is the screen line that contains sub.
func lineWith(screen, sub string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestTUIEndToEnd runs the real binaries: `aigw run --demo`, requests from openai-go, and
// `aigw tui` under tmux at 120×40; the screen must show the requests with their models, token
// counts and costs, and Enter must open the trace of the selected request.
func TestTUIEndToEnd(t *testing.T) {
	a := startAigw(t)
	bin := a.cmd.Path
	oc := openai.NewClient(option.WithBaseURL(a.gw+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")}})
	if err != nil {
		t.Fatal(err)
	}
	stream := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet-4-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream please")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var streamed openai.CompletionUsage
	for stream.Next() {
		if c := stream.Current(); c.Usage.TotalTokens > 0 {
			streamed = c.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}

	tm := newTmux(t, 120, 40, []string{"NO_COLOR=1"}, bin, "tui", "--admin", a.admin)
	screen := tm.waitScreen("both requests", func(s string) bool {
		return strings.Contains(s, "gpt-4o-mini") && strings.Contains(s, "claude-sonnet-4-5")
	})
	cost := regexp.MustCompile(`\$0\.\d{4,6}\s*$`)
	mini, claude := lineWith(screen, "gpt-4o-mini"), lineWith(screen, "claude-sonnet-4-5")
	for _, c := range []struct {
		line     string
		backend  string
		in, out  int64
		wantCost bool
	}{
		{mini, "chat→demo-openai", res.Usage.PromptTokens, res.Usage.CompletionTokens, true},
		{claude, "chat→demo-anthropic", streamed.PromptTokens, streamed.CompletionTokens, true},
	} {
		f := strings.Fields(c.line)
		if !strings.Contains(c.line, c.backend) || !strings.Contains(c.line, " 200 ") {
			t.Errorf("row %q: want %s and status 200", c.line, c.backend)
		}
		if !containsSeq(f, strconv.FormatInt(c.in, 10), strconv.FormatInt(c.out, 10)) {
			t.Errorf("row %q: want tokens in %d, out %d", c.line, c.in, c.out)
		}
		if !cost.MatchString(c.line) {
			t.Errorf("row %q: no cost like $0.0012", c.line)
		}
	}

	// The newest request (the stream) is selected; Enter opens its trace.
	tm.keys("Enter")
	trace := tm.waitScreen("the trace", func(s string) bool { return strings.Contains(s, "[3 Trace]") })
	for _, want := range []string{"claude-sonnet-4-5", "chat_completions, streamed", "Attempts (1)", "#1 demo-anthropic",
		fmt.Sprintf("in %d, out %d", streamed.PromptTokens, streamed.CompletionTokens), "first token", "hidden"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
	tm.keys("2")
	tm.waitScreen("the totals", func(s string) bool {
		return strings.Contains(s, "[2 Totals]") && strings.Contains(lineWith(s, "demo-openai"), " 1 ") && strings.Contains(s, "req/s")
	})
	tm.keys("q")
	deadline := time.Now().Add(5 * time.Second)
	for tm.alive() {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit:\n%s", tm.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// containsSeq reports whether fields has a and b next to each other.
func containsSeq(fields []string, a, b string) bool {
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == a && fields[i+1] == b {
			return true
		}
	}
	return false
}

// TestTUIRunFlag: `aigw run --demo --tui` shows the TUI in its own terminal with no status or
// log lines on it, serves requests, and q stops the gateway cleanly with its run log written.
func TestTUIRunFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "aigw")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/aigw/aigw/cmd/aigw").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, adminPort := freePort(t), freePort(t)
	state := t.TempDir()
	tm := newTmux(t, 100, 30, []string{"OPENAI_API_KEY=", "ANTHROPIC_API_KEY="}, bin, "run", "--demo", "--tui",
		"--port", strconv.Itoa(port), "--admin-port", strconv.Itoa(adminPort), "--state-home", state, "--run-id", "tui")
	tm.waitScreen("the TUI, connected", func(s string) bool { return strings.Contains(s, "[1 Live]") && strings.Contains(s, "●") })
	oc := openai.NewClient(option.WithBaseURL(fmt.Sprintf("http://127.0.0.1:%d/v1", port)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	if _, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatal(err)
	}
	screen := tm.waitScreen("the request", func(s string) bool { return strings.Contains(s, "gpt-4o") })
	for _, leak := range []string{"aigw ready", "level=", "msg="} {
		if strings.Contains(screen, leak) {
			t.Errorf("status or log output on the TUI (%q):\n%s", leak, screen)
		}
	}
	tm.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for tm.alive() {
		if time.Now().After(deadline) {
			t.Fatalf("q did not stop aigw run --tui:\n%s", tm.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, err := os.ReadFile(filepath.Join(state, "runs", "tui", "aigw.log"))
	if err != nil || !strings.Contains(string(log), `"ready"`) || !strings.Contains(string(log), `"stopped"`) || !strings.Contains(string(log), `"request_model":"gpt-4o"`) {
		t.Errorf("run log: %v\n%s", err, log)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Error("the gateway still listens after q")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
