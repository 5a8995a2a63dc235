package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one load run against one target measured.
type result struct {
	lat      []time.Duration // one per successful call
	elapsed  time.Duration
	errs     int
	firstErr error
}

// runLoad calls do from conc goroutines, each call right after the previous one returns (a
// closed loop), until maxReq calls have started or dur has passed, whichever comes first. It
// knows nothing about HTTP, so any section can drive its own kind of call with it.
func runLoad(ctx context.Context, conc, maxReq int, dur time.Duration, do func(context.Context) error) result {
	var (
		issued   atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      result
		deadline = time.Now().Add(dur)
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 256)
			var errs int
			var firstErr error
			for ctx.Err() == nil && issued.Add(1) <= int64(maxReq) {
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				if err := do(ctx); err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errs += errs
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// stats summarise the results of every round of one target in one cell.
type stats struct {
	n        int
	p50, p99 time.Duration
	rps      float64
	errs     int
	firstErr error
}

// summarize pools the latencies of all rounds; requests per second is total calls over total
// measured time, so a slow round weighs in by its length.
func summarize(rs []result) stats {
	var s stats
	var all []time.Duration
	var elapsed time.Duration
	for _, r := range rs {
		all = append(all, r.lat...)
		elapsed += r.elapsed
		s.errs += r.errs
		if s.firstErr == nil {
			s.firstErr = r.firstErr
		}
	}
	slices.Sort(all)
	s.n = len(all)
	s.p50, s.p99 = percentile(all, 0.50), percentile(all, 0.99)
	if elapsed > 0 {
		s.rps = float64(s.n) / elapsed.Seconds()
	}
	return s
}

// percentile is the nearest-rank q-quantile of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// newClient is one target's HTTP client: keep-alive pool large enough that every worker keeps
// its connection, no compression (so every hop carries the same bytes), and a per-call timeout
// so no call can hang the run.
func newClient(conc int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * conc,
			MaxIdleConnsPerHost: 2 * conc,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// httpCall returns a call that POSTs body as JSON to url, reads the whole response (every SSE
// event of a stream), closes it, and checks status and content with wantInBody.
func httpCall(client *http.Client, url string, extra http.Header, body, wantInBody []byte) func(context.Context) error {
	// bufs holds response buffers so the load generator itself allocates little per call.
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range extra {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		buf := bufs.Get().(*bytes.Buffer)
		buf.Reset()
		defer bufs.Put(buf)
		_, err = io.Copy(buf, resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			return fmt.Errorf("reading the response: %w", err)
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("status %s: %.200s", resp.Status, buf.Bytes())
		case !bytes.Contains(buf.Bytes(), wantInBody):
			return fmt.Errorf("response lacks %q: %.200s", wantInBody, buf.Bytes())
		}
		return nil
	}
}

// errNotLocal guards the promise that the bench sends requests to this machine only.
var errNotLocal = errors.New("bench targets only http://127.0.0.1")

// checkLocal returns errNotLocal unless url is on 127.0.0.1.
func checkLocal(url string) error {
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		return fmt.Errorf("%w, not %s", errNotLocal, url)
	}
	return nil
}
