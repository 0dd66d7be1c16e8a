package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/rebound-mail/rebound/store"
)

type relayList struct {
	Items []store.RelayItem `json:"items"`
	// NextAfter is the after of the next page, when this one is full.
	NextAfter int64 `json:"next_after,omitempty"`
}

// listRelay lists the relay queue: the messages that were no report,
// forwarded or to be forwarded to the upstream, by message ID, without
// their bytes (GET /v1/messages/{id}/raw has them).
func (a *API) listRelay(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "state", "limit", "after")
	if err != nil {
		return err
	}
	state, err := q.oneOf("state", store.RelayStates...)
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	var after int64
	if s, err := q.str("after"); err != nil {
		return err
	} else if s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after <= 0 {
			return badParam("after", fmt.Sprintf("after %q: want a positive message ID, the next_after of the page before", s))
		}
	}
	items, err := a.store.RelayItems(r.Context(), store.RelayQuery{State: state, AfterID: after, Limit: limit})
	if err != nil {
		return err
	}
	out := relayList{Items: items}
	if len(items) == limit {
		out.NextAfter = items[len(items)-1].MessageID
	}
	return writeJSON(w, http.StatusOK, out)
}
