package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one step of a schema: numbered SQL files, NNNN_name.sql,
// embedded in the binary and applied in order at open. The schema_version
// table records the last applied; each step runs in its own transaction
// with its version bump, so a crash leaves the schema at a whole step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// CreateVersionTable is run once before the steps.
const CreateVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`

// LoadMigrations reads the steps in the directory "migrations" of fsys and
// checks they are numbered 1, 2, 3... without gaps.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, "migrations/"+name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{v, name, string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %q: want version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// MigrationTx is what a migration step needs of the open transaction.
type MigrationTx interface {
	Exec(ctx context.Context, query string, args ...any) error
	// Version reads the one row of schema_version; found is false when
	// there is none.
	Version(ctx context.Context) (version int, found bool, err error)
}

// ApplyNext applies the step after the schema's version inside tx and
// returns it, or nil when the schema was already current. A database
// written by a newer program is refused rather than guessed at.
func ApplyNext(ctx context.Context, tx MigrationTx, p Placeholders, ms []Migration) (applied *Migration, err error) {
	version, found, err := tx.Version(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading schema_version: %w", err)
	}
	if !found {
		if err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return nil, fmt.Errorf("initialising schema_version: %w", err)
		}
	}
	if version > len(ms) {
		return nil, fmt.Errorf("database schema version %d is newer than this program's %d", version, len(ms))
	}
	if version == len(ms) {
		return nil, nil
	}
	m := ms[version]
	if err := tx.Exec(ctx, m.SQL); err != nil {
		return nil, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if m.Version == OverviewVersion {
		if err := fillOverview(ctx, tx, p); err != nil {
			return nil, fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Exec(ctx, `UPDATE schema_version SET version = `+p.Param(1), m.Version); err != nil {
		return nil, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return &m, nil
}

// VersionQuery reads the schema version.
const VersionQuery = `SELECT version FROM schema_version`
