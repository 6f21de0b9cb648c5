package admission

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxBody bounds an AdmissionReview (the apiserver's own request limit is
// 3 MiB of object).
const maxBody = 8 << 20

// Handler serves the webhooks: POST /validate and POST /mutate.
type Handler struct {
	Reviewer *Reviewer
	// Timeout is the apiserver's webhook timeout when a request does not
	// say it (?timeout=); answers are due a margin before it.
	Timeout time.Duration

	decisions *prometheus.CounterVec
}

// NewHandler returns the webhook handler; its metrics are Collectors.
func NewHandler(rv *Reviewer, timeout time.Duration) *Handler {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Handler{Reviewer: rv, Timeout: timeout, decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_admission_decisions_total", Help: "Admission answers, by webhook and decision (allowed, denied, patched, warned).",
	}, []string{"webhook", "decision"})}
}

// Collectors are the webhook's own metrics: decisions, and the engine's
// verifications, cache hits and cache size.
func (h *Handler) Collectors() []prometheus.Collector {
	stat := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	e := h.Reviewer.Engine
	return []prometheus.Collector{
		h.decisions,
		stat("hallmark_admission_verifications_total", "Verifications run against registries (cache misses after coalescing).", func() float64 { return float64(e().Stats().Verifications.Load()) }),
		stat("hallmark_admission_cache_hits_total", "Authority checks answered from the verification cache.", func() float64 { return float64(e().Stats().CacheHits.Load()) }),
		stat("hallmark_admission_tag_resolutions_total", "Tags resolved to digests at registries.", func() float64 { return float64(e().Stats().Resolves.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_admission_cache_entries", Help: "Verification outcomes cached."}, func() float64 { return float64(e().CacheLen()) }),
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var mode Mode
	var hook string
	switch r.URL.Path {
	case "/validate":
		mode, hook = Validate, "validate"
	case "/mutate":
		mode, hook = Mutate, "mutate"
	default:
		http.Error(w, "not found: the webhooks are POST /validate and POST /mutate", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large: an AdmissionReview is at most 8 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), answerBudget(r, h.Timeout))
	defer cancel()
	out, err := h.Reviewer.Review(ctx, body, mode)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	decision := "allowed"
	switch resp := out.Response; {
	case !resp.Allowed:
		decision = "denied"
	case len(resp.Patch) > 0:
		decision = "patched"
	case len(resp.Warnings) > 0:
		decision = "warned"
	}
	h.decisions.WithLabelValues(hook, decision).Inc()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// answerBudget is how long a review may take: the apiserver's timeout for
// this call (it sends ?timeout=10s) less a margin for the answer's trip.
func answerBudget(r *http.Request, def time.Duration) time.Duration {
	t := def
	if q := r.URL.Query().Get("timeout"); q != "" {
		if d, err := time.ParseDuration(q); err == nil && d > 0 {
			t = d
		}
	}
	margin := min(max(t/10, 250*time.Millisecond), 2*time.Second)
	if t-margin < 100*time.Millisecond {
		return t / 2
	}
	return t - margin
}
