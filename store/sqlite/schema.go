package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/rebound-mail/rebound/store/sqlstore"
)

// Migrations are numbered SQL files, NNNN_name.sql (see sqlstore.Migration).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

func loadMigrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFiles)
}

// migrate brings the database on conn to the newest schema. It refuses a
// database written by a newer program rather than guess at its schema.
func migrate(ctx context.Context, conn *sql.Conn) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return migrateSteps(ctx, conn, ms)
}

// migrateSteps brings the database on conn to the last of ms (tests give
// fewer steps to make the database of an older program).
func migrateSteps(ctx context.Context, conn *sql.Conn, ms []sqlstore.Migration) error {
	if _, err := conn.ExecContext(ctx, sqlstore.CreateVersionTable); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	for {
		// BEGIN IMMEDIATE takes the write lock before reading the version,
		// so two processes opening a new database do not both migrate it.
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		applied, err := sqlstore.ApplyNext(ctx, migrationConn{conn}, sqlstore.Question, ms)
		if err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
			return err
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("migrating: commit: %w", err)
		}
		if applied == nil {
			return nil
		}
	}
}

// migrationConn runs a migration step on a connection inside BEGIN.
type migrationConn struct{ conn *sql.Conn }

func (c migrationConn) Exec(ctx context.Context, query string, args ...any) error {
	_, err := c.conn.ExecContext(ctx, query, args...)
	return err
}

func (c migrationConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, func(), error) {
	rows, err := c.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { rows.Close() }, nil
}

// Indexed keeps values as they are: SQLite's indexes take any length.
func (c migrationConn) Indexed(s string) string { return s }

func (c migrationConn) Version(ctx context.Context) (int, bool, error) {
	var v int
	err := c.conn.QueryRowContext(ctx, sqlstore.VersionQuery).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return v, err == nil, err
}
