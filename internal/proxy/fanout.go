package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/translate"
)

// errPartsStopped cancels the parts still running once one part has failed.
var errPartsStopped = errors.New("another part of the request failed")

// partAnswer is one part's answer: a status, headers and a whole body, or err when the backend
// could not be reached or read.
type partAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
	// stopped marks a part ended because another failed first.
	stopped bool
}

// fanOut sends the parts of a split request (extproc.Attempt.Parts) to the attempt's backend, at
// most translate.MaxPartsInFlight at once, under one deadline, and makes of their answers the one
// answer the translator expects: 200 with the JSON array of the parts' bodies in order when every
// part succeeded, else the first failed part's answer in part order. A part that cannot reach the
// backend fails the attempt as one request would. The first failure stops the parts not yet sent.
func (s *Server) fanOut(ctx context.Context, a *extproc.Attempt, timeout time.Duration) (*upstreamCall, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := time.AfterFunc(timeout, func() { cancel(errTimeout) })
	defer deadline.Stop()
	answers := make([]partAnswer, len(a.Parts))
	var budget atomic.Int64
	budget.Store(s.limits.MaxUpstreamBodyBytes)
	sem := make(chan struct{}, translate.MaxPartsInFlight)
	var wg sync.WaitGroup
send:
	for i, p := range a.Parts {
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break send
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			answers[i] = s.sendPart(ctx, a, p, &budget)
			if ans := answers[i]; ans.err != nil || ans.status < 200 || ans.status > 299 {
				cancel(errPartsStopped)
			}
		}()
	}
	wg.Wait()
	if errors.Is(context.Cause(ctx), errTimeout) {
		return nil, fmt.Errorf("%w after %s: backend %s", errTimeout, timeout, a.Ref.Backend.Name)
	}
	for _, ans := range answers { // the first failure in part order
		switch {
		case ans.stopped:
		case errors.Is(ans.err, errTooLarge):
			return nil, translate.Errorf(http.StatusBadGateway, "upstream_too_large",
				"the backend's responses are larger than %d bytes together", s.limits.MaxUpstreamBodyBytes)
		case ans.err != nil:
			return nil, ans.err
		case ans.status != 0 && (ans.status < 200 || ans.status > 299):
			return localCall(&translate.LocalResponse{Status: ans.status, Header: ans.header, Body: ans.body}), nil
		}
	}
	if err := context.Cause(ctx); err != nil {
		// The client went away before every part was answered.
		return nil, fmt.Errorf("%w: %v", errUnreachable, err)
	}
	var joined bytes.Buffer
	joined.WriteByte('[')
	for i, ans := range answers {
		if i > 0 {
			joined.WriteByte(',')
		}
		joined.Write(ans.body)
	}
	joined.WriteByte(']')
	return localCall(&translate.LocalResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: joined.Bytes()}), nil
}

// sendPart sends one part and reads its answer whole, within what is left of the budget of
// upstream body bytes the parts share.
func (s *Server) sendPart(ctx context.Context, a *extproc.Attempt, p *translate.Upstream, budget *atomic.Int64) partAnswer {
	b := a.Ref.Backend
	req, err := http.NewRequestWithContext(ctx, p.Method, b.Endpoint.Scheme+"://"+b.Endpoint.Host+p.Path, bytes.NewReader(p.Body))
	if err != nil {
		return partAnswer{err: fmt.Errorf("%w: %v", errUnreachable, err)}
	}
	req.Header = p.Header
	req.ContentLength = int64(len(p.Body))
	resp, err := s.transports.get(b).RoundTrip(req)
	if err != nil {
		stopped := errors.Is(context.Cause(ctx), errPartsStopped)
		return partAnswer{err: fmt.Errorf("%w: backend %s: %v", errUnreachable, b.Name, err), stopped: stopped}
	}
	defer resp.Body.Close()
	body, err := decodedBody(resp)
	if err != nil {
		return partAnswer{err: translate.Errorf(http.StatusBadGateway, "bad_upstream_encoding", "%v", err)}
	}
	limit := budget.Load()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxUpstreamErrorBody
	}
	raw, err := readLimited(body, limit, resp.ContentLength, resp.Header.Get("Content-Encoding") == "")
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 && budget.Add(-int64(len(raw))) < 0 {
		err = errTooLarge
	}
	if err != nil && errors.Is(context.Cause(ctx), errPartsStopped) {
		return partAnswer{err: err, stopped: true}
	}
	if err != nil && !errors.Is(err, errTooLarge) {
		err = translate.Errorf(http.StatusBadGateway, "upstream_read", "reading the backend's response: %v", err)
	}
	h := resp.Header.Clone()
	h.Del("Content-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	return partAnswer{status: resp.StatusCode, header: h, body: raw, err: err}
}
