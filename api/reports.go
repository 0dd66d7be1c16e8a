package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/store"
)

type incidentList struct {
	Incidents []store.Incident `json:"incidents"`
}

func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "open")
	if err != nil {
		return err
	}
	open, err := q.bool("open")
	if err != nil {
		return err
	}
	incs, err := a.store.Incidents(r.Context(), open, a.now())
	if err != nil {
		return err
	}
	if incs == nil {
		incs = []store.Incident{}
	}
	return writeJSON(w, http.StatusOK, incidentList{Incidents: incs})
}

// Bounds of a statistics request.
const (
	maxBuckets    = 10000
	defaultBucket = time.Hour
	defaultWindow = 24 * time.Hour
)

type statsResult struct {
	Since  time.Time          `json:"since"`
	Until  time.Time          `json:"until"`
	Bucket string             `json:"bucket"`
	By     string             `json:"by"`
	Counts []store.StatsCount `json:"counts"`
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "since", "until", "bucket", "by", "class", "domain", "reason")
	if err != nil {
		return err
	}
	sq := store.StatsQuery{Bucket: defaultBucket, By: store.StatsByClass}
	if sq.Since, sq.Until, err = q.timeRange(); err != nil {
		return err
	}
	if sq.Until.IsZero() {
		sq.Until = a.now()
		if !sq.Since.IsZero() && !sq.Since.Before(sq.Until) {
			return badParam("since", "since must be before until (now, when until is left out)")
		}
	}
	// The zero time is a since like any other (0001-01-01T00:00:00Z), not
	// its absence.
	if sq.Since.IsZero() && !r.URL.Query().Has("since") {
		sq.Since = sq.Until.Add(-defaultWindow)
	}
	if s, err := q.str("bucket"); err != nil {
		return err
	} else if s != "" {
		if sq.Bucket, err = parseDuration(s); err != nil {
			return badParam("bucket", "bucket "+err.Error())
		}
		if sq.Bucket < time.Second {
			return badParam("bucket", "bucket: at least 1s")
		}
	}
	// Sub saturates on far-apart times, and the division cannot overflow.
	window := sq.Until.Sub(sq.Since)
	n := window / sq.Bucket
	if window%sq.Bucket != 0 {
		n++
	}
	if n > maxBuckets {
		return badParam("bucket", fmt.Sprintf("%d buckets of %s from since to until: at most %d; widen the bucket or narrow the range",
			n, formatDuration(sq.Bucket), maxBuckets))
	}
	if s, err := q.oneOf("by", store.StatsByClass, store.StatsByReason, store.StatsByDomain); err != nil {
		return err
	} else if s != "" {
		sq.By = s
	}
	if sq.Class, err = q.oneOf("class", classes...); err != nil {
		return err
	}
	if sq.Domain, err = q.domain(); err != nil {
		return err
	}
	if sq.Reason, err = q.reason(); err != nil {
		return err
	}
	counts, err := a.store.Stats(r.Context(), sq)
	if err != nil {
		return err
	}
	if counts == nil {
		counts = []store.StatsCount{}
	}
	return writeJSON(w, http.StatusOK, statsResult{Since: sq.Since, Until: sq.Until, Bucket: formatDuration(sq.Bucket), By: sq.By, Counts: counts})
}

// webhook is one endpoint: configured, known to the store's delivery
// state, or both (an endpoint removed from the configuration keeps its
// state and log).
type webhook struct {
	Name       string               `json:"name"`
	Configured bool                 `json:"configured"`
	State      *store.EndpointState `json:"state"`
}

type webhookList struct {
	Webhooks []webhook `json:"webhooks"`
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.webhooks(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookList{Webhooks: list})
}

// webhooks lists the endpoints configured or known to the store, by name.
func (a *API) webhooks(r *http.Request) ([]webhook, error) {
	states, err := a.store.Endpoints(r.Context())
	if err != nil {
		return nil, err
	}
	byName := map[string]*webhook{}
	// Room for all, so that the pointers of byName stay valid.
	list := make([]webhook, 0, len(a.endpoints)+len(states))
	for _, name := range a.endpoints {
		list = append(list, webhook{Name: name, Configured: true})
	}
	for i := range list {
		byName[list[i].Name] = &list[i]
	}
	for _, st := range states {
		if h := byName[st.Endpoint]; h != nil {
			h.State = &st
			continue
		}
		list = append(list, webhook{Name: st.Endpoint, State: &st})
	}
	slices.SortStableFunc(list, func(x, y webhook) int { return strings.Compare(x.Name, y.Name) })
	return list, nil
}

// endpoint checks that a path's endpoint name is configured or known to
// the store.
func (a *API) endpoint(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if slices.Contains(a.endpoints, name) {
		return name, nil
	}
	states, err := a.store.Endpoints(r.Context())
	if err != nil {
		return "", err
	}
	for _, st := range states {
		if st.Endpoint == name {
			return name, nil
		}
	}
	return "", &Problem{Status: http.StatusNotFound, Detail: fmt.Sprintf("no webhook endpoint %q", name)}
}

type deliveryList struct {
	Endpoint   string                  `json:"endpoint"`
	Deliveries []store.DeliveryAttempt `json:"deliveries"`
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "limit")
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	name, err := a.endpoint(r)
	if err != nil {
		return err
	}
	ds, err := a.store.Deliveries(r.Context(), name, limit)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []store.DeliveryAttempt{}
	}
	return writeJSON(w, http.StatusOK, deliveryList{Endpoint: name, Deliveries: ds})
}

type deadLetterList struct {
	Endpoint    string             `json:"endpoint"`
	DeadLetters []store.DeadLetter `json:"dead_letters"`
}

func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "replay", "limit")
	if err != nil {
		return err
	}
	replayOnly, err := q.bool("replay")
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	name, err := a.endpoint(r)
	if err != nil {
		return err
	}
	dls, err := a.store.DeadLetters(r.Context(), name, replayOnly, limit)
	if err != nil {
		return err
	}
	if dls == nil {
		dls = []store.DeadLetter{}
	}
	return writeJSON(w, http.StatusOK, deadLetterList{Endpoint: name, DeadLetters: dls})
}

type replayResult struct {
	Endpoint string `json:"endpoint"`
	EventID  int64  `json:"event_id"`
	Replay   bool   `json:"replay"`
}

// replay asks for a dead letter to be delivered again; the delivery
// happens later, hence 202 (RFC 9110 section 15.3.3).
func (a *API) replay(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := pathID(r, "event_id")
	if err != nil {
		return err
	}
	name, err := a.endpoint(r)
	if err != nil {
		return err
	}
	ok, err := a.store.Replay(r.Context(), name, id)
	if err != nil {
		return err
	}
	if !ok {
		return &Problem{Status: http.StatusNotFound, Detail: fmt.Sprintf("endpoint %q has no dead letter of event %d", name, id)}
	}
	return writeJSON(w, http.StatusAccepted, replayResult{Endpoint: name, EventID: id, Replay: true})
}
