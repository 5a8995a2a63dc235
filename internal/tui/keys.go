package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the TUI answers, in one place.
type KeyMap struct {
	Quit, NextView, PrevView   key.Binding
	Live, Totals, Trace, MCP   key.Binding
	Up, Down, PageUp, PageDown key.Binding
	Top, Bottom                key.Binding
	Open, Back                 key.Binding
	Filter, ClearFilter        key.Binding
	Pause, Sort, Reverse       key.Binding
}

// DefaultKeyMap is the keyboard layout of the help line.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:        b("q", "quit", "q", "ctrl+c"),
		NextView:    b("tab", "view", "tab"),
		PrevView:    b("shift+tab", "view", "shift+tab"),
		Live:        b("1", "live", "1"),
		Totals:      b("2", "totals", "2"),
		Trace:       b("3", "trace", "3"),
		MCP:         b("4", "mcp", "4"),
		Up:          b("↑/k", "up", "up", "k"),
		Down:        b("↓/j", "down", "down", "j"),
		PageUp:      b("pgup", "page up", "pgup", "ctrl+b"),
		PageDown:    b("pgdn", "page down", "pgdown", "ctrl+f"),
		Top:         b("g", "newest", "g", "home"),
		Bottom:      b("G", "oldest", "G", "end"),
		Open:        b("enter", "trace", "enter"),
		Back:        b("esc", "back", "esc"),
		Filter:      b("/", "filter", "/"),
		ClearFilter: b("esc", "clear", "esc"),
		Pause:       b("space", "pause", "space"),
		Sort:        b("s", "sort", "s"),
		Reverse:     b("S", "reverse", "S"),
	}
}
