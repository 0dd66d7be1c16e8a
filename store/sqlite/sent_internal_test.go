package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/store"
)

// The lookup of every report's Message-ID is a search of the primary key
// of sent_messages, in its order (no sort), and pruning a search of the
// index on sent_at: neither scans the table.
func TestSentQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	defer s.Close()
	for _, tc := range []struct {
		query string
		args  []any
		want  string
	}{
		{queries.SentTo(), []any{"id@sender.example"}, "SEARCH sent_messages USING PRIMARY KEY (message_id=?)"},
		{`SELECT message_id, recipient FROM sent_messages WHERE sent_at < ? LIMIT ?`, []any{int64(1), 10},
			"SEARCH sent_messages USING COVERING INDEX sent_messages_sent_at (sent_at<?)"},
		{queries.VERPToken(), []any{"tok"}, "SEARCH verp_tokens USING PRIMARY KEY (token=?)"},
	} {
		rows, err := s.db.Load().QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) != 1 || plan[0] != tc.want {
			t.Errorf("plan of %s:\n got %s\nwant %s", strings.Join(strings.Fields(tc.query), " "), strings.Join(plan, "; "), tc.want)
		}
	}
}
