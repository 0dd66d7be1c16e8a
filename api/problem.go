package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// problemBase is where the problem types are documented: each type is an
// anchor of docs/api.md.
const problemBase = "https://github.com/rebound-mail/rebound/blob/main/docs/api.md#"

// Problem is a problem details object (RFC 9457 section 3). Parameter
// (an extension member, section 3.2) names the query parameter, path
// parameter or body member that was wrong.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Parameter string `json:"parameter,omitempty"`
}

func (p *Problem) Error() string { return p.Detail }

// problemTypes gives each status its problem type and title.
var problemTypes = map[int][2]string{
	http.StatusBadRequest:            {"bad-request", "Bad request"},
	http.StatusUnauthorized:          {"unauthorized", "Unauthorized"},
	http.StatusForbidden:             {"forbidden", "Forbidden"},
	http.StatusNotFound:              {"not-found", "Not found"},
	http.StatusMethodNotAllowed:      {"method-not-allowed", "Method not allowed"},
	http.StatusRequestEntityTooLarge: {"too-large", "Content too large"},
	http.StatusUnsupportedMediaType:  {"unsupported-media-type", "Unsupported media type"},
	http.StatusUnprocessableEntity:   {"unprocessable", "Unprocessable content"},
	http.StatusInternalServerError:   {"internal", "Internal error"},
	http.StatusNotImplemented:        {"not-implemented", "Not implemented"},
	http.StatusServiceUnavailable:    {"unavailable", "Service unavailable"},
}

// badParam is the problem of a bad parameter.
func badParam(name, detail string) *Problem {
	return &Problem{Status: http.StatusBadRequest, Parameter: name, Detail: detail}
}

// writeError answers a request with the problem err is, or the one a store
// error maps to. Unexpected errors are logged and not shown: they may
// carry details of the deployment.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &tooLarge):
		p = &Problem{Status: http.StatusRequestEntityTooLarge,
			Detail: "the request body is larger than the limit of " + itoa(tooLarge.Limit) + " bytes"}
	case errors.Is(err, store.ErrNotFound):
		p = &Problem{Status: http.StatusNotFound, Detail: "no such " + what(r)}
	case errors.Is(err, errors.ErrUnsupported):
		p = &Problem{Status: http.StatusNotImplemented, Detail: "the store does not support this request yet"}
	case errors.Is(err, store.ErrClosed):
		p = &Problem{Status: http.StatusServiceUnavailable, Detail: "the store is closed: the server is shutting down"}
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		p = &Problem{Status: http.StatusServiceUnavailable, Detail: "the request was cancelled"}
	case errors.Is(err, context.DeadlineExceeded):
		p = &Problem{Status: http.StatusServiceUnavailable, Detail: "the store did not answer in time"}
	default:
		a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p = &Problem{Status: http.StatusInternalServerError, Detail: "the request failed; the server log has the cause"}
	}
	t, ok := problemTypes[p.Status]
	if !ok {
		t = [2]string{"", http.StatusText(p.Status)}
	}
	if p.Type == "" {
		p.Type = "about:blank"
		if t[0] != "" {
			p.Type = problemBase + "problem-" + t[0]
		}
	}
	if p.Title == "" {
		p.Title = t[1]
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Disposition")
	w.Header().Del("Content-Length")
	w.WriteHeader(p.Status)
	w.Write(append(b, '\n'))
}

// what names the thing a path asks for, for a not-found problem.
func what(r *http.Request) string {
	switch {
	case r.PathValue("event_id") != "":
		return "dead letter"
	case r.PathValue("address") != "":
		return "suppression"
	case r.PathValue("name") != "":
		return "webhook endpoint"
	case r.PathValue("id") != "" && len(r.URL.Path) > len("/v1/messages") && r.URL.Path[:len("/v1/messages")] == "/v1/messages":
		return "message"
	case r.PathValue("id") != "":
		return "bounce record"
	}
	return "resource"
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	if err != nil {
		// The status is sent; the client went away during the body.
		return nil
	}
	return nil
}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// actor is the name of the token that made the request.
func actor(r *http.Request) string {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c.name
}

func contextTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
