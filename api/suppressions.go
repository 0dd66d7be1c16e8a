package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

var causes = []string{suppress.CauseHard, suppress.CauseComplaint, suppress.CauseSoft, suppress.CauseManual}

type suppressionPage struct {
	Suppressions []store.Suppression `json:"suppressions"`
	NextCursor   string              `json:"next_cursor,omitempty"`
}

func (a *API) listSuppressions(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "domain", "cause", "limit", "cursor")
	if err != nil {
		return err
	}
	sq := store.SuppressionQuery{Now: a.now()}
	if sq.Domain, err = q.domain(); err != nil {
		return err
	}
	if sq.Cause, err = q.oneOf("cause", causes...); err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	if sq.After, _, err = q.cursor("suppression"); err != nil {
		return err
	}
	sq.Limit = limit + 1
	sups, err := a.store.ListSuppressions(r.Context(), sq)
	if err != nil {
		return err
	}
	page := suppressionPage{Suppressions: sups}
	if len(sups) > limit {
		page.Suppressions = sups[:limit]
		page.NextCursor = encodeCursor("suppression", sups[limit-1].Address)
	}
	if page.Suppressions == nil {
		page.Suppressions = []store.Suppression{}
	}
	return writeJSON(w, http.StatusOK, page)
}

// getSuppression is the check a mailer makes before every send: one
// store lookup and nothing else.
func (a *API) getSuppression(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	addr, err := address("address", r.PathValue("address"))
	if err != nil {
		return err
	}
	sup, err := a.store.Suppression(r.Context(), addr, a.now())
	if err != nil {
		return err
	}
	if sup == nil {
		return &Problem{Status: http.StatusNotFound, Detail: addr + " is not suppressed"}
	}
	return writeJSON(w, http.StatusOK, sup)
}

type checkRequest struct {
	Addresses *[]string `json:"addresses"`
}

type checkResult struct {
	Suppressed []store.Suppression `json:"suppressed"`
	Checked    int                 `json:"checked"`
}

func (a *API) checkSuppressions(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var req checkRequest
	if err := a.decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Addresses == nil {
		return badParam("addresses", `the body needs "addresses", an array of addresses`)
	}
	given := *req.Addresses
	if len(given) > a.maxBatch {
		return &Problem{Status: http.StatusRequestEntityTooLarge, Parameter: "addresses",
			Detail: fmt.Sprintf("%d addresses: at most %d can be checked at once", len(given), a.maxBatch)}
	}
	addrs := make([]string, 0, len(given))
	seen := make(map[string]bool, len(given))
	for i, s := range given {
		addr, err := suppress.NormalizeAddress(s)
		if err != nil {
			return badParam("addresses", fmt.Sprintf("addresses[%d]: %q is not a mail address: %v", i, s, err))
		}
		if !seen[addr] {
			seen[addr] = true
			addrs = append(addrs, addr)
		}
	}
	res := checkResult{Suppressed: []store.Suppression{}, Checked: len(given)}
	if len(addrs) > 0 {
		sups, err := a.store.CheckSuppressions(r.Context(), addrs, a.now())
		if err != nil {
			return err
		}
		res.Suppressed = append(res.Suppressed, sups...)
	}
	return writeJSON(w, http.StatusOK, res)
}

type putRequest struct {
	Reason   string `json:"reason"`
	Note     string `json:"note"`
	Expires  string `json:"expires"`
	Duration string `json:"duration"`
}

// Bounds of the free text of a change: what a person writes.
const maxNote = 1000

func (a *API) putSuppression(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	addr, err := address("address", r.PathValue("address"))
	if err != nil {
		return err
	}
	var req putRequest
	if err := a.decodeBody(w, r, &req, true); err != nil {
		return err
	}
	if len(req.Reason) > maxNote {
		return badParam("reason", fmt.Sprintf("reason: at most %d bytes", maxNote))
	}
	if len(req.Note) > maxNote {
		return badParam("note", fmt.Sprintf("note: at most %d bytes", maxNote))
	}
	now := a.now()
	sup := store.Suppression{Address: addr, Cause: suppress.CauseManual, Reason: req.Reason, Since: now,
		Actor: actor(r), Note: req.Note}
	switch {
	case req.Expires != "" && req.Duration != "":
		return badParam("duration", "give expires or duration, not both")
	case req.Expires != "":
		t, err := time.Parse(time.RFC3339, req.Expires)
		if err != nil {
			return badParam("expires", fmt.Sprintf("expires %q: want an RFC 3339 time such as 2026-08-01T00:00:00Z", req.Expires))
		}
		if !t.After(now) {
			return badParam("expires", fmt.Sprintf("expires %s is not in the future", req.Expires))
		}
		sup.Expires = t
	case req.Duration != "":
		d, err := parseDuration(req.Duration)
		if err != nil {
			return badParam("duration", "duration "+err.Error())
		}
		sup.Expires = now.Add(d)
	}
	if err := a.store.AddSuppression(r.Context(), sup); err != nil {
		return err
	}
	got, err := a.store.Suppression(r.Context(), addr, now)
	if err != nil {
		return err
	}
	if got == nil {
		// Read back at the same instant it was written: only a store
		// that lost the write could answer nothing.
		return fmt.Errorf("suppression of %s not found after adding it", addr)
	}
	return writeJSON(w, http.StatusOK, got)
}

type deleteRequest struct {
	Note string `json:"note"`
}

func (a *API) deleteSuppression(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "note")
	if err != nil {
		return err
	}
	addr, err := address("address", r.PathValue("address"))
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := a.decodeBody(w, r, &req, true); err != nil {
		return err
	}
	if q.has("note") {
		if req.Note != "" {
			return badParam("note", "give the note in the query or the body, not both")
		}
		req.Note = q.v.Get("note")
	}
	if len(req.Note) > maxNote {
		return badParam("note", fmt.Sprintf("note: at most %d bytes", maxNote))
	}
	had, err := a.store.RemoveSuppression(r.Context(), addr, store.Actor{Who: actor(r), Why: req.Note})
	if err != nil {
		return err
	}
	if !had {
		return &Problem{Status: http.StatusNotFound, Detail: addr + " is not suppressed"}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type historyPage struct {
	Address string                    `json:"address"`
	Changes []store.SuppressionChange `json:"changes"`
}

func (a *API) suppressionHistory(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "limit")
	if err != nil {
		return err
	}
	addr, err := address("address", r.PathValue("address"))
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	changes, err := a.store.SuppressionChanges(r.Context(), addr, limit)
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []store.SuppressionChange{}
	}
	return writeJSON(w, http.StatusOK, historyPage{Address: addr, Changes: changes})
}
