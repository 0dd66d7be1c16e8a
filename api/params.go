package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/suppress"
)

// Bounds of a listing.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// query holds the parameters of a request's query string once checked
// against those its route takes: a parameter it does not know is an
// error, so that a typo cannot silently widen a query.
type query struct {
	v url.Values
}

func parseQuery(r *http.Request, known ...string) (query, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, badParam("", "the query string is malformed: "+err.Error())
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			detail := fmt.Sprintf("unknown parameter %q", name)
			if len(known) > 0 {
				detail += "; this route takes " + strings.Join(known, ", ")
			} else {
				detail += "; this route takes none"
			}
			return query{}, badParam(name, detail)
		}
		if len(v[name]) > 1 {
			return query{}, badParam(name, fmt.Sprintf("parameter %q given %d times; give it once", name, len(v[name])))
		}
	}
	return query{v: v}, nil
}

// noQuery checks that a route that takes no parameters got none.
func noQuery(r *http.Request) error {
	_, err := parseQuery(r)
	return err
}

func (q query) has(name string) bool { return q.v.Has(name) }

// str returns a parameter that must not be empty when given.
func (q query) str(name string) (string, error) {
	if !q.v.Has(name) {
		return "", nil
	}
	s := q.v.Get(name)
	if s == "" {
		return "", badParam(name, fmt.Sprintf("parameter %q is empty; leave it out to not filter", name))
	}
	return s, nil
}

func (q query) limit() (int, error) {
	if !q.v.Has("limit") {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(q.v.Get("limit"))
	if err != nil || n < 1 || n > maxLimit {
		return 0, badParam("limit", fmt.Sprintf("limit %q: want an integer from 1 to %d", q.v.Get("limit"), maxLimit))
	}
	return n, nil
}

func (q query) time(name string) (time.Time, error) {
	s, err := q.str(name)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badParam(name, fmt.Sprintf("%s %q: want an RFC 3339 time such as 2026-05-04T08:00:00Z", name, s))
	}
	return t, nil
}

// timeRange reads since and until, which bound a time as since <= t < until.
func (q query) timeRange() (since, until time.Time, err error) {
	if since, err = q.time("since"); err != nil {
		return
	}
	if until, err = q.time("until"); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		err = badParam("until", "until must be after since")
	}
	return
}

func (q query) bool(name string) (bool, error) {
	if !q.v.Has(name) {
		return false, nil
	}
	switch q.v.Get(name) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badParam(name, fmt.Sprintf("%s %q: want true or false", name, q.v.Get(name)))
}

func (q query) oneOf(name string, values ...string) (string, error) {
	s, err := q.str(name)
	if err != nil || s == "" {
		return s, err
	}
	if !slices.Contains(values, s) {
		return "", badParam(name, fmt.Sprintf("%s %q: want one of %s", name, s, strings.Join(values, ", ")))
	}
	return s, nil
}

func (q query) domain() (string, error) {
	s, err := q.str("domain")
	if err != nil || s == "" {
		return s, err
	}
	d, err := mailaddr.NormalizeDomain(s)
	if err != nil {
		return "", badParam("domain", fmt.Sprintf("domain %q: %v", s, err))
	}
	return d, nil
}

// reasonPattern is the shape of the reasons of the catalog.
var reasonPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (q query) reason() (string, error) {
	s, err := q.str("reason")
	if err != nil || s == "" {
		return s, err
	}
	if !reasonPattern.MatchString(s) {
		return "", badParam("reason", fmt.Sprintf("reason %q: want a reason name such as mailbox-full (lower-case letters, digits, '.', '_', '-')", s))
	}
	return s, nil
}

// address normalizes an address given as a parameter.
func address(name, s string) (string, error) {
	a, err := suppress.NormalizeAddress(s)
	if err != nil {
		return "", badParam(name, fmt.Sprintf("%s %q is not a mail address: %v", name, s, err))
	}
	return a, nil
}

// pathID reads a positive integer path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam(name, fmt.Sprintf("%s %q: want a positive integer", name, s))
	}
	return id, nil
}

// Cursors are opaque to clients: base64url of a kind prefix and the
// position, so that one listing's cursor is refused by another.
func encodeCursor(kind, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + pos))
}

func (q query) cursor(kind string) (string, bool, error) {
	s, err := q.str("cursor")
	if err != nil || s == "" {
		return "", false, err
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	pos, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok || pos == "" {
		return "", false, badParam("cursor", "cursor: not one this listing returned; pass next_cursor as it was given")
	}
	return pos, true, nil
}

func (q query) idCursor(kind string) (int64, error) {
	pos, ok, err := q.cursor(kind)
	if err != nil || !ok {
		return 0, err
	}
	id, err := strconv.ParseInt(pos, 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam("cursor", "cursor: not one this listing returned; pass next_cursor as it was given")
	}
	return id, nil
}

// parseDuration reads a Go duration ("90m", "12h") or a number of days
// ("90d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days <= 0 || days > 100*366 {
			return 0, fmt.Errorf("%q: want a positive number of days such as 90d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration such as 90d, 12h or 30m", s)
	}
	return d, nil
}

// formatDuration writes d as parseDuration reads it, in days when whole.
func formatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	// "1h0m0s" reads better as "1h", "5m0s" as "5m".
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// decodeBody reads a JSON request body into v, bounded by the API's
// MaxBody. Members v does not have are refused like unknown parameters.
// An empty body leaves v as it is when optional.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &Problem{Status: http.StatusUnsupportedMediaType, Detail: fmt.Sprintf("Content-Type %q: want application/json", ct)}
		}
	}
	body := http.MaxBytesReader(w, r.Body, a.maxBody)
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if optional {
			return nil
		}
		return &Problem{Status: http.StatusBadRequest, Detail: "the request needs a JSON body"}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badParam(typeErr.Field, fmt.Sprintf("%s: want a JSON %s", typeErr.Field, typeErr.Type))
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name = strings.Trim(name, `"`)
			return badParam(name, fmt.Sprintf("unknown member %q in the body", name))
		}
		return &Problem{Status: http.StatusBadRequest, Detail: "the body is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return &Problem{Status: http.StatusBadRequest, Detail: "the body holds more than one JSON value"}
	}
	return nil
}
