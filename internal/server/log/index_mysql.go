package log

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlIndex keeps the index in the log's own database, so that every
// frontend of one log sees every entry the moment it is acknowledged:
//
//	HallmarkPosition  log index → leaf hash, integrated time  (every sequenced entry)
//	HallmarkEntry     leaf hash → the log index it was first recorded at (the duplicate check)
//	HallmarkSearch    SHA-256(search key), leaf hash
//
// Two frontends can sequence the same entry at once (each checked the index
// before the other had recorded it). Both positions are recorded; the leaf
// hash's first recorded index wins, and the other request is answered as
// the duplicate it is.
type mysqlIndex struct{ db *sql.DB }

// mysqlIndexSchema is applied, idempotently, at every start.
var mysqlIndexSchema = []string{
	"CREATE TABLE IF NOT EXISTS `HallmarkPosition` (`log_index` BIGINT UNSIGNED NOT NULL, `leaf_hash` BINARY(32) NOT NULL, `integrated_time` BIGINT NOT NULL, PRIMARY KEY(`log_index`))",
	"CREATE TABLE IF NOT EXISTS `HallmarkEntry` (`leaf_hash` BINARY(32) NOT NULL, `log_index` BIGINT UNSIGNED NOT NULL, PRIMARY KEY(`leaf_hash`))",
	"CREATE TABLE IF NOT EXISTS `HallmarkSearch` (`key_hash` BINARY(32) NOT NULL, `leaf_hash` BINARY(32) NOT NULL, PRIMARY KEY(`key_hash`, `leaf_hash`))",
	// through: every log index below it has a position (the reconciler's mark).
	"CREATE TABLE IF NOT EXISTS `HallmarkIndexed` (`id` TINYINT UNSIGNED NOT NULL, `through` BIGINT UNSIGNED NOT NULL, PRIMARY KEY(`id`))",
	"INSERT IGNORE INTO `HallmarkIndexed` (`id`, `through`) VALUES (0, 0)",
}

func (ix *mysqlIndex) close() error { return nil } // the caller owns the database handle

func (ix *mysqlIndex) byLeafHash(ctx context.Context, h []byte) (*record, error) {
	r := &record{LeafHash: h}
	err := ix.db.QueryRowContext(ctx, "SELECT p.`log_index`, p.`integrated_time` FROM `HallmarkEntry` e JOIN `HallmarkPosition` p ON p.`log_index` = e.`log_index` WHERE e.`leaf_hash` = ?", h).
		Scan(&r.LogIndex, &r.IntegratedTime)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoEntry
	}
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return r, nil
}

func (ix *mysqlIndex) lookupAll(ctx context.Context, leaves [][]byte) (map[string]*record, error) {
	// Almost every leaf is new: look the leaf hashes up alone, and read the
	// entries of the few that are there afterwards.
	var found map[string]*record
	for chunk := range slices.Chunk(leaves, rowsPerStatement) {
		args := make([]any, len(chunk))
		for i, h := range chunk {
			args[i] = h
		}
		rows, err := ix.db.QueryContext(ctx, "SELECT `leaf_hash` FROM `HallmarkEntry` WHERE `leaf_hash` IN ("+placeholders(len(chunk), 1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("reading the index: %w", err)
		}
		var hits [][]byte
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return nil, err
			}
			hits = append(hits, h)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("reading the index: %w", err)
		}
		for _, h := range hits {
			r, err := ix.byLeafHash(ctx, h)
			if err != nil {
				return nil, err
			}
			if found == nil {
				found = map[string]*record{}
			}
			found[string(h)] = r
		}
	}
	return found, nil
}

func (ix *mysqlIndex) byLogIndex(ctx context.Context, i uint64) (*record, error) {
	r := &record{LogIndex: i}
	err := ix.db.QueryRowContext(ctx, "SELECT `leaf_hash`, `integrated_time` FROM `HallmarkPosition` WHERE `log_index` = ?", i).
		Scan(&r.LeafHash, &r.IntegratedTime)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoEntry
	}
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return r, nil
}

func (ix *mysqlIndex) search(ctx context.Context, key string) ([]string, error) {
	kh := sha256.Sum256([]byte(key))
	rows, err := ix.db.QueryContext(ctx, "SELECT `leaf_hash` FROM `HallmarkSearch` WHERE `key_hash` = ? ORDER BY `leaf_hash` LIMIT ?", kh[:], maxSearchResults)
	if err != nil {
		return nil, fmt.Errorf("searching the index: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, hex.EncodeToString(h))
	}
	return out, rows.Err()
}

// rowsPerStatement bounds one multi-row INSERT (placeholders are limited to
// 65,535 a statement).
const rowsPerStatement = 1000

// putAll records a round of entries in one transaction. Rows are written in
// key order, so concurrent rounds from several frontends take their locks in
// the same order; a deadlock or lock timeout is retried.
func (ix *mysqlIndex) putAll(ctx context.Context, entries []*indexed) (map[int]uint64, error) {
	var firsts map[int]uint64
	err := retryTx(ctx, ix.db, func(tx *sql.Tx) (err error) {
		firsts, err = putAllTx(ctx, tx, entries)
		return err
	})
	return firsts, err
}

func putAllTx(ctx context.Context, tx *sql.Tx, entries []*indexed) (map[int]uint64, error) {
	byIndex := slices.Clone(entries)
	slices.SortFunc(byIndex, func(a, b *indexed) int { return cmpU64(a.rec.LogIndex, b.rec.LogIndex) })
	pos := make([][]any, len(byIndex))
	for i, e := range byIndex {
		pos[i] = []any{e.rec.LogIndex, e.rec.LeafHash, e.rec.IntegratedTime}
	}
	if _, err := insertIgnore(ctx, tx, "`HallmarkPosition` (`log_index`, `leaf_hash`, `integrated_time`)", pos); err != nil {
		return nil, err
	}
	byLeaf := slices.Clone(entries)
	slices.SortFunc(byLeaf, func(a, b *indexed) int { return strings.Compare(string(a.rec.LeafHash), string(b.rec.LeafHash)) })
	leaves := make([][]any, len(byLeaf))
	var search [][]any
	for i, e := range byLeaf {
		leaves[i] = []any{e.rec.LeafHash, e.rec.LogIndex}
		for _, k := range e.searchKeys {
			kh := sha256.Sum256([]byte(k))
			search = append(search, []any{kh[:], e.rec.LeafHash})
		}
	}
	slices.SortFunc(search, func(a, b []any) int {
		if c := strings.Compare(string(a[0].([]byte)), string(b[0].([]byte))); c != 0 {
			return c
		}
		return strings.Compare(string(a[1].([]byte)), string(b[1].([]byte)))
	})
	inserted, err := insertIgnore(ctx, tx, "`HallmarkEntry` (`leaf_hash`, `log_index`)", leaves)
	if err != nil {
		return nil, err
	}
	if _, err := insertIgnore(ctx, tx, "`HallmarkSearch` (`key_hash`, `leaf_hash`)", search); err != nil {
		return nil, err
	}
	if inserted == int64(len(leaves)) {
		return nil, nil // every leaf hash was new: no duplicates
	}
	// Which leaf hashes were recorded first at another index?
	recorded := make(map[string]uint64, len(entries))
	for chunk := range slices.Chunk(byLeaf, rowsPerStatement) {
		args := make([]any, len(chunk))
		for i, e := range chunk {
			args[i] = e.rec.LeafHash
		}
		q := "SELECT `leaf_hash`, `log_index` FROM `HallmarkEntry` WHERE `leaf_hash` IN (" + placeholders(len(chunk), 1) + ")"
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				h []byte
				i uint64
			)
			if err := rows.Scan(&h, &i); err != nil {
				rows.Close()
				return nil, err
			}
			recorded[string(h)] = i
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	var firsts map[int]uint64
	for i, e := range entries {
		first, ok := recorded[string(e.rec.LeafHash)]
		if !ok {
			return nil, fmt.Errorf("index: entry %d vanished while it was recorded", e.rec.LogIndex)
		}
		if first != e.rec.LogIndex {
			if firsts == nil {
				firsts = map[int]uint64{}
			}
			firsts[i] = first
		}
	}
	return firsts, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// insertIgnore inserts rows (each a tuple of the columns named in table),
// skipping those whose key is already there, and says how many it inserted.
func insertIgnore(ctx context.Context, tx *sql.Tx, table string, rows [][]any) (int64, error) {
	var inserted int64
	for chunk := range slices.Chunk(rows, rowsPerStatement) {
		args := make([]any, 0, len(chunk)*len(chunk[0]))
		for _, r := range chunk {
			args = append(args, r...)
		}
		q := "INSERT IGNORE INTO " + table + " VALUES " + placeholders(len(chunk), len(chunk[0]))
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		inserted += n
	}
	return inserted, nil
}

// placeholders is "(?, ?), (?, ?)" for n rows of cols columns; with one
// column, "?, ?".
func placeholders(n, cols int) string {
	var b strings.Builder
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	if cols == 1 {
		one = "?"
	}
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// retryTx runs fn in a transaction, again when the database chose it as a
// deadlock victim or its lock wait timed out.
func retryTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		err = fn(tx)
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
		if err == nil || attempt == 4 || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
}

// MySQL error numbers Hallmark tells apart.
const (
	erLockWaitTimeout  = 1205
	erLockDeadlock     = 1213
	erTooManyConns     = 1040
	erConCountError    = 1203 // a user's max_user_connections
	erServerShutdown   = 1053
	erQueryInterrupted = 1317
)

func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == erLockDeadlock || me.Number == erLockWaitTimeout)
}

// dbUnavailable reports whether err means the database is overloaded or
// away (answered 503: retry), rather than a fault in the request or the log.
func dbUnavailable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erLockWaitTimeout, erLockDeadlock, erTooManyConns, erConCountError, erServerShutdown, erQueryInterrupted:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) || errors.As(err, &ne)
}
