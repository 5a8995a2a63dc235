package observe

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestRotatingFileNoLostOrMixedLines: the access log and a slog handler write to one rotating
// file from many goroutines while it rotates hundreds of times; every line arrives whole, once,
// and every file but the current one stays within the limit.
func TestRotatingFileNoLostOrMixedLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "aigw.log")
	const maxSize = 8 << 10
	rf, err := OpenRotatingFile(path, maxSize, 10000)
	if err != nil {
		t.Fatal(err)
	}
	access := NewAccessLog(rf)
	log := slog.New(slog.NewJSONHandler(rf, nil))
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if w%2 == 0 {
					access.OnRequest(&RequestEvent{ID: id, RequestModel: strings.Repeat("m", i%300)})
					if i%7 == 0 {
						access.Flush()
					}
				} else {
					log.Info("line", "id", id, "pad", strings.Repeat("p", i%300))
				}
			}
		}()
	}
	wg.Wait()
	access.Flush()
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}

	files, _ := filepath.Glob(path + "*")
	if len(files) < 100 {
		t.Fatalf("%d files: the log did not rotate as often as it should", len(files))
	}
	seen := map[string]int{}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if f != path && fi.Size() > maxSize+accessLogBuffer {
			t.Errorf("%s is %d bytes", f, fi.Size())
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var v struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil || v.ID == "" {
				t.Fatalf("%s: broken line %q", f, sc.Text())
			}
			seen[v.ID]++
		}
		fh.Close()
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct lines, want %d", len(seen), writers*each)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("line %s written %d times", id, n)
		}
	}
}

// TestRotatingFileKeepsN: only the newest maxFiles old files are kept, numbered from newest.
func TestRotatingFileKeepsN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigw.log")
	rf, err := OpenRotatingFile(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := rf.Write([]byte("line " + strconv.Itoa(i) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	rf.Close()
	for f, want := range map[string]string{path: "line 4\n", path + ".1": "line 3\n", path + ".2": "line 2\n"} {
		if b, err := os.ReadFile(f); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", filepath.Base(f), b, err, want)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("a third old file was kept")
	}

	// Reopening appends to the current file and counts its size.
	rf, err = OpenRotatingFile(path, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rf.Write([]byte("line 5\n")) // 7+7 > 10: with no old file kept, the file starts over
	rf.Close()
	if b, _ := os.ReadFile(path); string(b) != "line 5\n" {
		t.Errorf("after a rotation keeping nothing: %q", b)
	}
	if _, err := rf.Write([]byte("x\n")); err == nil {
		t.Error("a write after Close succeeded")
	}
}
