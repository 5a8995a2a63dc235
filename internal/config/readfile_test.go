//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFilesNeverBlock: a named pipe with no writer (as a key file or as the configuration
// file) and a file larger than the limit are load errors that name the file, returned at once.
func TestSecretFilesNeverBlock(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	huge := filepath.Join(dir, "huge.key")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxSecretFileBytes + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	cfg := filepath.Join(dir, "config.yaml")
	secret := func(name, path string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  annotations:\n    substitution.aigw.run/file/apiKey: " + path + "\n---\n"
	}
	if err := os.WriteFile(cfg, []byte(secret("pipe", fifo)+secret("huge", huge)), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, path string
		want       []string
	}{
		{"key files", cfg, []string{
			"config.yaml:5: Secret \"pipe\": annotation substitution.aigw.run/file/apiKey: " + fifo + ": not a regular file (a named pipe)",
			"config.yaml:12: Secret \"huge\": annotation substitution.aigw.run/file/apiKey: " + huge + ": 1048577 bytes, larger than 1 MiB",
		}},
		{"config file", fifo, []string{fifo + ": not a regular file (a named pipe)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := LoadFile(c.path, func(string) string { return "" })
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("loaded")
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
			case <-time.After(5 * time.Second):
				// Unblock the reader so the test can end, then fail.
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatal("loading blocked on a named pipe")
			}
		})
	}
}

// TestReadRegularFileLimit: a regular file up to the limit is read whole; one byte more is refused.
func TestReadRegularFileLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(p, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadRegularFile(p, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := ReadRegularFile(p, 9); err == nil || !strings.Contains(err.Error(), "larger than 9 bytes") {
		t.Errorf("over the limit: %v", err)
	}
}
