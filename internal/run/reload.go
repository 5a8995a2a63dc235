package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
)

// reloader watches a configuration file and every file it references, and swaps a freshly
// loaded Model into the pipeline when any of them changes. A file that does not load is logged
// and the Model in force keeps serving. Polling (rather than inotify) sees edits made by
// renaming, through symlinks (Kubernetes ConfigMaps) and on every platform alike.
type reloader struct {
	path     string
	load     func() (*config.Model, error)
	pipeline *extproc.Pipeline
	log      *slog.Logger
	interval time.Duration
	// adjust applies command-line overrides to each new Model.
	adjust func(*config.Model)
}

// run polls until ctx ends.
func (r *reloader) run(ctx context.Context) {
	sums := fileSums(r.pipeline.Model().Files)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		files := r.pipeline.Model().Files
		now := fileSums(files)
		if bytes.Equal(now, sums) {
			continue
		}
		sums = now
		r.reload()
	}
}

// reload loads and, if the result is good, swaps it in.
func (r *reloader) reload() {
	old := r.pipeline.Model()
	m, err := r.load()
	if err != nil {
		r.log.Error("configuration reload failed; the previous configuration keeps serving", "file", r.path, "error", err)
		return
	}
	r.adjust(m)
	for _, w := range m.Warnings {
		r.log.Warn(w)
	}
	r.pipeline.Swap(m)
	r.log.Warn("configuration reloaded: " + describeChange(old, m)) // warn level: shown on the terminal too
	if m.Port != 0 && old.Port != m.Port {
		r.log.Warn("the listener port changed in the configuration; restart aigw to listen on it", "port", m.Port)
	}
}

// fileSums hashes the files' contents (a missing file hashes as empty, so its return counts as a change).
func fileSums(files []string) []byte {
	h := sha256.New()
	for _, f := range files {
		b, _ := config.ReadRegularFile(f, config.MaxConfigFileBytes) // never blocks on a pipe swapped in
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return h.Sum(nil)
}

// describeChange is a one-line summary of what a reload changed.
func describeChange(old, cur *config.Model) string {
	added, removed, changed := diffByName(backendPrints(old), backendPrints(cur))
	radded, rremoved, rchanged := diffByName(routePrints(old), routePrints(cur))
	var parts []string
	part := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ", "))
		}
	}
	part("backends added:", added)
	part("backends removed:", removed)
	part("backends changed:", changed)
	part("routes added:", radded)
	part("routes removed:", rremoved)
	part("routes changed:", rchanged)
	if len(parts) == 0 {
		parts = append(parts, "no backend or route changed")
	}
	return fmt.Sprintf("%d backend(s), %d route(s); %s", len(cur.Backends), len(cur.Routes), strings.Join(parts, "; "))
}

func diffByName(old, cur map[string]string) (added, removed, changed []string) {
	for n, p := range cur {
		if op, ok := old[n]; !ok {
			added = append(added, n)
		} else if op != p {
			changed = append(changed, n)
		}
	}
	for n := range old {
		if _, ok := cur[n]; !ok {
			removed = append(removed, n)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	slices.Sort(changed)
	return added, removed, changed
}

// backendPrints fingerprints backends by name; a changed secret changes the print without
// appearing in it.
func backendPrints(m *config.Model) map[string]string {
	out := make(map[string]string, len(m.Backends))
	for _, b := range m.Backends {
		j, _ := json.Marshal(b)
		if b.Auth != nil {
			sum := sha256.Sum256([]byte(b.Auth.Key.Reveal()))
			j = append(j, sum[:]...)
		}
		out[b.Name] = string(j)
	}
	return out
}

func routePrints(m *config.Model) map[string]string {
	out := make(map[string]string, len(m.Routes))
	for _, r := range m.Routes {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%v|%d|", r.Hostnames, len(r.Costs))
		for _, rule := range r.Rules {
			fmt.Fprintf(&sb, "%s:%v:%s:%v;", rule.Name, rule.Timeout, rule.StreamIdleTimeout, rule.Retry)
			for _, mt := range rule.Matches {
				for _, h := range mt.Headers {
					fmt.Fprintf(&sb, "%s=%s/%v,", h.Name, h.Exact, h.Regex)
				}
			}
			for _, ref := range rule.Backends {
				fmt.Fprintf(&sb, "%s:%d:%d:%s:%v:%v,", ref.Backend.Name, ref.Weight, ref.Priority, ref.ModelNameOverride, ref.HeaderMutation, ref.BodyMutation)
			}
		}
		out[r.Name] = sb.String()
	}
	return out
}
