package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

func TestIncidents(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	var msgs []*store.Message
	for i, rcpt := range []string{"a@contoso.example", "b@contoso.example", "c@contoso.example"} {
		at := now.Add(-30*time.Minute + time.Duration(i)*10*time.Minute)
		msgs = append(msgs, failureMessage("open"+rcpt, rcpt, record.ClassBlock, "blocked", "5.7.606", at))
	}
	// Blocks that stopped three hours ago: a closed incident.
	msgs = append(msgs, failureMessage("old", "d@fabrikam.example", record.ClassBlock, "badreputation", "5.7.1", now.Add(-3*time.Hour)))
	// A hard bounce is no incident.
	msgs = append(msgs, failureMessage("hard", "e@contoso.example", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Minute)))
	db := storeWithMessages(t, msgs...)

	code, out, errOut := runMain("incidents", "--db", db)
	if code != 0 {
		t.Fatalf("incidents: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	line := regexp.MustCompile(`^contoso\.example +5\.7\.606 +blocked +3 records +since \S+ +last \S+$`)
	if len(lines) != 1 || !line.MatchString(lines[0]) {
		t.Fatalf("incidents:\n%s", out)
	}
	if !strings.Contains(lines[0], "since "+now.Add(-30*time.Minute).Format(time.RFC3339)) {
		t.Errorf("incidents: first seen not in %q", lines[0])
	}

	code, out, errOut = runMain("incidents", "--all", "--db", db)
	if code != 0 {
		t.Fatalf("incidents --all: exit %d: %s", code, errOut)
	}
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "contoso.example") ||
		!regexp.MustCompile(`^fabrikam\.example +5\.7\.1 +badreputation +1 record +since \S+ +last \S+ +closed$`).MatchString(lines[1]) {
		t.Fatalf("incidents --all:\n%s", out)
	}

	code, out, errOut = runMain("incidents", "--json", "--all", "--db", db)
	if code != 0 {
		t.Fatalf("incidents --json: exit %d: %s", code, errOut)
	}
	var got []store.Incident
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var in store.Incident
		if err := json.Unmarshal([]byte(l), &in); err != nil {
			t.Fatalf("incidents --json: %q: %v", l, err)
		}
		got = append(got, in)
	}
	if len(got) != 2 || !got[0].Open || got[0].Count != 3 || got[0].Sample == "" || got[1].Open || got[1].Domain != "fabrikam.example" {
		t.Errorf("incidents --json: %+v", got)
	}

	if code, _, _ := runMain("incidents", "extra", "--db", db); code != 2 {
		t.Errorf("incidents with an argument: exit %d, want 2", code)
	}
}
