package tui

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/observe"
)

// update rewrites the golden files: go test ./internal/tui -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata golden files")

// scriptStart is the time of the first scripted event; scriptNow is the screen's clock.
var (
	scriptStart = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	scriptNow   = scriptStart.Add(9 * time.Second)
)

// loadEvents reads a testdata/<name>.in.jsonl script of events.
func loadEvents(t testing.TB, name string) []*observe.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".in.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*observe.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ev := new(observe.Event)
		if err := json.Unmarshal(sc.Bytes(), ev); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// newTestModel is a model with plain styles, a fixed clock in UTC, no ticks, at w×h.
func newTestModel(w, h int) *Model {
	plain := PlainStyles()
	m := New(Options{Admin: "http://127.0.0.1:1064", Buffer: 100, Styles: &plain, Location: time.UTC,
		Clock: func() time.Time { return scriptNow }, Tick: -1})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// press is a key press by name: "enter", "esc", "tab", "space", "up", "down", or one character.
func press(name string) tea.KeyPressMsg {
	switch name {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	}
	r := []rune(name)[0]
	return tea.KeyPressMsg{Code: r, Text: name}
}

// typeText presses each character of s.
func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func sizeMsg(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// contextFrom is a context that ends when done is closed.
func contextFrom(done <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
