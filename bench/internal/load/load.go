// Package load is the closed-loop HTTP load generator the service benchmarks
// share: a number of clients, each sending its next request as soon as the
// last is answered, on keep-alive connections, for a fixed time; it reports
// answers per second and latency percentiles. Every side of a comparison is
// driven by the same generator in the same run.
package load

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Result is one measurement.
type Result struct {
	Rate     float64 // answers with the wanted status per second
	P50, P99 time.Duration
	Errors   int64
	FirstErr string
	// ClientCPU is the CPU time the load generator's process used during
	// the run per answer counted: it shares the machine with the server it
	// drives.
	ClientCPU time.Duration
}

func (r Result) String() string {
	s := fmt.Sprintf("%8.0f/s  p50 %-9s p99 %-9s generator %3.0f µs/answer", r.Rate, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond),
		r.ClientCPU.Seconds()*1e6)
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

// Client names the HTTP client Run drives the servers with: "conn" (the
// default) writes each request on its own keep-alive TCP connection and
// reads the answer with http.ReadResponse, "net/http" goes through an
// http.Transport. Both send the same headers (net/http's User-Agent and
// Accept-Encoding included) over HTTP/1.1 to every side alike, and both
// abandon what is in flight at the end of the run; "conn" costs this
// machine ~1.5x less CPU per request, which matters because the generator
// shares the cores with the server it measures and takes more of them from
// the faster one.
var Client = "conn"

// timeout bounds one request, for both clients.
const timeout = 60 * time.Second

// sender sends one request and returns the answer's status and body (valid
// until the next send).
type sender interface {
	send(ctx context.Context, r Request) (int, []byte, error)
	close()
}

func newSender(clients int) (func() sender, func(), error) {
	switch Client {
	case "conn":
		return func() sender { return &connSender{} }, func() {}, nil
	case "net/http":
		tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, MaxConnsPerHost: clients * 2, IdleConnTimeout: time.Minute}
		hc := &http.Client{Transport: tr, Timeout: timeout}
		return func() sender { return netHTTPSender{hc} }, tr.CloseIdleConnections, nil
	}
	return nil, nil, fmt.Errorf("load client %q: want conn or net/http", Client)
}

// Run drives clients closed-loop writers for dur: answers with status want
// that arrive within dur count, errors within dur are errors, and what is in
// flight when dur ends is abandoned. next(i) gives the i-th request.
func Run(clients int, dur time.Duration, want int, next func(i int) Request) (Result, error) {
	mk, done, err := newSender(clients)
	if err != nil {
		return Result{}, err
	}
	defer done()
	var (
		n, ok, errs atomic.Int64
		firstErr    atomic.Value
		mu          sync.Mutex
		lats        []time.Duration
		wg          sync.WaitGroup
	)
	cpu0 := selfCPU()
	start := time.Now()
	end := start.Add(dur)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := mk()
			defer s.close()
			var mine []time.Duration
			for time.Now().Before(end) {
				r := next(int(n.Add(1) - 1))
				t0 := time.Now()
				status, body, err := s.send(ctx, r)
				t1 := time.Now()
				if !t1.Before(end) {
					break // the run was over before this answer (or error)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if status != want {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", status, body))
					continue
				}
				ok.Add(1)
				mine = append(mine, t1.Sub(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	cpu := selfCPU() - cpu0
	if len(lats) == 0 {
		return Result{}, fmt.Errorf("no request answered %d at %d clients (first error: %v)", want, clients, firstErr.Load())
	}
	slices.Sort(lats)
	res := Result{Rate: float64(ok.Load()) / dur.Seconds(), P50: lats[len(lats)/2], P99: lats[len(lats)*99/100], Errors: errs.Load(),
		ClientCPU: cpu / time.Duration(max(ok.Load(), 1))}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstErr = e
	}
	return res, nil
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// ClientFlag defines -client, which sets Client.
func ClientFlag() {
	flag.StringVar(&Client, "client", Client, `load generator's HTTP client: "conn" (one keep-alive connection per client, lean) or "net/http"`)
}
