package dashboard

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func testHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// assetNames are the assets index.html refers to.
func assetNames(t *testing.T, h *Handler) []string {
	t.Helper()
	idx := string(h.files["/index.html"].body)
	var names []string
	for _, m := range regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(idx, -1) {
		names = append(names, m[1])
	}
	if len(names) < 3 {
		t.Fatalf("index.html names %v, want the script, the style sheet and the icon", names)
	}
	return names
}

func do(h http.Handler, method, path string, hdr map[string]string) *http.Response {
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestServe(t *testing.T) {
	h := testHandler(t)
	names := assetNames(t, h)
	js := ""
	for _, n := range names {
		if strings.HasSuffix(n, ".js") {
			js = n
		}
	}
	tests := []struct {
		name, method, path, accept string
		status                     int
		ctype, encoding, cache     string
	}{
		{"root is index.html", "GET", "/", "gzip", 200, "text/html; charset=utf-8", "gzip", "no-store"},
		{"index.html by name", "GET", "/index.html", "", 200, "text/html; charset=utf-8", "", "no-store"},
		{"script gzip", "GET", js, "gzip, deflate, br", 200, "text/javascript; charset=utf-8", "gzip", "public, max-age=31536000, immutable"},
		{"script identity", "GET", js, "", 200, "text/javascript; charset=utf-8", "", "public, max-age=31536000, immutable"},
		{"script gzip refused by q=0", "GET", js, "gzip;q=0, *", 200, "text/javascript; charset=utf-8", "", "public, max-age=31536000, immutable"},
		{"script by star", "GET", js, "*;q=0.5", 200, "text/javascript; charset=utf-8", "gzip", "public, max-age=31536000, immutable"},
		{"head", "HEAD", js, "gzip", 200, "text/javascript; charset=utf-8", "gzip", "public, max-age=31536000, immutable"},
		{"unknown path", "GET", "/nothing.js", "", 404, "", "", "no-store"},
		{"no directory listing", "GET", "/assets/", "", 404, "", "", "no-store"},
		{"post refused", "POST", "/", "", 405, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(h, tc.method, tc.path, map[string]string{"Accept-Encoding": tc.accept})
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP %q", got)
			}
			if !strings.Contains(ContentSecurityPolicy, "default-src 'self'") || strings.Contains(ContentSecurityPolicy, "unsafe-inline") {
				t.Errorf("CSP %q not strict", ContentSecurityPolicy)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if tc.status != 200 {
				if tc.cache != "" && res.Header.Get("Cache-Control") != tc.cache {
					t.Errorf("Cache-Control %q, want %q", res.Header.Get("Cache-Control"), tc.cache)
				}
				return
			}
			for k, want := range map[string]string{"Content-Type": tc.ctype, "Content-Encoding": tc.encoding, "Cache-Control": tc.cache} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if res.Header.Get("ETag") == "" || res.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("ETag %q Vary %q", res.Header.Get("ETag"), res.Header.Get("Vary"))
			}
			if tc.method == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD body of %d bytes", len(body))
				}
				return
			}
			if tc.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			p := tc.path
			if p == "/" {
				p = "/index.html"
			}
			if !bytes.Equal(body, h.files[p].body) {
				t.Errorf("body differs from the asset")
			}
		})
	}
}

func TestConditional(t *testing.T) {
	h := testHandler(t)
	js := assetNames(t, h)[0]
	for _, enc := range []string{"", "gzip"} {
		res := do(h, "GET", js, map[string]string{"Accept-Encoding": enc})
		etag := res.Header.Get("ETag")
		res = do(h, "GET", js, map[string]string{"Accept-Encoding": enc, "If-None-Match": `"other", ` + etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%q: If-None-Match %s: status %d, want 304", enc, etag, res.StatusCode)
		}
		res = do(h, "GET", js, map[string]string{"Accept-Encoding": enc, "If-None-Match": `"other"`})
		if res.StatusCode != http.StatusOK {
			t.Errorf("%q: other ETag: status %d, want 200", enc, res.StatusCode)
		}
	}
	plain := do(h, "GET", js, nil).Header.Get("ETag")
	gz := do(h, "GET", js, map[string]string{"Accept-Encoding": "gzip"}).Header.Get("ETag")
	if plain == gz {
		t.Errorf("gzip and identity share ETag %s", plain)
	}
}

// TestAssets checks what the built assets must be: no inline script, no
// reference to another origin, and a first load well under its budget.
func TestAssets(t *testing.T) {
	h := testHandler(t)
	idx := string(h.files["/index.html"].body)
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(idx) || strings.Contains(idx, " style=") || strings.Contains(idx, " onclick") {
		t.Errorf("index.html has inline script or style:\n%s", idx)
	}
	total := len(h.files["/index.html"].gz)
	for p, a := range h.files {
		if regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//`).Match(a.body) || bytes.Contains(a.body, []byte("@import url(http")) {
			t.Errorf("%s refers to another origin", p)
		}
		if strings.HasPrefix(p, "/assets/") {
			if a.gz != nil {
				total += len(a.gz)
			} else {
				total += len(a.body)
			}
		}
	}
	// The browser test measures the real first load; this bounds the
	// assets alone.
	if total > 150<<10 {
		t.Errorf("assets of %d bytes compressed, want at most 150 KiB", total)
	}
	t.Logf("assets: %d bytes compressed", total)
}

func TestNewFS(t *testing.T) {
	if _, err := NewFS(fstest.MapFS{"assets/a.js": {Data: []byte("x")}}); err == nil {
		t.Error("no index.html accepted")
	}
	h, err := NewFS(fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}, "assets/x.bin": {Data: []byte{0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if res := do(h, "GET", "/assets/x.bin", map[string]string{"Accept-Encoding": "gzip"}); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("binary asset compressed")
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP;Q=0.3"}, true},
		{[]string{"br", "gzip;q=0.1"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip;q=0.000"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *;q=1"}, false},
		{[]string{"identity, deflate"}, false},
		{[]string{"gzip;q=nonsense"}, false},
		{[]string{"x-gzip"}, true},
	}
	for _, tc := range tests {
		if got := acceptsGzip(tc.values); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.values, got, tc.want)
		}
	}
}
