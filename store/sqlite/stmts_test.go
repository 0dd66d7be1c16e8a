package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestStmtCache: reads through the cache give the rows of a plain query,
// concurrently, and the cache stays within its bound and follows a
// replaced pool.
func TestStmtCache(t *testing.T) {
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	ctx := context.Background()
	var c stmtCache
	db := open()
	count := func(db *sql.DB, query string, args ...any) int {
		t.Helper()
		rows, err := c.query(ctx, db, query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n int
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if got := count(db, "SELECT ? + ?", i, j); got != i+j {
					t.Errorf("SELECT %d + %d = %d", i, j, got)
				}
			}
		})
	}
	wg.Wait()
	for i := range maxStatements + 10 {
		if got := count(db, fmt.Sprintf("SELECT %d", i)); got != i {
			t.Fatalf("SELECT %d = %d", i, got)
		}
	}
	if n := len(c.stmts); n > maxStatements {
		t.Errorf("%d statements kept, bound %d", n, maxStatements)
	}
	other := open()
	if got := count(other, "SELECT ? + ?", 2, 3); got != 5 || c.db != other || len(c.stmts) != 1 {
		t.Errorf("after a new pool: %d, %d statements", got, len(c.stmts))
	}
}
