package log

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// mysqlSchema is the table layout Tessera's MySQL storage (v1.0.x,
// compatibility version 1) reads and writes, as its storage/mysql/schema.sql
// defines it. Every statement is idempotent, so it is applied at each start.
var mysqlSchema = []string{
	"CREATE TABLE IF NOT EXISTS Tessera (`id` TINYINT UNSIGNED NOT NULL, `compatibilityVersion` BIGINT UNSIGNED NOT NULL, PRIMARY KEY (`id`))",
	"INSERT IGNORE INTO Tessera (`id`, `compatibilityVersion`) VALUES (0, 1)",
	"CREATE TABLE IF NOT EXISTS `Checkpoint` (`id` TINYINT UNSIGNED NOT NULL, `note` MEDIUMBLOB NOT NULL, `published_at` BIGINT NOT NULL, PRIMARY KEY(`id`))",
	"CREATE TABLE IF NOT EXISTS `TreeState` (`id` TINYINT UNSIGNED NOT NULL, `size` BIGINT UNSIGNED NOT NULL, `root` TINYBLOB NOT NULL, PRIMARY KEY(`id`))",
	"CREATE TABLE IF NOT EXISTS `Subtree` (`level` TINYINT UNSIGNED NOT NULL, `index` BIGINT UNSIGNED NOT NULL, `nodes` MEDIUMBLOB NOT NULL, PRIMARY KEY(`level`, `index`))",
	"CREATE TABLE IF NOT EXISTS `TiledLeaves` (`tile_index` BIGINT UNSIGNED NOT NULL, `size` SMALLINT UNSIGNED NOT NULL, `data` LONGBLOB NOT NULL, PRIMARY KEY(`tile_index`))",
}

// mysqlLogSchema records which log the database holds, so that a frontend
// started with another key or origin is refused rather than corrupting it.
var mysqlLogSchema = []string{
	"CREATE TABLE IF NOT EXISTS `HallmarkLog` (`id` TINYINT UNSIGNED NOT NULL, `log_id` CHAR(64) NOT NULL, `origin` VARCHAR(255) NOT NULL, `valid_from` BIGINT NOT NULL, PRIMARY KEY(`id`))",
}

// EnsureMySQLSchema creates Tessera's tables and Hallmark's (the log's
// identity and its shared index) in db if they are missing.
func EnsureMySQLSchema(ctx context.Context, db *sql.DB) error {
	for _, stmt := range slices.Concat(mysqlSchema, mysqlLogSchema, mysqlIndexSchema) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("creating the log's MySQL tables: %w", err)
		}
	}
	return nil
}
