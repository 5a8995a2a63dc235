package proxy

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// tryPlan decides which backend each try goes to and whether a failure earns another try.
// Candidates are tried in order (priority fallback); a retry policy adds tries beyond them,
// which go to the last candidate, with exponential back-off and jitter.
type tryPlan struct {
	cands   []*config.BackendRef
	policy  *config.RetryPolicy
	tries   int
	timeout time.Duration
}

func newTryPlan(cands []*config.BackendRef, policy *config.RetryPolicy, timeout time.Duration) *tryPlan {
	p := &tryPlan{cands: cands, policy: policy, tries: len(cands), timeout: timeout}
	if policy != nil {
		if n := 1 + policy.NumRetries; n > p.tries {
			p.tries = n
		}
		if policy.PerTryTimeout > 0 {
			p.timeout = policy.PerTryTimeout
		}
	}
	return p
}

// ref is the backend of try i.
func (p *tryPlan) ref(i int) *config.BackendRef {
	return p.cands[min(i, len(p.cands)-1)]
}

// sameBackendNext reports whether try i+1 goes to the backend try i used.
func (p *tryPlan) sameBackendNext(i int) bool { return i+1 >= len(p.cands) }

// retryError says whether an unreachable or timed-out try i is followed by another: always when
// another backend is next (fallback), and on the same backend only if the policy says so.
func (p *tryPlan) retryError(i int) bool {
	if i+1 >= p.tries {
		return false
	}
	return !p.sameBackendNext(i) || p.policy.ConnectFailure
}

// retryStatus says whether a response status of try i is followed by another try: 429 and 5xx
// fall back to another backend; the policy's statuses retry on any.
func (p *tryPlan) retryStatus(i, status int) bool {
	if i+1 >= p.tries {
		return false
	}
	if p.policy != nil && slices.Contains(p.policy.Statuses, status) {
		return true
	}
	return !p.sameBackendNext(i) && (status == http.StatusTooManyRequests || status >= 500)
}

// backoff is the wait before try i: none for a different backend, exponential with full jitter
// for a retry of the same one.
func (p *tryPlan) backoff(i int) time.Duration {
	if i == 0 || p.policy == nil || i < len(p.cands) || p.policy.BaseBackoff <= 0 {
		return 0
	}
	d := p.policy.BaseBackoff << (i - len(p.cands))
	if limit := p.policy.MaxBackoff; limit > 0 && (d > limit || d <= 0) {
		d = limit
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
