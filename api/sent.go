package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/store"
)

// Bounds of a registration's text: a Message-ID fits in a header line
// (RFC 5322 section 2.1.1), campaign and tenant are names.
const (
	maxMessageID = 998
	maxLabel     = 1000
)

type sentEntry struct {
	MessageID *string `json:"message_id"`
	Recipient *string `json:"recipient"`
	Campaign  string  `json:"campaign"`
	Tenant    string  `json:"tenant"`
	SentAt    string  `json:"sent_at"`
}

type sentRequest struct {
	Messages *[]sentEntry `json:"messages"`
}

type sentResult struct {
	Registered int `json:"registered"`
	New        int `json:"new"`
}

// maxSent is the most registrations of one request: one call of the
// store's RegisterSent, one transaction.
func (a *API) maxSent() int { return min(a.maxBatch, store.MaxRegister) }

// registerSent keeps, for each message the mailer sent, its Message-ID
// (RFC 5322 section 3.6.4) and recipient, so that a bounce quoting the
// Message-ID is known to concern mail sent to that recipient. Every entry
// is checked before any is stored.
func (a *API) registerSent(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var req sentRequest
	if err := a.decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Messages == nil {
		return badParam("messages", `the body needs "messages", an array of {"message_id", "recipient"}`)
	}
	entries := *req.Messages
	if n := a.maxSent(); len(entries) > n {
		return &Problem{Status: http.StatusRequestEntityTooLarge, Parameter: "messages",
			Detail: fmt.Sprintf("%d messages: at most %d are registered at once", len(entries), n)}
	}
	sent := make([]store.Sent, 0, len(entries))
	for i, e := range entries {
		s, err := checkSent(i, e)
		if err != nil {
			return err
		}
		sent = append(sent, s)
	}
	n := 0
	if len(sent) > 0 {
		var err error
		if n, err = a.store.RegisterSent(r.Context(), sent); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, sentResult{Registered: len(sent), New: n})
}

// checkSent checks entry i of a registration as the store would, so that
// the problem names the entry and its member.
func checkSent(i int, e sentEntry) (store.Sent, error) {
	member := func(name string) string { return fmt.Sprintf("messages[%d].%s", i, name) }
	if e.MessageID == nil {
		return store.Sent{}, unprocessable(member("message_id"), member("message_id")+" is missing")
	}
	if e.Recipient == nil {
		return store.Sent{}, unprocessable(member("recipient"), member("recipient")+" is missing")
	}
	id := store.MessageID(*e.MessageID)
	switch {
	case id == "":
		return store.Sent{}, unprocessable(member("message_id"), member("message_id")+" is empty")
	case len(id) > maxMessageID:
		return store.Sent{}, unprocessable(member("message_id"), fmt.Sprintf("%s is %d bytes: at most %d", member("message_id"), len(id), maxMessageID))
	}
	if _, err := store.Address(*e.Recipient); err != nil {
		return store.Sent{}, unprocessable(member("recipient"), fmt.Sprintf("%s %s is not a mail address: %v",
			member("recipient"), mailaddr.Quote(*e.Recipient, 64), reasonOf(err)))
	}
	for _, l := range []struct{ name, v string }{{"campaign", e.Campaign}, {"tenant", e.Tenant}} {
		if name, v := l.name, l.v; len(v) > maxLabel {
			return store.Sent{}, unprocessable(member(name), fmt.Sprintf("%s is %d bytes: at most %d", member(name), len(v), maxLabel))
		}
	}
	s := store.Sent{MessageID: *e.MessageID, Recipient: *e.Recipient, Campaign: e.Campaign, Tenant: e.Tenant}
	if e.SentAt != "" {
		t, err := time.Parse(time.RFC3339, e.SentAt)
		if err != nil {
			return store.Sent{}, unprocessable(member("sent_at"), fmt.Sprintf("%s %s: want an RFC 3339 time such as 2026-05-04T08:00:00Z",
				member("sent_at"), mailaddr.Quote(e.SentAt, 64)))
		}
		s.SentAt = t.UTC()
	}
	return s, nil
}

type sentPage struct {
	MessageID string       `json:"message_id"`
	Sent      []store.Sent `json:"sent"`
}

// getSent lists the registrations of one Message-ID, by recipient; none
// is an empty list.
func (a *API) getSent(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	given := r.PathValue("message_id")
	id := store.MessageID(given)
	if id == "" {
		return badParam("message_id", fmt.Sprintf("message_id %s: want a Message-ID, with or without its angle brackets", mailaddr.Quote(given, 64)))
	}
	sent, err := a.store.SentTo(r.Context(), id)
	if err != nil {
		return err
	}
	if sent == nil {
		sent = []store.Sent{}
	}
	return writeJSON(w, http.StatusOK, sentPage{MessageID: id, Sent: sent})
}
