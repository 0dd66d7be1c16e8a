package main

import (
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/store/postgres/pgtest"
)

// TestSuppressionsPostgres runs the commands with --db postgres://..., on a
// schema of its own in the database named by REBOUND_TEST_POSTGRES.
func TestSuppressionsPostgres(t *testing.T) {
	db := pgtest.SchemaURL(t, "cli_")

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
