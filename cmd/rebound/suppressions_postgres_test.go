package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSuppressionsPostgres runs the commands with --db postgres://..., on a
// schema of its own in the database named by REBOUND_TEST_POSTGRES.
func TestSuppressionsPostgres(t *testing.T) {
	base := os.Getenv("REBOUND_TEST_POSTGRES")
	if base == "" {
		t.Skip("REBOUND_TEST_POSTGRES is not set; start a private cluster with: eval \"$(.ci/postgres.sh start)\"")
	}
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	schema := "cli_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := u.String()

	for _, st := range []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"suppressions", "add", "a@example.org", "--reason", "asked"}, 0, "a@example.org: suppressed, cause manual (asked)"},
		{[]string{"suppressions", "check", "A@example.org"}, 0, "a@example.org: suppressed"},
		{[]string{"suppressions", "list"}, 0, "a@example.org\n"},
		{[]string{"suppressions", "remove", "a@example.org"}, 0, "suppression removed"},
		{[]string{"suppressions", "check", "a@example.org"}, 1, "not suppressed"},
		{[]string{"incidents", "--all"}, 0, ""},
	} {
		code, out, errOut := runMain(append(st.args, "--db", db)...)
		if code != st.code || !strings.Contains(out, st.stdout) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", st.args, code, out, errOut, st.code, st.stdout)
		}
	}
}
