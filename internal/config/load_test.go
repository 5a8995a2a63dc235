package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata from the current output")

// goldenEnv is the environment every golden case loads with.
var goldenEnv = map[string]string{
	"OPENAI_API_KEY":       "sk-test-openai",
	"ANTHROPIC_API_KEY":    "sk-ant-test",
	"AZURE_OPENAI_API_KEY": "az-test",
	"OPENAI_FROM_ANNOT":    "sk-from-annotation",
}

// TestLoadGolden loads testdata/<case>.in.yaml (or .in.json) and compares the resolved Model
// with <case>.out.json, or the errors with <case>.err.txt. Run with -update to rewrite them.
func TestLoadGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.in.*")
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.in.* cases")
	}
	for _, in := range inputs {
		base := strings.TrimSuffix(strings.TrimSuffix(in, filepath.Ext(in)), ".in")
		t.Run(filepath.Base(base), func(t *testing.T) {
			m, err := LoadFile(in, envOf(goldenEnv))
			var got []byte
			golden, other := base+".out.json", base+".err.txt"
			if err != nil {
				got = []byte(err.Error() + "\n")
				golden, other = other, golden
			} else {
				got = renderModel(t, m)
			}
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				_ = os.Remove(other)
				return
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (the case produced %s; run go test -update to record it):\n%s", rerr, filepath.Base(golden), got)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// renderModel is a stable JSON rendering of a Model: backends by name, regular expressions as
// text, durations as strings, secrets redacted, paths relative to testdata.
func renderModel(t *testing.T, m *Model) []byte {
	t.Helper()
	type header struct{ Name, Value string }
	type mutation struct {
		Set    []header `json:",omitempty"`
		Remove []string `json:",omitempty"`
	}
	type ref struct {
		Backend           string
		Weight            int
		Priority          int       `json:",omitempty"`
		ModelNameOverride string    `json:",omitempty"`
		HeaderMutation    *mutation `json:",omitempty"`
		BodyMutation      *mutation `json:",omitempty"`
	}
	type match struct{ Headers []string }
	type rule struct {
		Name              string
		Matches           []match `json:",omitempty"`
		Backends          []ref
		Timeout           string
		StreamIdleTimeout string       `json:",omitempty"`
		Retry             *RetryPolicy `json:",omitempty"`
		ModelsOwnedBy     string
		ModelsCreatedAt   string `json:",omitempty"`
	}
	type cost struct{ MetadataKey, Type, CEL string }
	type route struct {
		Name      string
		Hostnames []string `json:",omitempty"`
		Rules     []rule
		Costs     []cost `json:",omitempty"`
	}
	type backend struct {
		Name           string
		Schema         Schema
		Endpoint       string
		Auth           *Auth     `json:",omitempty"`
		HeaderMutation *mutation `json:",omitempty"`
		BodyMutation   *mutation `json:",omitempty"`
		TLS            *TLS      `json:",omitempty"`
	}
	type model struct {
		Source              string
		Port                int
		MaxRequestBodyBytes int64
		Routes              []route
		Backends            []backend
		GlobalCosts         []cost   `json:",omitempty"`
		Files               []string `json:",omitempty"`
		Warnings            []string `json:",omitempty"`
	}
	hm := func(h *HeaderMutation) *mutation {
		if h == nil {
			return nil
		}
		out := &mutation{Remove: h.Remove}
		for _, s := range h.Set {
			out.Set = append(out.Set, header{s.Name, s.Value})
		}
		return out
	}
	bm := func(b *BodyMutation) *mutation {
		if b == nil {
			return nil
		}
		out := &mutation{Remove: b.Remove}
		for _, s := range b.Set {
			out.Set = append(out.Set, header{s.Path, s.Value})
		}
		return out
	}
	costs := func(cs []Cost) []cost {
		var out []cost
		for _, c := range cs {
			if c.Type == CostCEL && c.Program == nil {
				t.Errorf("cost %s: CEL without a program", c.MetadataKey)
			}
			out = append(out, cost{c.MetadataKey, string(c.Type), c.CEL})
		}
		return out
	}
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	abs, _ := filepath.Abs("testdata")
	out := model{Source: m.Source, Port: m.Port, MaxRequestBodyBytes: m.MaxRequestBodyBytes, GlobalCosts: costs(m.GlobalCosts), Warnings: m.Warnings}
	for _, f := range m.Files {
		rel, err := filepath.Rel(abs, f)
		if err != nil {
			rel = f
		}
		out.Files = append(out.Files, filepath.ToSlash(rel))
	}
	for _, r := range m.Routes {
		rv := route{Name: r.Name, Hostnames: r.Hostnames, Costs: costs(r.Costs)}
		for _, ru := range r.Rules {
			rr := rule{Name: ru.Name, Timeout: ru.Timeout.String(), StreamIdleTimeout: dur(ru.StreamIdleTimeout), Retry: ru.Retry, ModelsOwnedBy: ru.ModelsOwnedBy}
			if !ru.ModelsCreatedAt.IsZero() {
				rr.ModelsCreatedAt = ru.ModelsCreatedAt.Format(time.RFC3339)
			}
			for _, mt := range ru.Matches {
				mv := match{Headers: []string{}}
				for _, h := range mt.Headers {
					if h.Regex != nil {
						mv.Headers = append(mv.Headers, h.Name+" ~ "+h.Regex.String())
					} else {
						mv.Headers = append(mv.Headers, h.Name+" = "+h.Exact)
					}
				}
				rr.Matches = append(rr.Matches, mv)
			}
			for _, br := range ru.Backends {
				rr.Backends = append(rr.Backends, ref{br.Backend.Name, br.Weight, br.Priority, br.ModelNameOverride, hm(br.HeaderMutation), bm(br.BodyMutation)})
			}
			rv.Rules = append(rv.Rules, rr)
		}
		out.Routes = append(out.Routes, rv)
	}
	for _, b := range m.Backends {
		out.Backends = append(out.Backends, backend{b.Name, b.Schema, b.Endpoint.String(), b.Auth, hm(b.HeaderMutation), bm(b.BodyMutation), b.TLS})
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}
