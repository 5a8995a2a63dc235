package config

import (
	"regexp"
	"time"
)

// Limits are the request and token limits and the backend quotas of a Model
// (BackendTrafficPolicy rateLimit, QuotaPolicy). A nil *Limits limits nothing.
type Limits struct {
	// RateLimits are checked, all of them, before a request is sent.
	RateLimits []*RateLimit
	// Quotas are checked per candidate backend: an exhausted backend is skipped.
	Quotas []*Quota
}

// RateLimit is one rule of a BackendTrafficPolicy rateLimit: a budget per window for the
// requests its selectors match, counted per distinct value of its Distinct headers.
type RateLimit struct {
	// Name identifies the rule and its counters: "namespace/policy/rule-index". Counters keep
	// their values across reloads as long as the name stays.
	Name string
	// Routes are the routes the rule applies to; nil means every route (a Gateway target).
	Routes []*Route
	// Global counters live in the shared store (Redis when configured); local ones are per
	// instance, as Envoy Gateway's local rate limits are.
	Global bool
	// Headers must all match for the rule to apply; a Distinct header makes one budget per value.
	Headers []RateLimitHeader
	// Limit is the budget of one window: requests, or tokens when CostKey is set.
	Limit uint64
	// Window is the unit of the limit (1s, 1m, 1h, 24h); windows are fixed and aligned to it.
	Window time.Duration
	// CostKey names the llmRequestCosts metadata key charged after the response (the rule's
	// cost.response); "" counts one per request, charged when it is admitted.
	CostKey string
	// Shadow rules count and report but never refuse (shadowMode).
	Shadow bool
	// Shared rules keep one budget across all their routes; otherwise each route has its own
	// counters, as Envoy Gateway counts a rule per route unless it is shared.
	Shared bool
}

// Tokens reports whether the rule counts a cost (tokens) rather than requests.
func (r *RateLimit) Tokens() bool { return r.CostKey != "" }

// AppliesTo reports whether the rule covers route.
func (r *RateLimit) AppliesTo(route *Route) bool {
	if r.Routes == nil {
		return true
	}
	for _, x := range r.Routes {
		if x == route {
			return true
		}
	}
	return false
}

// RateLimitHeader is one header selector of a rate limit rule (names are lower case).
type RateLimitHeader struct {
	Name string
	// Distinct counts each value of the header apart; the header must be present.
	Distinct bool
	// Exact is the value to equal when Regex is nil and Distinct is false.
	Exact string
	Regex *regexp.Regexp
	// Invert applies the rule when the header does not match.
	Invert bool
}

// Quota is a QuotaPolicy budget of one backend (serviceQuota) or of one model on it
// (perModelQuotas defaultBucket), charged after each response with its cost.
type Quota struct {
	// Name identifies the quota and its counters: "namespace/policy/service" or ".../model/<m>".
	Name    string
	Backend *Backend
	// Model is the model the quota counts ("" for the whole backend): the model sent upstream.
	Model  string
	Limit  uint64
	Window time.Duration
	// Cost computes the charge of a request from its usage; nil charges the total tokens.
	Cost CostProgram
	// CostExpr is Cost's CEL source ("" when Cost is nil).
	CostExpr string
	// Bucket is set on a per-model quota's bucketRules entry, which counts only the requests
	// its selectors match; the default bucket and the service quota have none.
	Bucket *QuotaBucketRule
}

// QuotaBucketRule selects the requests a bucket of a per-model quota counts. In the Shared mode
// (the only one) a request is charged to the default bucket and every bucket rule it matches,
// and the backend may take it while any one of those buckets has budget left.
type QuotaBucketRule struct {
	// Headers must all match (Distinct: one budget per value); none selects every request.
	Headers []RateLimitHeader
	// Shadow buckets count but never make the backend exhausted.
	Shadow bool
}
