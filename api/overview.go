package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// Bounds of an overview request.
const (
	maxTop          = 100
	maxIncidentView = 100
	maxSample       = 1000 // of an incident's text read for its explanation
)

// overviewBuckets are the widths an overview counts in: the store keeps
// rollups by hour and by day (UTC).
var overviewBuckets = map[string]time.Duration{"hour": time.Hour, "day": 24 * time.Hour}

type overviewResult struct {
	Since     time.Time              `json:"since"`
	Until     time.Time              `json:"until"`
	Bucket    string                 `json:"bucket"`
	Buckets   []store.OverviewBucket `json:"buckets"`
	Totals    map[string]int64       `json:"totals"`
	Reasons   []store.TopEntry       `json:"reasons"`
	Domains   []store.TopEntry       `json:"domains"`
	Providers []store.TopEntry       `json:"providers"`
	Incidents []incidentView         `json:"incidents"`
	// IncidentsOpen counts the open incidents, of which Incidents holds
	// the newest.
	IncidentsOpen int           `json:"incidents_open"`
	Webhooks      []webhookView `json:"webhooks"`
	OutboxNewest  int64         `json:"outbox_newest"`
}

// incidentView is an open incident with what its code means.
type incidentView struct {
	store.Incident
	Title       string `json:"title,omitempty"`
	Explanation string `json:"explanation,omitempty"`
	FixOwner    string `json:"fix_owner,omitempty"`
	Advice      string `json:"advice,omitempty"`
}

// webhookView is an endpoint's health: Healthy while no failed attempt
// waits to be retried; Depth is the events after its cursor (unknown
// before its first delivery).
type webhookView struct {
	Name        string    `json:"name"`
	Configured  bool      `json:"configured"`
	Healthy     bool      `json:"healthy"`
	Depth       *int64    `json:"depth"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// overview is what a dashboard's first page shows: the records of a range
// by class in buckets and their top reasons, domains and providers (all
// from the store's rollups), the open incidents explained, and the
// webhook endpoints' health.
func (a *API) overview(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "since", "until", "bucket", "top", "lang")
	if err != nil {
		return err
	}
	oq := store.OverviewQuery{Bucket: time.Hour, Top: store.DefaultOverviewTop}
	bucketName := "hour"
	if s, err := q.oneOf("bucket", "hour", "day"); err != nil {
		return err
	} else if s != "" {
		bucketName, oq.Bucket = s, overviewBuckets[s]
	}
	if oq.Since, oq.Until, err = q.timeRange(); err != nil {
		return err
	}
	if oq.Until.IsZero() {
		oq.Until = a.now()
	}
	if !q.has("since") {
		oq.Since = oq.Until.Add(-defaultWindow)
	}
	// Buckets are whole hours or days (UTC): the range is widened to them.
	oq.Since = oq.Since.UTC().Truncate(oq.Bucket)
	if end := oq.Until.UTC().Truncate(oq.Bucket); end.Before(oq.Until) {
		oq.Until = end.Add(oq.Bucket)
	} else {
		oq.Until = end
	}
	if !oq.Since.Before(oq.Until) {
		return badParam("since", "since must be before until (now, when until is left out)")
	}
	if n := oq.Until.Sub(oq.Since) / oq.Bucket; n > store.MaxOverviewBuckets {
		return badParam("bucket", fmt.Sprintf("%d buckets of a %s from since to until: at most %d; count by day or narrow the range", n, bucketName, store.MaxOverviewBuckets))
	}
	if s, err := q.str("top"); err != nil {
		return err
	} else if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTop {
			return badParam("top", fmt.Sprintf("top %q: want a number from 1 to %d", s, maxTop))
		}
		oq.Top = n
	}
	explainer, err := a.explainer(q)
	if err != nil {
		return err
	}

	ov, err := a.store.Overview(r.Context(), oq)
	if err != nil {
		return err
	}
	res := overviewResult{Since: ov.Since, Until: ov.Until, Bucket: bucketName, Buckets: ov.Buckets, Totals: ov.Totals,
		Reasons: ov.Reasons, Domains: ov.Domains, Providers: ov.Providers,
		Incidents: []incidentView{}, Webhooks: []webhookView{}}

	incs, err := a.store.Incidents(r.Context(), true, a.now())
	if err != nil {
		return err
	}
	res.IncidentsOpen = len(incs)
	for _, inc := range incs[:min(len(incs), maxIncidentView)] {
		v := incidentView{Incident: inc}
		// The code and the server's own words: the catalog may know
		// the provider's meaning of the text where the code is generic.
		query := inc.Status + " " + inc.Sample[:min(len(inc.Sample), maxSample)]
		if ex, err := explainer.Explain(query); err == nil {
			v.Explanation, v.FixOwner, v.Advice = ex.Result.Explanation, ex.Result.FixOwner, ex.Result.Advice
			if len(ex.Entries) > 0 {
				v.Title = ex.Entries[0].Title
			}
		}
		res.Incidents = append(res.Incidents, v)
	}

	hooks, err := a.webhooks(r)
	if err != nil {
		return err
	}
	if res.OutboxNewest, err = a.store.NewestEvent(r.Context()); err != nil {
		return err
	}
	for _, h := range hooks {
		v := webhookView{Name: h.Name, Configured: h.Configured, Healthy: true}
		if st := h.State; st != nil {
			depth := max(res.OutboxNewest-st.Cursor, 0)
			v.Depth = &depth
			v.Attempts, v.LastError, v.NextAttempt = st.Attempts, st.LastError, st.NextAttempt
			v.Healthy = st.Attempts == 0
		}
		res.Webhooks = append(res.Webhooks, v)
	}
	return writeJSON(w, http.StatusOK, res)
}
