package httpserve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxInFlight is how many requests a service handles at once before it
// answers 503 with Retry-After.
const DefaultMaxInFlight = 4096

// Service describes one HTTP service for Wrap: its name in metrics and logs,
// how it knows it is ready, and how much it takes at once.
type Service struct {
	// Name labels the service's metrics and log lines ("log", "ca", "tsa", ...).
	Name string
	// Ready reports whether the service can take traffic; nil means always.
	Ready func(context.Context) error
	// MaxInFlight bounds concurrent requests (DefaultMaxInFlight when 0);
	// the rest are answered 503 with Retry-After, never queued unboundedly.
	MaxInFlight int
	// Logger receives one line per failed (5xx) or refused request, and every
	// request at debug level. Nil discards.
	Logger *slog.Logger
	// Metrics is where request metrics are registered; nil skips them.
	Metrics prometheus.Registerer
}

// Ops is a service's handler wrapped with health, readiness, an in-flight
// bound, metrics and request logs. Drain marks it not ready, so load
// balancers stop sending before the listener closes.
type Ops struct {
	svc      Service
	next     http.Handler
	inFlight atomic.Int64
	draining atomic.Bool
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refused  prometheus.Counter
}

// Wrap returns h served as svc: /healthz answers 200 while the process
// serves, /readyz 200 only when svc.Ready agrees and no drain has begun.
func Wrap(h http.Handler, svc Service) *Ops {
	if svc.MaxInFlight <= 0 {
		svc.MaxInFlight = DefaultMaxInFlight
	}
	if svc.Logger == nil {
		svc.Logger = slog.New(slog.DiscardHandler)
	}
	o := &Ops{svc: svc, next: h}
	if svc.Metrics != nil {
		labels := prometheus.Labels{"service": svc.Name}
		o.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_http_requests_total", Help: "HTTP requests answered, by route and status code.",
			ConstLabels: labels,
		}, []string{"route", "code"})
		o.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hallmark_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route.",
			ConstLabels: labels, Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"})
		o.refused = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallmark_http_overload_refusals_total", Help: "Requests answered 503 because too many were in flight.",
			ConstLabels: labels,
		})
		inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hallmark_http_requests_in_flight", Help: "Requests being handled now.", ConstLabels: labels,
		}, func() float64 { return float64(o.inFlight.Load()) })
		for _, c := range []prometheus.Collector{o.requests, o.duration, o.refused, inflight} {
			_ = svc.Metrics.Register(c) // a second Wrap of the same service shares the first's series
		}
	}
	return o
}

// Drain marks the service not ready; requests in flight and new ones are still
// served until the listener closes.
func (o *Ops) Drain() { o.draining.Store(true) }

func (o *Ops) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
		return
	case "/readyz":
		o.readyz(w, r)
		return
	}
	if n := o.inFlight.Add(1); n > int64(o.svc.MaxInFlight) {
		o.inFlight.Add(-1)
		if o.refused != nil {
			o.refused.Inc()
		}
		o.svc.Logger.Warn("overloaded", "service", o.svc.Name, "method", r.Method, "path", r.URL.Path, "in_flight", n-1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("%s is overloaded (%d requests in flight), retry shortly", o.svc.Name, n-1), http.StatusServiceUnavailable)
		return
	}
	defer o.inFlight.Add(-1)
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			o.svc.Logger.Error("handler panicked", "service", o.svc.Name, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			if !rec.wrote {
				http.Error(rec, "internal error", http.StatusInternalServerError)
			}
			rec.code = http.StatusInternalServerError
		}
		o.observe(r, rec.code, time.Since(start))
	}()
	o.next.ServeHTTP(rec, r)
}

func (o *Ops) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if o.draining.Load() {
		http.Error(w, o.svc.Name+" is shutting down", http.StatusServiceUnavailable)
		return
	}
	if o.svc.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := o.svc.Ready(ctx); err != nil {
			http.Error(w, fmt.Sprintf("%s is not ready: %v", o.svc.Name, err), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (o *Ops) observe(r *http.Request, code int, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	if o.requests != nil {
		o.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		o.duration.WithLabelValues(route).Observe(d.Seconds())
	}
	switch {
	case code >= 500:
		o.svc.Logger.Error("request failed", "service", o.svc.Name, "method", r.Method, "route", route, "path", r.URL.Path, "code", code, "duration", d)
	default:
		o.svc.Logger.Debug("request", "service", o.svc.Name, "method", r.Method, "route", route, "code", code, "duration", d)
	}
}

// MetricsHandler serves the Prometheus metrics of reg (and the Go runtime's).
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// NewMetricsRegistry returns a registry holding the Go runtime and process
// collectors, for a process's metrics listener.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
