package tui

import (
	"charm.land/lipgloss/v2"
)

// Styles is every style the TUI draws with, in one place. Components take it; none builds its
// own. The zero value draws plain text (no escape sequences at all), which is what golden tests
// compare.
type Styles struct {
	TabActive, Tab       lipgloss.Style
	Connected, Offline   lipgloss.Style
	Paused               lipgloss.Style
	ColumnHeader         lipgloss.Style
	Selected             lipgloss.Style
	InFlight             lipgloss.Style
	StatusOK, StatusErr  lipgloss.Style
	Dim, Label, Title    lipgloss.Style
	Error                lipgloss.Style
	Help                 lipgloss.Style
	BarAttempt, BarFirst lipgloss.Style
	Spark                lipgloss.Style
}

// PlainStyles draws no attributes and no colour.
func PlainStyles() Styles { return Styles{} }

// MonoStyles uses attributes (bold, reverse, faint) but no colour: for NO_COLOR and terminals
// without colour.
func MonoStyles() Styles {
	b := lipgloss.NewStyle().Bold(true)
	return Styles{
		TabActive:    b.Reverse(true),
		Connected:    b,
		Offline:      b.Reverse(true),
		Paused:       b.Reverse(true),
		ColumnHeader: b,
		Selected:     lipgloss.NewStyle().Reverse(true),
		StatusErr:    b,
		Dim:          lipgloss.NewStyle().Faint(true),
		Label:        b,
		Title:        b,
		Error:        b,
		Help:         lipgloss.NewStyle().Faint(true),
	}
}

// ColorStyles is MonoStyles with colour.
func ColorStyles() Styles {
	s := MonoStyles()
	var (
		accent = lipgloss.Color("#7D56F4")
		green  = lipgloss.Color("#3FB950")
		red    = lipgloss.Color("#F85149")
		yellow = lipgloss.Color("#D29922")
		cyan   = lipgloss.Color("#39C5CF")
		grey   = lipgloss.Color("#8B949E")
	)
	s.TabActive = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accent)
	s.Tab = lipgloss.NewStyle().Foreground(grey)
	s.Connected = lipgloss.NewStyle().Foreground(green)
	s.Offline = lipgloss.NewStyle().Bold(true).Foreground(red)
	s.Paused = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#000000")).Background(yellow)
	s.ColumnHeader = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Selected = lipgloss.NewStyle().Background(lipgloss.Color("#30363D"))
	s.InFlight = lipgloss.NewStyle().Foreground(cyan)
	s.StatusOK = lipgloss.NewStyle().Foreground(green)
	s.StatusErr = lipgloss.NewStyle().Foreground(red)
	s.Dim = lipgloss.NewStyle().Foreground(grey)
	s.Label = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Title = lipgloss.NewStyle().Bold(true)
	s.Error = lipgloss.NewStyle().Foreground(red)
	s.Help = lipgloss.NewStyle().Foreground(grey)
	s.BarAttempt = lipgloss.NewStyle().Foreground(accent)
	s.BarFirst = lipgloss.NewStyle().Foreground(green)
	s.Spark = lipgloss.NewStyle().Foreground(cyan)
	return s
}
