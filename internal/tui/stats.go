package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/version"
)

// StatsMsg carries the gateway's own totals since it started (GET /stats), which reach further
// back than the events the TUI has seen.
type StatsMsg struct {
	Stats *observe.StatsSnapshot
	Err   error
}

// statsEvery is how often the Totals view asks for GET /stats while it is shown.
const statsEvery = 2 * time.Second

var statsClient = &http.Client{Timeout: 2 * time.Second}

// fetchStats is the command that asks the admin server for its totals.
func fetchStats(admin string) tea.Cmd {
	return func() tea.Msg {
		var s observe.StatsSnapshot
		if err := getJSON(admin+"/stats", &s); err != nil {
			return StatsMsg{Err: err}
		}
		return StatsMsg{Stats: &s}
	}
}

// getJSON reads one JSON document from the admin server, with a short timeout.
func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", version.UserAgent())
	resp, err := statsClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", req.URL.Path, err)
	}
	return nil
}

// statsLines sum up the gateway's totals since it started, in two lines of at most 78 cells.
func statsLines(s *observe.StatsSnapshot, loc *time.Location) []string {
	t := s.Total
	usd := fmtAmount(t.CostUSD)
	if t.CostUnknown > 0 {
		usd += "+?"
	}
	first := fmt.Sprintf("Gateway since %s: %d req, %d err, in %s, out %s, %s",
		s.Since.In(loc).Format("15:04:05"), t.Requests, t.Errors, fmtTokens(t.Tokens.InputTokens),
		fmtTokens(t.Tokens.OutputTokens), usd)
	second := "Below: the requests this TUI has seen (replay included)."
	if t.Latency != nil {
		second = "p50 " + fmtMillis(t.Latency.P50) + ", p95 " + fmtMillis(t.Latency.P95) + ". " + second
	}
	return []string{first, second}
}

// InFlightMsg carries the gateway's requests in flight (GET /inflight), asked for after events
// were lost so that requests whose end was lost stop showing as in flight.
type InFlightMsg struct {
	InFlight *observe.InFlight
	Err      error
}

// fetchInFlight is the command that asks the admin server which requests are in flight.
func fetchInFlight(admin string) tea.Cmd {
	return func() tea.Msg {
		var f observe.InFlight
		if err := getJSON(admin+"/inflight", &f); err != nil {
			return InFlightMsg{Err: err}
		}
		return InFlightMsg{InFlight: &f}
	}
}
