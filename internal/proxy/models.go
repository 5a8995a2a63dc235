package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aigw/aigw/internal/backendauth"
	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
	"github.com/aigw/aigw/internal/version"
)

// modelEntry is one item of an OpenAI model list.
type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string       `json:"object"`
	Data   []modelEntry `json:"data"`
}

// providerModelLists says how to ask a schema's provider for its models, as data.
var providerModelLists = map[config.SchemaName]func(body []byte) ([]modelEntry, error){
	config.SchemaOpenAI:    parseOpenAIModels,
	config.SchemaAnthropic: parseAnthropicModels,
}

// listModels answers /v1/models with what the configuration serves for the request's host.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	body, _ := json.Marshal(modelList{Object: "list", Data: s.modelEntries(r)})
	writeJSON(w, http.StatusOK, body)
}

// retrieveModel answers GET /v1/models/{id} as OpenAI's retrieve does: the model object when
// /v1/models lists it (the same entry), else a 404 in OpenAI's shape.
func (s *Server) retrieveModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, e := range s.modelEntries(r) {
		if e.ID == id {
			body, _ := json.Marshal(e)
			writeJSON(w, http.StatusOK, body)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, translate.ErrorBody(translate.APIOpenAI, &translate.Error{
		Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: "The model '" + id + "' does not exist",
	}))
}

// modelEntries is what the configuration serves for the request's host: models named by exact
// matches, each rule's backend's declared models, and for a backend that declares none the
// provider's own list (filtered by the rule's model pattern).
func (s *Server) modelEntries(r *http.Request) []modelEntry {
	m := s.pipeline.Model()
	seen := map[string]bool{}
	out := modelList{Object: "list", Data: []modelEntry{}}
	add := func(e modelEntry) {
		if !seen[e.ID] {
			seen[e.ID] = true
			out.Data = append(out.Data, e)
		}
	}
	now := time.Now().Unix()
	for _, route := range m.HostRoutes(r.Host) {
		for _, rule := range route.Rules {
			exact, pattern := ruleModels(rule)
			created := now
			if !rule.ModelsCreatedAt.IsZero() {
				created = rule.ModelsCreatedAt.Unix()
			}
			for _, id := range exact {
				add(modelEntry{ID: id, Object: "model", Created: created, OwnedBy: ownedBy(rule)})
			}
			if len(exact) > 0 || len(rule.Backends) == 0 {
				continue
			}
			b := rule.Backends[0].Backend
			entries := s.backendModels(r.Context(), b, now)
			for _, e := range entries {
				if pattern == nil || pattern.Matches(e.ID) {
					add(e)
				}
			}
		}
	}
	return out.Data
}

// ruleModels returns the models a rule names exactly, or the model condition it matches on.
func ruleModels(rule *config.Rule) (exact []string, pattern *config.HeaderMatch) {
	for _, m := range rule.Matches {
		for i, h := range m.Headers {
			if h.Name != config.ModelHeader {
				continue
			}
			if h.Regex == nil {
				exact = append(exact, h.Exact)
			} else {
				pattern = &m.Headers[i]
			}
		}
	}
	return exact, pattern
}

// ownedBy is the owner shown for a rule's models: the rule's modelsOwnedBy, else its backend's.
func ownedBy(rule *config.Rule) string {
	if rule.ModelsOwnedBy != "" {
		return rule.ModelsOwnedBy
	}
	if len(rule.Backends) > 0 && rule.Backends[0].Backend.ModelsOwnedBy != "" {
		return rule.Backends[0].Backend.ModelsOwnedBy
	}
	return "aigw"
}

// backendModels lists a backend's declared models, or asks its provider (cached).
func (s *Server) backendModels(ctx context.Context, b *config.Backend, now int64) []modelEntry {
	if len(b.Models) > 0 {
		out := make([]modelEntry, len(b.Models))
		owner := b.ModelsOwnedBy
		if owner == "" {
			owner = b.Name
		}
		for i, id := range b.Models {
			out[i] = modelEntry{ID: id, Object: "model", Created: now, OwnedBy: owner}
		}
		return out
	}
	entries, err := s.models.get(ctx, b)
	if err != nil {
		s.log.Warn("cannot list the provider's models", "backend", b.Name, "error", err)
	}
	return entries
}

// modelCache keeps providers' model lists briefly, so /v1/models does not hit them every time.
type modelCache struct {
	transports *transports
	auth       func(*config.Backend) (backendauth.Handler, error) // the pipeline's credential handlers
	ttl        time.Duration
	mu         sync.Mutex
	entries    map[*config.Backend]cachedModels
}

type cachedModels struct {
	at   time.Time
	list []modelEntry
}

func newModelCache(t *transports, auth func(*config.Backend) (backendauth.Handler, error), ttl time.Duration) *modelCache {
	return &modelCache{transports: t, auth: auth, ttl: ttl, entries: map[*config.Backend]cachedModels{}}
}

func (c *modelCache) get(ctx context.Context, b *config.Backend) ([]modelEntry, error) {
	c.mu.Lock()
	e, ok := c.entries[b]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.list, nil
	}
	parse, ok := providerModelLists[b.Schema.Name]
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.Endpoint.Scheme+"://"+b.Endpoint.Host+b.Schema.Prefix+"/models", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", version.UserAgent())
	req.Header.Set("Anthropic-Version", translate.DefaultAnthropicVersion)
	for _, h := range b.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	auth, err := c.auth(b)
	if err != nil {
		return nil, err
	}
	if err := auth.Do(ctx, &translate.Upstream{Method: req.Method, Path: req.URL.Path, Header: req.Header}); err != nil {
		return nil, err
	}
	resp, err := c.transports.get(b).RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	list, err := parse(body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	now := time.Now()
	for k, e := range c.entries { // backends of replaced configurations age out
		if now.Sub(e.at) >= c.ttl {
			delete(c.entries, k)
		}
	}
	c.entries[b] = cachedModels{at: now, list: list}
	c.mu.Unlock()
	return list, nil
}

func parseOpenAIModels(body []byte) ([]modelEntry, error) {
	var l modelList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("decoding the model list: %w", err)
	}
	for i := range l.Data {
		l.Data[i].Object = "model"
	}
	return l.Data, nil
}

func parseAnthropicModels(body []byte) ([]modelEntry, error) {
	var l struct {
		Data []struct {
			ID        string    `json:"id"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("decoding the model list: %w", err)
	}
	out := make([]modelEntry, len(l.Data))
	for i, d := range l.Data {
		out[i] = modelEntry{ID: d.ID, Object: "model", Created: d.CreatedAt.Unix(), OwnedBy: "anthropic"}
	}
	return out, nil
}
