package extproc

import (
	"fmt"
	"net/http"

	"github.com/tidwall/sjson"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// mutateHeaders applies the backend's header edits, then the route reference's, so the
// reference's win for the same header.
func mutateHeaders(h http.Header, ms ...*config.HeaderMutation) {
	for _, m := range ms {
		if m == nil {
			continue
		}
		for _, name := range m.Remove {
			h.Del(name)
		}
		for _, s := range m.Set {
			h.Set(s.Name, s.Value)
		}
	}
}

// mutateBody applies body edits in the same order, patching fields in place rather than
// decoding the whole body.
func mutateBody(body []byte, ms ...*config.BodyMutation) ([]byte, error) {
	var err error
	for _, m := range ms {
		if m == nil {
			continue
		}
		for _, path := range m.Remove {
			if body, err = sjson.DeleteBytes(body, path); err != nil {
				return nil, translate.Errorf(http.StatusBadRequest, "body_mutation", "removing %q from the request: %v", path, err)
			}
		}
		for _, f := range m.Set {
			if body, err = sjson.SetRawBytes(body, f.Path, []byte(f.Value)); err != nil {
				return nil, translate.Errorf(http.StatusBadRequest, "body_mutation", "setting %q in the request: %v", f.Path, err)
			}
		}
	}
	return body, nil
}

// costs computes a request's llmRequestCosts: the global ones, replaced by the route's where the
// metadata key is the same.
func costs(global, route []config.Cost, vars config.CostVars) (map[string]uint64, error) {
	if len(global) == 0 && len(route) == 0 {
		return nil, nil
	}
	out := make(map[string]uint64, len(global)+len(route))
	var firstErr error
	for _, list := range [][]config.Cost{global, route} {
		for _, c := range list {
			v, err := costValue(c, vars)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("cost %q: %w", c.MetadataKey, err)
				}
				continue
			}
			out[c.MetadataKey] = v
		}
	}
	return out, firstErr
}

func costValue(c config.Cost, v config.CostVars) (uint64, error) {
	switch c.Type {
	case config.CostInputToken:
		return v.InputTokens, nil
	case config.CostCachedInputToken:
		return v.CachedInputTokens, nil
	case config.CostCacheCreationInputToken:
		return v.CacheCreationInputTokens, nil
	case config.CostOutputToken:
		return v.OutputTokens, nil
	case config.CostReasoningToken:
		return v.ReasoningTokens, nil
	case config.CostTotalToken:
		return v.TotalTokens, nil
	case config.CostCEL:
		if c.Program == nil {
			return 0, fmt.Errorf("expression %q was not compiled", c.CEL)
		}
		return c.Program.Eval(v)
	}
	return 0, fmt.Errorf("unknown cost type %q", c.Type)
}
