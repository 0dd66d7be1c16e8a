package sqlstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// TestIncidentEventPayload: an incident's event carries the incident as
// GET /v1/incidents shows it, but for the distinct recipients, which are
// counted when incidents are listed.
func TestIncidentEventPayload(t *testing.T) {
	at := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	in := store.Incident{ID: 7, Domain: "gmail.com", Status: "5.7.1", Reason: "blocklisted", Sample: "listed",
		FirstSeen: at, LastSeen: at, Count: 3, Recipients: 2}
	for _, opened := range []bool{true, false} {
		ev, err := IncidentEvent(in, opened)
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{true: store.EventIncidentOpened, false: store.EventIncidentUpdated}[opened]
		if ev.Type != want {
			t.Errorf("type %q, want %q", ev.Type, want)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(ev.Payload), &got); err != nil {
			t.Fatal(err)
		}
		if _, ok := got["recipients"]; ok {
			t.Errorf("payload %s has recipients", ev.Payload)
		}
		if got["domain"] != "gmail.com" || got["count"] != 3.0 || got["open"] != true {
			t.Errorf("payload %s", ev.Payload)
		}
	}
}
