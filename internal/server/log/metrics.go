package log

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the log's own series, beside the request metrics every
// service gets: appends by result and their latency, round sizes, the
// queue, the database pool, the checkpoint, the shared index's gaps.
type metrics struct {
	appends         *prometheus.CounterVec
	appendSeconds   prometheus.Histogram
	round           prometheus.Histogram
	indexGaps       prometheus.Gauge
	reindexed       prometheus.Counter
	reconcileErrors prometheus.Counter
	collectors      []prometheus.Collector
}

// Append results, as hallmark_log_appends_total's result label.
const (
	resultCreated   = "created"
	resultDuplicate = "duplicate"
	resultFailed    = "failed"
)

func newMetrics(s *Service) *metrics {
	m := &metrics{
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_log_appends_total", Help: "Appends answered, by result (created, duplicate, failed).",
		}, []string{"result"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hallmark_log_append_seconds", Help: "Time from an append's arrival to its acknowledgement (durable, indexed, with proof).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		round: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hallmark_log_round_entries", Help: "Entries handed to storage in one round.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		indexGaps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hallmark_log_index_gaps", Help: "Sequenced entries the shared index does not have yet (MySQL; in flight or left by a crashed frontend).",
		}),
		reindexed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallmark_log_reindexed_total", Help: "Entries this frontend indexed for a frontend that crashed before it could.",
		}),
		reconcileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallmark_log_reconcile_errors_total", Help: "Passes of the shared-index reconciler that failed (MySQL).",
		}),
	}
	m.collectors = []prometheus.Collector{m.appends, m.appendSeconds, m.round, m.indexGaps, m.reindexed, m.reconcileErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_log_queue_depth", Help: "Appends waiting for the next round."},
			func() float64 { return float64(len(s.group.submit)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_log_checkpoint_size", Help: "Tree size of the latest checkpoint this frontend signed."},
			func() float64 {
				if t := s.latest.Load(); t != nil {
					return float64(t.size)
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_log_checkpoint_age_seconds", Help: "Age of the latest checkpoint this frontend signed."},
			func() float64 {
				if t := s.latest.Load(); t != nil {
					return time.Since(t.signedAt).Seconds()
				}
				return 0
			}),
	}
	if j := s.journal; j != nil {
		m.collectors = append(m.collectors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_log_journal_backlog", Help: "Entries acknowledged from the journal that Tessera has yet to integrate."},
				func() float64 { return float64(j.Backlog()) }))
	}
	if db := s.cfg.MySQL; db != nil {
		m.collectors = append(m.collectors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_log_db_connections_in_use", Help: "Database connections in use."},
				func() float64 { return float64(db.Stats().InUse) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hallmark_log_db_connections_open", Help: "Database connections open (in use and idle)."},
				func() float64 { return float64(db.Stats().OpenConnections) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hallmark_log_db_waits_total", Help: "Times a caller waited for a free database connection."},
				func() float64 { return float64(db.Stats().WaitCount) }),
		)
	}
	return m
}

// Collectors are the log's own metrics, for the server's registry.
func (s *Service) Collectors() []prometheus.Collector { return s.metrics.collectors }
