package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rebound-mail/rebound/dashboard"
)

// TestWithDashboard: the API keeps its paths, the dashboard has the rest.
func TestWithDashboard(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api") })
	dash, err := dashboard.New()
	if err != nil {
		t.Fatal(err)
	}
	h := withDashboard(api, dash)
	tests := []struct {
		path   string
		api    bool
		status int
		hasCSP bool
	}{
		{"/v1/bounces", true, 200, false},
		{"/v1", true, 200, false},
		{"/v1/suppressions/a@example.com/history", true, 200, false},
		{"/healthz", true, 200, false},
		{"/readyz", true, 200, false},
		{"/metrics", true, 200, false},
		{"/", false, 200, true},
		{"/index.html", false, 200, true},
		{"/nothing", false, 404, true},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		body := w.Body.String()
		if w.Code != tc.status || (body == "api") != tc.api || (w.Header().Get("Content-Security-Policy") != "") != tc.hasCSP {
			t.Errorf("GET %s: %d %.20q CSP %q; want %d, api %v", tc.path, w.Code, body, w.Header().Get("Content-Security-Policy"), tc.status, tc.api)
		}
	}
}
