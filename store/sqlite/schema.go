package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrations are numbered SQL files, NNNN_name.sql, embedded in the binary
// and applied in order at open. The schema_version table records the last
// applied; each step runs in its own transaction with its version bump, so
// a crash leaves the schema at a whole step.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded steps and checks they are numbered
// 1, 2, 3... without gaps.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{v, name, string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the database on conn to the newest schema. It refuses a
// database written by a newer program rather than guess at its schema.
func migrate(ctx context.Context, conn *sql.Conn) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	for {
		// BEGIN IMMEDIATE takes the write lock before reading the version,
		// so two processes opening a new database do not both migrate it.
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		done, err := migrateStep(ctx, conn, ms)
		if err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
			return err
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("migrating: commit: %w", err)
		}
		if done {
			return nil
		}
	}
}

// migrateStep applies the next migration, if any, inside the open
// transaction; done reports the schema was already current.
func migrateStep(ctx context.Context, conn *sql.Conn, ms []migration) (done bool, err error) {
	var version int
	err = conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case err == sql.ErrNoRows:
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return false, fmt.Errorf("initialising schema_version: %w", err)
		}
	case err != nil:
		return false, fmt.Errorf("reading schema_version: %w", err)
	}
	if version > len(ms) {
		return false, fmt.Errorf("database schema version %d is newer than this program's %d", version, len(ms))
	}
	if version == len(ms) {
		return true, nil
	}
	m := ms[version]
	if _, err := conn.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE schema_version SET version = ?`, m.version); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return false, nil
}
