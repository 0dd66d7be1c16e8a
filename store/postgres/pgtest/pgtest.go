// Package pgtest gives tests a PostgreSQL schema of their own in the test
// database named by the REBOUND_TEST_POSTGRES environment variable (a
// postgres:// URL; .ci/postgres.sh starts a private cluster and sets it).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env names the variable that holds the test database's URL.
const Env = "REBOUND_TEST_POSTGRES"

// Skip skips the test when no test database is configured.
func Skip(tb testing.TB) {
	tb.Helper()
	if os.Getenv(Env) == "" {
		tb.Skip(Env + " is not set; start a private cluster with: eval \"$(.ci/postgres.sh start)\"")
	}
}

// SchemaURL returns the URL of a fresh, empty schema in the test database,
// dropped when the test ends; the test is skipped when none is configured.
// Every connection made with the URL, in this process or another, works in
// that schema (search_path). prefix starts the schema's name.
func SchemaURL(tb testing.TB, prefix string) string {
	tb.Helper()
	Skip(tb)
	base := os.Getenv(Env)
	var b [6]byte
	rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("connecting to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("dropping schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
