package log

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

// Reconciling a shared (MySQL) index. A frontend records each round in the
// index right after Tessera sequenced it; one that dies in between leaves
// positions the log has and the index lacks. Every frontend looks for such
// gaps now and then, from the mark below which none remain, and fills one
// once it has stayed open longer than any append may take (the request it
// belonged to was never acknowledged). Filling is idempotent, so frontends
// doing it at once agree.
const (
	reconcileEvery = 2 * time.Second
	// defaultReindexAfter outlasts the longest append (requestTimeout), so a
	// gap filled here never belongs to an entry some client was told is logged.
	defaultReindexAfter = 30 * time.Second
	// reconcileScan bounds the positions one pass reads, and reindexBatch
	// the entries one pass repairs (each read back from the log), so that a
	// large backlog is worked off pass by pass inside the pass's timeout.
	reconcileScan = 100_000
	reindexBatch  = 2_000
)

func (s *Service) runReconciler(ctx context.Context) {
	firstSeen := map[uint64]time.Time{}
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		if err := s.reconcileShared(ctx, firstSeen); err != nil && ctx.Err() == nil {
			s.metrics.reconcileErrors.Inc()
			s.cfg.Logger.Warn("reconciling the shared index", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcileShared is one pass; firstSeen remembers when each open gap was
// first seen.
func (s *Service) reconcileShared(ctx context.Context, firstSeen map[uint64]time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db := s.cfg.MySQL
	var through uint64
	if err := db.QueryRowContext(ctx, "SELECT `through` FROM `HallmarkIndexed` WHERE `id` = 0").Scan(&through); err != nil {
		return fmt.Errorf("reading the index mark: %w", err)
	}
	size, err := s.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading the log size: %w", err)
	}
	end := min(size, through+reconcileScan)
	if through >= end {
		s.metrics.indexGaps.Set(0)
		return nil
	}
	missing, err := missingPositions(ctx, db, through, end)
	if err != nil {
		return err
	}
	mark := end
	if len(missing) > 0 {
		mark = missing[0]
	}
	if mark > through {
		if _, err := db.ExecContext(ctx, "UPDATE `HallmarkIndexed` SET `through` = GREATEST(`through`, ?) WHERE `id` = 0", mark); err != nil {
			return fmt.Errorf("advancing the index mark: %w", err)
		}
	}
	s.metrics.indexGaps.Set(float64(len(missing)))
	now := time.Now()
	var stale []*indexed
	open := make(map[uint64]bool, len(missing))
	for _, i := range missing {
		open[i] = true
		seen, ok := firstSeen[i]
		if !ok {
			firstSeen[i] = now
			continue
		}
		if now.Sub(seen) < s.cfg.ReindexAfter || len(stale) >= reindexBatch {
			continue
		}
		body, err := s.body(ctx, i, size)
		if err != nil {
			return err
		}
		stale = append(stale, &indexed{
			rec:        record{LeafHash: tlog.LeafHash(body), LogIndex: i, IntegratedTime: now.Unix()},
			searchKeys: rekor.SearchKeys(body),
		})
	}
	for i := range firstSeen {
		if !open[i] {
			delete(firstSeen, i)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	if _, err := s.index.putAll(ctx, stale); err != nil {
		return fmt.Errorf("indexing %d entries a frontend left unindexed: %w", len(stale), err)
	}
	s.metrics.reindexed.Add(float64(len(stale)))
	return nil
}

// missingPositions lists the log indexes in [from, to) with no position.
func missingPositions(ctx context.Context, db *sql.DB, from, to uint64) ([]uint64, error) {
	rows, err := db.QueryContext(ctx, "SELECT `log_index` FROM `HallmarkPosition` WHERE `log_index` >= ? AND `log_index` < ? ORDER BY `log_index`", from, to)
	if err != nil {
		return nil, fmt.Errorf("reading positions: %w", err)
	}
	defer rows.Close()
	var missing []uint64
	next := from
	for rows.Next() {
		var i uint64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		for ; next < i; next++ {
			missing = append(missing, next)
		}
		next = i + 1
	}
	for ; next < to; next++ {
		missing = append(missing, next)
	}
	return missing, rows.Err()
}

// Ready reports whether the log can take traffic: its storage answers. A
// MySQL log counts the database as answering when an index read or write
// succeeded in the last few seconds (a busy pool must not fail the probe);
// otherwise it asks, briefly. The reconciler's failures are logged and
// counted, not made a readiness failure: every frontend runs the same pass
// against the same database, and one bad pass must not empty the Service.
func (s *Service) Ready(ctx context.Context) error {
	if s.cfg.MySQL == nil {
		if _, err := s.reader.IntegratedSize(ctx); err != nil {
			return fmt.Errorf("log storage: %w", err)
		}
		if err := s.tailErr.Load(); err != nil {
			return *err
		}
		return s.journal.Err()
	}
	if last := s.dbOK.Load(); last != 0 && time.Since(time.Unix(0, last)) < 5*time.Second {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := s.reader.IntegratedSize(ctx); err != nil {
		return fmt.Errorf("log storage (database): %w", err)
	}
	s.dbOK.Store(time.Now().UnixNano())
	return nil
}
