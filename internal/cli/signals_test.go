package cli

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runningAigw is a built aigw binary serving `aigw run` in a child process.
type runningAigw struct {
	cmd          *exec.Cmd
	gw, admin    string
	state        string
	mu           sync.Mutex
	stderr       strings.Builder
	stderrClosed chan struct{}
}

// startAigw builds aigw and runs `aigw run --demo --port 0 --admin-port 0` plus args until it
// prints its ready line. The process is killed when the test ends.
func startAigw(t *testing.T, args ...string) *runningAigw {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "aigw")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/aigw/aigw/cmd/aigw").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	a := &runningAigw{state: t.TempDir(), stderrClosed: make(chan struct{})}
	a.cmd = exec.Command(bin, append([]string{"run", "--demo", "--port", "0", "--admin-port", "0", "--state-home", a.state, "--run-id", "t"}, args...)...)
	a.cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "ANTHROPIC_API_KEY=")
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.cmd.Process.Kill(); <-a.stderrClosed; _ = a.cmd.Wait() })
	ready := regexp.MustCompile(`aigw ready: gateway (http://\S+), admin (http://[^\s,]+)`)
	readyc := make(chan [2]string, 1)
	go func() {
		defer close(a.stderrClosed)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			a.mu.Lock()
			a.stderr.WriteString(lines.Text() + "\n")
			a.mu.Unlock()
			if m := ready.FindStringSubmatch(lines.Text()); m != nil {
				readyc <- [2]string{m[1], m[2]}
			}
		}
	}()
	select {
	case m := <-readyc:
		a.gw, a.admin = m[0], m[1]
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line; stderr:\n%s", a.stderrText())
	}
	return a
}

func (a *runningAigw) stderrText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stderr.String()
}

// wait waits up to d for the process to exit and returns its exit code.
func (a *runningAigw) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { <-a.stderrClosed; done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("aigw did not exit within %s; stderr:\n%s", d, a.stderrText())
		return -1
	}
}

// slowStream starts a streamed chat completion that the demo answers at 2 tokens a second for
// 100 seconds, and returns once its first bytes arrived.
func (a *runningAigw) slowStream(t *testing.T) *http.Response {
	t.Helper()
	resp, err := http.Post(a.gw+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"max_tokens":200,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return resp
}

// health returns /health's status and body.
func (a *runningAigw) health(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(a.admin + "/health")
	if err != nil {
		t.Fatalf("/health: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSignalSecondForcesExit: the first SIGTERM starts the drain, during which /health answers
// 503 "draining" (the admin server stays up) while a stream runs on; a second SIGTERM ends the
// drain at once, and cutting the stream off makes the exit code 1.
func TestSignalSecondForcesExit(t *testing.T) {
	a := startAigw(t, "--demo-tps", "2", "--shutdown-grace", "2m")
	stream := a.slowStream(t)
	if code, body := a.health(t); code != 200 {
		t.Fatalf("/health before the signal: %d %s", code, body)
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := a.health(t)
		if code == http.StatusServiceUnavailable && body == "draining\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health while draining: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The stream is still being served during the drain.
	if _, err := stream.Body.Read(make([]byte, 64)); err != nil {
		t.Fatalf("stream during the drain: %v", err)
	}
	start := time.Now()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 5*time.Second); code != 1 {
		t.Fatalf("exit code %d after a forced stop, want 1; stderr:\n%s", code, a.stderrText())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("forced exit took %s", d)
	}
	if !strings.Contains(a.stderrText(), "shutdown forced") {
		t.Errorf("stderr does not say the shutdown was forced:\n%s", a.stderrText())
	}
	if _, err := io.ReadAll(stream.Body); err == nil {
		t.Error("the cut stream ended cleanly")
	}
}

// TestSignalGraceOverExitsNonZero: when the grace period ends with a request still in flight,
// its connection is closed and aigw exits 1, saying so.
func TestSignalGraceOverExitsNonZero(t *testing.T) {
	a := startAigw(t, "--demo-tps", "2", "--shutdown-grace", "1s")
	a.slowStream(t)
	start := time.Now()
	_ = a.cmd.Process.Signal(syscall.SIGINT)
	if code := a.wait(t, 10*time.Second); code != 1 {
		t.Fatalf("exit code %d after the grace period, want 1; stderr:\n%s", code, a.stderrText())
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("exited after %s, before the grace period", d)
	}
	if !strings.Contains(a.stderrText(), "grace period (1s) over") {
		t.Errorf("stderr does not name the grace period:\n%s", a.stderrText())
	}
}
