package api

import (
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// exportPage is how many suppressions one read of an export takes: the
// export streams pages, so that its memory does not grow with the list.
const exportPage = 1000

// csvHeader names the columns of a suppression export.
var csvHeader = []string{"address", "cause", "reason", "since", "expires", "evidence"}

// exportSuppressions writes the suppressions in force that the query
// selects as CSV (RFC 4180), every one of them, by address.
func (a *API) exportSuppressions(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "domain", "cause")
	if err != nil {
		return err
	}
	sq := store.SuppressionQuery{Now: a.now(), Limit: exportPage}
	if sq.Domain, err = q.domain(); err != nil {
		return err
	}
	if sq.Cause, err = q.oneOf("cause", causes...); err != nil {
		return err
	}
	// The first page is read before the status is sent, so that a store
	// failure is still a problem answer rather than a cut-off file.
	page, err := a.store.ListSuppressions(r.Context(), sq)
	if err != nil {
		return err
	}
	name := "suppressions-" + sq.Now.UTC().Format("20060102T150405Z") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	for len(page) > 0 {
		for _, s := range page {
			var expires string
			if !s.Expires.IsZero() {
				expires = s.Expires.UTC().Format(time.RFC3339)
			}
			cw.Write([]string{cell(s.Address), cell(s.Cause), cell(s.Reason),
				s.Since.UTC().Format(time.RFC3339), expires, cell(strings.Join(s.Evidence, " "))})
		}
		if cw.Flush(); cw.Error() != nil || len(page) < exportPage {
			// The client went away, or that was the last page.
			return nil
		}
		sq.After = page[len(page)-1].Address
		if page, err = a.store.ListSuppressions(r.Context(), sq); err != nil {
			// The status is sent: breaking the connection is how the
			// client learns that the file is cut short, rather than
			// taking it for the whole list.
			a.log.Warn("suppression export cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	return nil
}

// cell keeps a value from being read as a formula by a spreadsheet that
// opens the file: a value starting with one of = + - @ or a control
// character gets a leading apostrophe (the OWASP advice on CSV injection).
// Addresses and reasons rarely start so; a hand-made note may.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
