package log

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/mod/sumdb/note"
)

// claimMySQLLog records, on the first start against a database, which log
// it holds (key and origin) and from when its key is valid; every later
// frontend must bring the same key and origin.
func claimMySQLLog(ctx context.Context, db *sql.DB, logID, origin string) error {
	validFrom := time.Now().Add(-time.Hour).Truncate(time.Second).Unix()
	if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO `HallmarkLog` (`id`, `log_id`, `origin`, `valid_from`) VALUES (0, ?, ?, ?)", logID, origin, validFrom); err != nil {
		return fmt.Errorf("recording the log in MySQL: %w", err)
	}
	var haveID, haveOrigin string
	if err := db.QueryRowContext(ctx, "SELECT `log_id`, `origin` FROM `HallmarkLog` WHERE `id` = 0").Scan(&haveID, &haveOrigin); err != nil {
		return fmt.Errorf("reading the log's identity from MySQL: %w", err)
	}
	if haveID != logID {
		return fmt.Errorf("the log in this database is signed by the key with log ID %s, this frontend's key has log ID %s: give every frontend the same --signer", haveID, logID)
	}
	if haveOrigin != origin {
		return fmt.Errorf("the log in this database has origin %q, this frontend was given %q: give every frontend the same --origin", haveOrigin, origin)
	}
	return nil
}

// ValidFrom returns the time from which the log's key is valid, as its
// trusted root states it: fixed at the log's first start (in the database
// for a MySQL log, so every frontend writes the same trusted root).
func (s *Service) ValidFrom(ctx context.Context) (time.Time, error) {
	if s.cfg.MySQL == nil {
		return ValidFrom(s.cfg.Dir)
	}
	var unix int64
	if err := s.cfg.MySQL.QueryRowContext(ctx, "SELECT `valid_from` FROM `HallmarkLog` WHERE `id` = 0").Scan(&unix); err != nil {
		return time.Time{}, fmt.Errorf("reading the log's key validity from MySQL: %w", err)
	}
	return time.Unix(unix, 0).UTC(), nil
}

// derivedNoteSigner is the Ed25519 note key a MySQL log's frontends co-sign
// published checkpoints with: derived from the log key (HKDF-SHA256 over its
// SEC 1 encoding, bound to the origin), so each frontend holds the same key
// without sharing a file. Its verifier key is written to DIR/log-note.pub.
func derivedNoteSigner(dir, origin string, signer crypto.Signer) (note.Signer, error) {
	k, ok := signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a MySQL log derives its note key from the log key, which must be an ECDSA private key (got %T)", signer)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	seed, err := hkdf.Key(sha256.New, der, nil, "hallmark log note key "+origin, 32)
	if err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed), origin)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "log-note.pub"), []byte(vkey+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("writing note verifier key: %w", err)
	}
	return note.NewSigner(skey)
}

// OpenMySQL opens the log's database with a bounded pool and bounded
// network waits (the DSN's own timeouts win when it sets them).
func OpenMySQL(ctx context.Context, dsn string, maxConns int) (*sql.DB, error) {
	if maxConns < 1 {
		return nil, fmt.Errorf("--mysql-max-conns %d: want at least 1", maxConns)
	}
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("--mysql: %w", err)
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	// Arguments are escaped by the driver, not bound in a server-side
	// prepared statement: one round trip a statement instead of three
	// (prepare, execute, close), and far less work for the database.
	c.InterpolateParams = true
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("--mysql: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("--mysql: connecting to %s: %w", c.Addr, err)
	}
	return db, nil
}
