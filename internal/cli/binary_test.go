package cli

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryDemoLifecycle builds aigw, runs `aigw run --demo` as a user would, asks it a question,
// checks `aigw healthcheck`, and stops it with SIGTERM, which must exit 0 and leave a run log.
func TestBinaryDemoLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "aigw")
	build := exec.Command("go", "build", "-o", bin, "github.com/aigw/aigw/cmd/aigw")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := t.TempDir()
	cmd := exec.Command(bin, "run", "--demo", "--port", "0", "--admin-port", "0", "--state-home", state, "--run-id", "t1")
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "ANTHROPIC_API_KEY=")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	ready := regexp.MustCompile(`aigw ready: gateway (http://\S+), admin (http://[^\s,]+)`)
	lines := bufio.NewScanner(stderr)
	var gw, admin string
	deadline := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	for lines.Scan() {
		if m := ready.FindStringSubmatch(lines.Text()); m != nil {
			gw, admin = m[1], m[2]
			break
		}
	}
	deadline.Stop()
	if gw == "" {
		t.Fatal("no ready line")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	resp, err := http.Post(gw+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"chat.completion"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if out, err := exec.Command(bin, "healthcheck", "--admin", admin).CombinedOutput(); err != nil {
		t.Fatalf("healthcheck: %v %s", err, out)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("aigw did not exit within 10s of SIGTERM")
	}
	log, err := os.ReadFile(filepath.Join(state, "runs", "t1", "aigw.log"))
	if err != nil || !strings.Contains(string(log), `"ready"`) || !strings.Contains(string(log), `"request_model":"gpt-4o-mini"`) {
		t.Fatalf("run log: %v\n%s", err, log)
	}
	if out, err := exec.Command(bin, "healthcheck", "--admin", admin, "--timeout", "1s").CombinedOutput(); err == nil {
		t.Fatalf("healthcheck passed after exit: %s", out)
	}
}
