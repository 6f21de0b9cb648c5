// Package load is the closed-loop HTTP load generator the service benchmarks
// share: a number of clients, each sending its next request as soon as the
// last is answered, on keep-alive connections, for a fixed time; it reports
// answers per second and latency percentiles. Every side of a comparison is
// driven by the same generator in the same run.
package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one measurement.
type Result struct {
	Rate     float64 // answers with the wanted status per second
	P50, P99 time.Duration
	Errors   int64
	FirstErr string
}

func (r Result) String() string {
	s := fmt.Sprintf("%8.0f/s  p50 %-9s p99 %-9s", r.Rate, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	if r.Errors > 0 {
		s += fmt.Sprintf("  (%d errors, first: %.120s)", r.Errors, r.FirstErr)
	}
	return s
}

// Request is what one client sends: built once per request by the caller.
type Request struct {
	URL         string
	ContentType string
	Header      http.Header
	Body        []byte
}

// Run drives clients closed-loop writers for dur. next(i) gives the i-th
// request; an answer counts when its status is want.
func Run(clients int, dur time.Duration, want int, next func(i int) Request) (Result, error) {
	tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, MaxConnsPerHost: clients * 2, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var (
		n, ok, errs atomic.Int64
		firstErr    atomic.Value
		mu          sync.Mutex
		lats        []time.Duration
		wg          sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				r := next(int(n.Add(1) - 1))
				req, err := http.NewRequest(http.MethodPost, r.URL, bytes.NewReader(r.Body))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				for k, v := range r.Header {
					req.Header[k] = v
				}
				req.Header.Set("Content-Type", r.ContentType)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
					continue
				}
				ok.Add(1)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lats) == 0 {
		return Result{}, fmt.Errorf("no request answered %d at %d clients (first error: %v)", want, clients, firstErr.Load())
	}
	slices.Sort(lats)
	res := Result{Rate: float64(ok.Load()) / elapsed.Seconds(), P50: lats[len(lats)/2], P99: lats[len(lats)*99/100], Errors: errs.Load()}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstErr = e
	}
	return res, nil
}

// WaitReady polls url until it answers 200 or timeout passes.
func WaitReady(url string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
}
