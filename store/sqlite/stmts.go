package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxStatements bounds the prepared statements kept: the listings build
// their SQL from their filters, so the set of texts is open-ended.
const maxStatements = 256

// stmtCache keeps the reads' prepared statements, so that the lookups made
// for every incoming message (a registered message's recipients, a VERP
// token) do not compile their SQL each time. The statements belong to one
// connection pool; when the pool is replaced, they are dropped.
type stmtCache struct {
	mu    sync.Mutex
	db    *sql.DB
	stmts map[string]*sql.Stmt
}

// query runs query on db through its prepared statement.
func (c *stmtCache) query(ctx context.Context, db *sql.DB, query string, args ...any) (*sql.Rows, error) {
	c.mu.Lock()
	if c.db != db {
		for _, st := range c.stmts {
			st.Close()
		}
		c.db, c.stmts = db, map[string]*sql.Stmt{}
	}
	st := c.stmts[query]
	c.mu.Unlock()
	if st == nil {
		prepared, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		switch {
		case c.db == db && c.stmts[query] != nil:
			st = c.stmts[query] // prepared meanwhile by another read
		case c.db == db && len(c.stmts) < maxStatements:
			c.stmts[query], st = prepared, prepared
		}
		c.mu.Unlock()
		if st != prepared {
			prepared.Close()
		}
		if st == nil {
			// Not kept (the pool was replaced, or the cache is full).
			return db.QueryContext(ctx, query, args...)
		}
	}
	return st.QueryContext(ctx, args...)
}
