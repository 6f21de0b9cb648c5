package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"hallmark.dev/hallmark/internal/httpserve"
)

// opsFlags are what every server command shares: where metrics go and how
// logs look.
type opsFlags struct {
	metricsAddr string
	logFormat   string
	logLevel    string
	maxInFlight int
	debugAddr   string
}

func (f *opsFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (/metrics) on this address, apart from the API")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "least severe log level: debug (every request), info, warn or error")
	fs.IntVar(&f.maxInFlight, "max-in-flight", httpserve.DefaultMaxInFlight, "requests handled at once per service; more are answered 503 with Retry-After")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this (loopback) address")
}

func (a *app) serverLogger(f *opsFlags) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(a.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(a.stderr, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, f.logFormat)
}

// service is one HTTP service a server command runs.
type service struct {
	name            string
	ln              net.Listener
	handler         http.Handler
	ready           func(context.Context) error
	tlsCert, tlsKey string
	maxInFlight     int                    // 0: --max-in-flight
	collectors      []prometheus.Collector // the service's own metrics
}

// listen opens a service's listener, naming the flag in errors.
func listen(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, addr, err)
	}
	return ln, nil
}

// urlOf is the http URL a listener is reached at.
func urlOf(ln net.Listener) string { return "http://" + ln.Addr().String() }

// runServices serves every service (health, readiness, the in-flight bound,
// metrics, request logs) until ctx ends or one fails, then drains them all.
func (a *app) runServices(ctx context.Context, f *opsFlags, logger *slog.Logger, svcs []service) error {
	tuneGC()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := httpserve.NewMetricsRegistry()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		if err == nil || errors.Is(err, context.Canceled) {
			return
		}
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	if f.metricsAddr != "" {
		ln, err := listen("metrics-addr", f.metricsAddr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", httpserve.MetricsHandler(reg))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		a.infof("Metrics at %s/metrics", urlOf(ln))
		wg.Add(1)
		go func() { defer wg.Done(); fail(httpserve.Serve(ctx, ln, mux, "", "")) }()
	}
	if f.debugAddr != "" {
		ln, err := listen("debug-addr", f.debugAddr)
		if err != nil {
			return err
		}
		a.infof("Profiles at %s/debug/pprof/", urlOf(ln))
		wg.Add(1)
		go func() { defer wg.Done(); fail(httpserve.Serve(ctx, ln, debugMux(), "", "")) }()
	}
	for _, s := range svcs {
		for _, c := range s.collectors {
			if err := reg.Register(c); err != nil {
				return fmt.Errorf("%s metrics: %w", s.name, err)
			}
		}
		limit := s.maxInFlight
		if limit == 0 {
			limit = f.maxInFlight
		}
		h := httpserve.Wrap(s.handler, httpserve.Service{Name: s.name, Ready: s.ready, MaxInFlight: limit, Logger: logger, Metrics: reg})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpserve.Serve(ctx, s.ln, h, s.tlsCert, s.tlsKey); err != nil {
				fail(fmt.Errorf("%s: %w", s.name, err))
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	return firstErr
}

// serviceNames lists services for messages.
func serviceNames(svcs []service) string {
	names := make([]string, len(svcs))
	for i, s := range svcs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}
