package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// CreateAtVersion creates a database at path whose schema has only the
// first version migrations, as an older program left it.
func CreateAtVersion(ctx context.Context, path string, version int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if version > len(ms) {
		return fmt.Errorf("no schema version %d", version)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return migrateSteps(ctx, conn, ms[:version])
}
