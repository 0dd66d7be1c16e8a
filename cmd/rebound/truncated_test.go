package main

import (
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
)

// TestBouncesTruncatedNote: rebound bounces says which reports named more
// recipients than were recorded, beside the table, and on stderr under
// --json so that stdout stays JSON Lines.
func TestBouncesTruncatedNote(t *testing.T) {
	now := time.Now().UTC()
	cut := failureMessage("cut", "first@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour))
	cut.RemoteAddr = "192.0.2.9:2500"
	cut.TruncatedRecipients = 139000
	whole := failureMessage("whole", "other@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour))
	db := storeWithMessages(t, cut, whole)

	code, out, errOut := runMain("bounces", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "note: 1 stored report named more recipients than were recorded") ||
		!strings.Contains(out, "from 192.0.2.9:2500: 139000 recipients not recorded") {
		t.Errorf("table output lacks the note:\n%s", out)
	}

	code, out, errOut = runMain("bounces", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "note:") || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("--json stdout is not the two records only:\n%s", out)
	}
	if !strings.Contains(errOut, "139000 recipients not recorded") {
		t.Errorf("--json stderr lacks the note: %q", errOut)
	}

	// A listing since after the report says nothing of it.
	_, out, _ = runMain("bounces", "--db", db, "--since", "1m")
	if strings.Contains(out, "note:") {
		t.Errorf("note for a report outside --since:\n%s", out)
	}
}
