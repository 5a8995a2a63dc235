package extproc

import (
	"errors"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// Under Envoy, backend choice and fallback are the router's: the pipeline cannot skip a backend
// per attempt as the builtin plane does. An upstream filter's immediate response is a local
// reply that Envoy sends to the client without a retry (Envoy's source/docs/upstream_filters.md:
// "local-reply failures won't trigger retries"; upstream_request.cc sends upstream filters'
// local replies through the downstream filter manager). So the router-level filter decides,
// before Envoy picks an endpoint, which of the rule's backends may take the request, and names
// that set in the request's `envoy.lb` dynamic metadata: the router merges it into its subset
// match criteria, and the rule's cluster (internal/xds) has one subset per set of endpoints.
// A backend is left out when its quota is exhausted or it cannot take the request (translation
// answers 422, or fails as the gateway's own error), which are the attempts the builtin plane
// skips to the next candidate.
const (
	// LBMetadataNamespace is the dynamic and endpoint metadata namespace of Envoy's subset load
	// balancer.
	LBMetadataNamespace = "envoy.lb"
	// SubsetKey is the envoy.lb key: each endpoint lists the subsets it belongs to (list_as_any),
	// a request names the one it may use.
	SubsetKey = "aigw-open"
	// MaxSubsetEndpoints bounds the endpoints of a rule whose subsets are generated: a cluster of
	// n endpoints has 2^n-1 subsets. A rule with more backends than this gets no subsets, and an
	// attempt at a backend that cannot take the request is answered at once (see README).
	MaxSubsetEndpoints = 8
)

// LiveRefs are the indexes of the rule's backend references Envoy may pick (weight above 0), in
// the rule's order; bit k of a subset mask stands for LiveRefs(rule)[k].
func LiveRefs(rule *config.Rule) []int {
	var out []int
	for i, r := range rule.Backends {
		if r.Weight > 0 {
			out = append(out, i)
		}
	}
	return out
}

// SubsetValue is the envoy.lb value of the subset of live references whose bits are set in mask.
func SubsetValue(mask uint64) string { return strconv.FormatUint(mask, 10) }

// subsetMetadata is the dynamic metadata that restricts Envoy's choice to the backends that can
// take this request, or nil when all of them can (or the rule has no subsets). With none left,
// err is why the last one cannot, the error the builtin plane answers after trying them all.
func (s *Stream) subsetMetadata() (*structpb.Struct, error) {
	live := LiveRefs(s.rule)
	if len(live) < 2 || len(live) > MaxSubsetEndpoints {
		return nil, nil
	}
	var mask, all uint64
	var lastErr error
	for k, i := range live {
		ref := s.rule.Backends[i]
		all |= 1 << k
		if s.rl.exhausted[ref] {
			continue
		}
		if err := s.probe(ref); err != nil {
			lastErr = err
			continue
		}
		mask |= 1 << k
	}
	switch {
	case mask == all:
		return nil, nil
	case mask == 0:
		return nil, lastErr
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		LBMetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			SubsetKey: structpb.NewStringValue(SubsetValue(mask)),
		}}),
	}}, nil
}

// probe translates the request for ref as an attempt would, without authenticating it, and
// returns the error that makes the builtin plane move on to the next backend: 422 (this backend
// cannot serve it) or a gateway failure. A client error that any backend would give (400) is
// left to the attempt, as the builtin plane answers it from the first candidate. A request the
// backend would take in several calls is one Envoy cannot send (one upstream request per
// attempt): that backend cannot take it here.
func (s *Stream) probe(ref *config.BackendRef) error {
	model := s.req.Model
	if ref.ModelNameOverride != "" {
		model = ref.ModelNameOverride
	}
	tr, err := translate.New(s.endpoint, translate.Target{Backend: ref.Backend, Model: model})
	var up *translate.Upstream
	if err == nil {
		up, err = tr.RequestBody(&s.req)
	}
	if err == nil && up != nil && len(up.Parts) > 0 {
		return splitUnsupported(ref, len(up.Parts))
	}
	var te *translate.Error
	if err == nil || (errors.As(err, &te) && te.Status < 500 && te.Status != http.StatusUnprocessableEntity) {
		return nil
	}
	return err
}

// splitUnsupported is the 422 of a request that backend ref takes in n calls: the Envoy data
// plane sends one upstream request per attempt.
func splitUnsupported(ref *config.BackendRef, n int) error {
	return translate.Errorf(http.StatusUnprocessableEntity, "unsupported_on_envoy",
		"backend %s takes this request in %d calls, which the Envoy data plane cannot make for one request: send one input per request, or run aigw with --data-plane builtin", ref.Backend.Name, n)
}
