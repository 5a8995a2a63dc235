// Package tui is `aigw tui`: a live terminal view of a running gateway's requests, tokens, costs
// and traces, fed by the admin server's event stream. See README.md for the data flow.
package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/aigw/aigw/internal/observe"
)

// Options configure the TUI model.
type Options struct {
	// Admin is the admin server's base URL, shown in the header and in errors.
	Admin string
	// Buffer is how many requests are kept for the Live view (default 10000).
	Buffer int
	// Styles to draw with; ColorStyles unless NoColor.
	Styles *Styles
	// NoColor draws attributes only (NO_COLOR, or a terminal without colour).
	NoColor bool
	// Location is the time zone of the TIME column (default local).
	Location *time.Location
	// Clock tells the time (default time.Now); tests fix it.
	Clock func() time.Time
	// Tick is how often in-flight latencies and sparklines move on (default 1s; <0 for never).
	Tick time.Duration
}

// DefaultBuffer is how many requests the TUI keeps unless told otherwise.
const DefaultBuffer = 10000

// tab is one of the views.
type tab int

const (
	tabLive tab = iota
	tabTotals
	tabTrace
	tabMCP
	numTabs
)

func (t tab) String() string { return [...]string{"Live", "Totals", "Trace", "MCP"}[t] }

// tickMsg moves the clock on.
type tickMsg time.Time

// Model is the TUI's state. It changes only in Update; View only draws it.
type Model struct {
	opts   Options
	keys   KeyMap
	styles Styles
	fixed  bool // styles were given: a colour profile does not change them
	help   help.Model
	input  textinput.Model

	width, height int
	now           time.Time

	store *Store
	rows  []*Request // the Live view's rows: filtered, sorted
	sel   int
	selID string

	tab      tab
	live     liveView
	totals   totalsView
	trace    traceView
	traceReq *Request
	mcp      mcpView

	filter    filter
	filtering bool
	paused    bool
	unseen    int // requests arrived while paused
	sortBy    sortKey
	asc       bool

	// gwStats is the gateway's own totals (GET /stats), fetched while Totals is shown.
	gwStats       *observe.StatsSnapshot
	statsAt       time.Time
	conn          ConnState
	connErr       error
	retry         time.Duration
	everConnected bool
	restarts      int
}

// New makes the model.
func New(o Options) *Model {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Tick == 0 {
		o.Tick = time.Second
	}
	m := &Model{opts: o, keys: DefaultKeyMap(), store: NewStore(o.Buffer), width: 80, height: 24, now: o.Clock()}
	switch {
	case o.Styles != nil:
		m.styles, m.fixed = *o.Styles, true
	case o.NoColor:
		m.styles = MonoStyles()
	default:
		m.styles = ColorStyles()
	}
	m.help = help.New()
	m.input = textinput.New()
	m.input.Prompt = "/ "
	m.input.Placeholder = "model:x backend:x status:5xx|ok|error|live, or any text"
	m.applyStyles()
	return m
}

func (m *Model) applyStyles() {
	s := m.styles
	m.help.Styles = help.Styles{ShortKey: s.Title, ShortDesc: s.Help, ShortSeparator: s.Help, Ellipsis: s.Help}
	m.help.ShortSeparator = " · "
}

// Store is the model's request store, for tests.
func (m *Model) Store() *Store { return m.store }

// Init starts the clock.
func (m *Model) Init() tea.Cmd { return m.tick() }

func (m *Model) tick() tea.Cmd {
	if m.opts.Tick < 0 {
		return nil
	}
	return tea.Tick(m.opts.Tick, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(m.width)
		m.input.SetWidth(max(10, m.width-4))
		m.scroll()
	case tea.ColorProfileMsg:
		if !m.fixed && msg.Profile != colorprofile.Unknown && msg.Profile <= colorprofile.ASCII {
			m.styles = MonoStyles()
			m.applyStyles()
		}
	case tickMsg:
		m.now = time.Time(msg)
		if m.sortBy == sortLatency && !m.paused {
			m.refresh()
		}
		return m, tea.Batch(m.tick(), m.maybeStats())
	case StatsMsg:
		if msg.Stats != nil {
			m.gwStats = msg.Stats
		}
	case EventsMsg:
		m.now = m.opts.Clock()
		before, gaps := m.store.next, m.store.Gaps
		for _, ev := range msg {
			m.store.Apply(ev)
		}
		if m.paused {
			m.unseen += int(m.store.next - before)
		} else {
			m.refresh()
		}
		if m.store.Gaps > gaps && m.opts.Admin != "" {
			// Events were lost: ask which requests are really in flight.
			return m, fetchInFlight(m.opts.Admin)
		}
	case InFlightMsg:
		if msg.InFlight != nil && m.store.Reconcile(msg.InFlight) > 0 && !m.paused {
			m.refresh()
		}
	case ConnMsg:
		m.conn, m.connErr, m.retry = msg.State, msg.Err, msg.Retry
		if msg.State == Connected {
			m.everConnected = true
		}
		if msg.Restarted {
			m.restarts++
			m.store.Restarted()
			m.refresh()
		}
	case tea.InterruptMsg:
		return m, tea.Quit
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// key handles one key press.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.filtering {
		switch {
		case msg.String() == "enter":
			m.filtering = false
			m.input.Blur()
			return nil
		case key.Matches(msg, k.ClearFilter):
			m.filtering = false
			m.input.Blur()
			m.input.SetValue("")
			m.setFilter("")
			return nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		m.setFilter(m.input.Value())
		return cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.NextView):
		m.tab = (m.tab + 1) % numTabs
		return m.maybeStats()
	case key.Matches(msg, k.PrevView):
		m.tab = (m.tab + numTabs - 1) % numTabs
		return m.maybeStats()
	case key.Matches(msg, k.Live):
		m.tab = tabLive
	case key.Matches(msg, k.Totals):
		m.tab = tabTotals
		return m.maybeStats()
	case key.Matches(msg, k.Trace):
		m.tab = tabTrace
		if m.traceReq == nil && m.sel < len(m.rows) {
			m.openTrace()
		}
	case key.Matches(msg, k.MCP):
		m.tab = tabMCP
	case key.Matches(msg, k.Up):
		m.move(-1)
	case key.Matches(msg, k.Down):
		m.move(1)
	case key.Matches(msg, k.PageUp):
		m.move(-max(1, m.bodyHeight()-2))
	case key.Matches(msg, k.PageDown):
		m.move(max(1, m.bodyHeight()-2))
	case key.Matches(msg, k.Top):
		m.move(-1 << 30)
	case key.Matches(msg, k.Bottom):
		m.move(1 << 30)
	case key.Matches(msg, k.Open) && m.tab == tabLive:
		if m.sel < len(m.rows) {
			m.openTrace()
			m.tab = tabTrace
		}
	case key.Matches(msg, k.Back):
		switch {
		case m.tab != tabLive:
			m.tab = tabLive
		case !m.filter.empty():
			m.input.SetValue("")
			m.setFilter("")
		}
	case key.Matches(msg, k.Filter):
		m.tab = tabLive
		m.filtering = true
		return m.input.Focus()
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if !m.paused {
			m.unseen = 0
			m.refresh()
		}
	case key.Matches(msg, k.Sort):
		m.sortBy = (m.sortBy + 1) % numSorts
		m.refresh()
	case key.Matches(msg, k.Reverse):
		m.asc = !m.asc
		m.refresh()
	}
	return nil
}

// maybeStats asks for GET /stats when the Totals view is shown and the last answer is old.
func (m *Model) maybeStats() tea.Cmd {
	if m.tab != tabTotals || m.conn != Connected || m.now.Sub(m.statsAt) < statsEvery {
		return nil
	}
	m.statsAt = m.now
	return fetchStats(m.opts.Admin)
}

func (m *Model) openTrace() {
	m.traceReq = m.rows[m.sel]
	m.trace.offset = 0
}

// move moves the selection (Live) or scrolls (Totals, Trace) by delta.
func (m *Model) move(delta int) {
	switch m.tab {
	case tabLive:
		if len(m.rows) == 0 {
			return
		}
		m.sel = max(0, min(len(m.rows)-1, m.sel+delta))
		m.selID = m.rows[m.sel].ID
		m.scroll()
	case tabTotals:
		m.totals.scroll(max(-1<<20, min(1<<20, delta)))
	case tabTrace:
		m.trace.scroll(max(-1<<20, min(1<<20, delta)))
	case tabMCP:
		m.mcp.scroll(max(-1<<20, min(1<<20, delta)))
	}
}

func (m *Model) scroll() { m.live.scroll(m.sel, len(m.rows), m.bodyHeight()-1) }

func (m *Model) setFilter(s string) {
	m.filter = parseFilter(s)
	m.refresh()
}

// refresh rebuilds the Live rows from the store, keeping the selection on the same request
// unless it is on the first row, which follows the newest.
func (m *Model) refresh() {
	rows := m.rows[:0]
	m.store.Each(func(r *Request) {
		if m.filter.match(r) {
			rows = append(rows, r)
		}
	})
	if m.sortBy == sortTime {
		if !m.asc { // newest first: the store's order reversed
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
		}
	} else {
		sortRows(rows, m.sortBy, m.asc, m.now)
	}
	clear(rows[len(rows):cap(rows)]) // let evicted requests go
	m.rows = rows
	follow := m.sel == 0
	if !follow && m.selID != "" {
		m.sel = len(rows) // not found: clamped below
		for i, r := range rows {
			if r.ID == m.selID {
				m.sel = i
				break
			}
		}
	}
	m.sel = max(0, min(m.sel, len(rows)-1))
	if len(rows) > 0 {
		m.selID = rows[m.sel].ID
	}
	m.scroll()
}

// banner is the line under the tabs while the gateway is away, if any.
func (m *Model) banner() string {
	if !m.everConnected || m.conn == Connected {
		return ""
	}
	text := "disconnected from " + m.opts.Admin
	if m.connErr != nil {
		text += ": " + m.connErr.Error()
	}
	if m.retry > 0 {
		text += " (retrying every " + fmtDur(m.retry) + "; the data below is as it was)"
	}
	return text
}

// bodyHeight is the rows left for the current view.
func (m *Model) bodyHeight() int {
	h := m.height - 2 // tabs and help
	if m.banner() != "" {
		h--
	}
	if m.filtering || !m.filter.empty() {
		h--
	}
	return max(0, h)
}

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "aigw tui"
	return v
}

// Render is the screen as text, width×height cells.
func (m *Model) Render() string {
	s := &m.styles
	lines := []string{m.header()}
	if b := m.banner(); b != "" {
		lines = append(lines, s.Offline.Render(fit(" "+b, m.width, false)))
	}
	body := m.bodyHeight()
	var content string
	switch {
	case !m.everConnected:
		content = m.notConnected(body)
	case m.tab == tabLive:
		empty := "No requests yet. Send one through the gateway and it shows here."
		if !m.filter.empty() {
			empty = "No request matches the filter (esc clears it)."
		}
		content = m.live.view(s, m.rows, m.sel, m.now, m.opts.Location, m.width, body, empty)
	case m.tab == tabTotals:
		content = m.totals.view(s, m.store.Total, m.gwStats, m.now, m.opts.Location, m.width, body)
	case m.tab == tabTrace:
		content = m.trace.view(s, m.traceReq, m.now, m.opts.Location, m.width, body)
	case m.tab == tabMCP:
		content = m.mcp.view(s, m.store.MCP, m.opts.Location, m.width, body)
	}
	if body > 0 {
		lines = append(lines, content)
	}
	if m.filtering {
		lines = append(lines, fit(m.input.View(), m.width, false))
	} else if !m.filter.empty() {
		lines = append(lines, fit(s.Label.Render("filter: ")+m.input.Value()+s.Dim.Render("  (/ edit, esc clear)"), m.width, false))
	}
	lines = append(lines, fit(m.help.ShortHelpView(m.helpKeys()), m.width, false))
	return strings.Join(lines, "\n")
}

// header is the tabs on the left and the link, counts and pause state on the right.
func (m *Model) header() string {
	s := &m.styles
	var left strings.Builder
	left.WriteString(s.Title.Render(" aigw "))
	for t := tab(0); t < numTabs; t++ {
		label := " " + strconv.Itoa(int(t)+1) + " " + t.String() + " "
		if t == m.tab {
			left.WriteString(s.TabActive.Render("[" + label[1:len(label)-1] + "]"))
		} else {
			left.WriteString(s.Tab.Render(label))
		}
	}
	var right []string
	if m.paused {
		right = append(right, s.Paused.Render(fmt.Sprintf("PAUSED +%d", m.unseen)))
	}
	if m.tab == tabLive && m.everConnected {
		count := strconv.Itoa(len(m.rows))
		if !m.filter.empty() {
			count += "/" + strconv.Itoa(m.store.Len())
		}
		arrow := "↓"
		if m.asc {
			arrow = "↑"
		}
		right = append(right, count+" req, sort "+m.sortBy.String()+arrow)
	}
	if m.store.Gaps > 0 {
		right = append(right, s.StatusErr.Render(fmt.Sprintf("%d events missed", m.store.Gaps)))
	}
	switch m.conn {
	case Connected:
		right = append(right, s.Connected.Render("● "+strings.TrimPrefix(m.opts.Admin, "http://")))
	case Connecting:
		right = append(right, s.Dim.Render("○ connecting"))
	case Disconnected:
		right = append(right, s.Offline.Render("✖ disconnected"))
	}
	r := strings.Join(right, "  ") + " "
	l := left.String()
	gap := m.width - ansi.StringWidth(l) - ansi.StringWidth(r)
	if gap < 1 {
		return fit(l+" "+r, m.width, false)
	}
	return l + strings.Repeat(" ", gap) + r
}

// notConnected is the body before the first connection: what is wrong and what to do.
func (m *Model) notConnected(height int) string {
	s := &m.styles
	lines := []string{""}
	if m.connErr == nil {
		lines = append(lines, "  Connecting to aigw at "+m.opts.Admin+" …")
		return fitLines(lines, m.width, height)
	}
	lines = append(lines, "  "+s.Error.Render("Cannot reach aigw at "+m.opts.Admin))
	for _, l := range strings.Split(ansi.Wrap(m.connErr.Error(), max(20, m.width-4), " "), "\n") {
		lines = append(lines, "  "+l)
	}
	lines = append(lines, "",
		"  Start the gateway with `aigw run` (or `aigw run --demo`), or point at",
		"  a running one with `aigw tui --admin URL`.")
	if m.retry > 0 {
		lines = append(lines, "", "  "+s.Dim.Render("Trying again every "+fmtDur(m.retry)+"; q quits."))
	}
	return fitLines(lines, m.width, height)
}

// helpKeys are the keys the help line shows for the current view and mode.
func (m *Model) helpKeys() []key.Binding {
	k := m.keys
	if m.filtering {
		enter := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply"))
		return []key.Binding{enter, k.ClearFilter}
	}
	scroll := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "scroll"))
	switch m.tab {
	case tabTotals:
		return []key.Binding{k.Quit, k.NextView, scroll, k.Back}
	case tabTrace, tabMCP:
		return []key.Binding{k.Quit, k.Back, scroll, k.NextView}
	}
	sel := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "select"))
	return []key.Binding{k.Quit, k.Open, sel, k.Filter, k.Pause, k.Sort, k.NextView}
}
