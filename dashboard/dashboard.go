// Package dashboard serves the web dashboard of rebound serve: a small
// JavaScript application (sources in web/, built by web/build.sh into
// dist/) that signs in with an API token and reads the HTTP API of
// package api from the same origin.
//
// The assets are embedded, so a build needs no Node.js; `go generate`
// rebuilds them. They are served with a strict Content-Security-Policy
// (scripts, styles and requests from the same origin only, no inline
// script), compressed with gzip for clients that accept it (RFC 9110
// section 8.4 and 12.5.3), and with validators and cache lifetimes
// fitting their names: the hashed assets never change, index.html is
// asked for again each time.
package dashboard

//go:generate ../web/build.sh

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// ContentSecurityPolicy is sent with every response: everything from the
// dashboard's own origin, no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one file, ready to serve.
type asset struct {
	ctype     string
	body, gz  []byte // gz is nil when compression does not pay
	etag      string // strong, of the uncompressed body
	immutable bool   // a name with a content hash
}

// Handler serves the dashboard's files: / is index.html, the rest by
// path. Build it with New.
type Handler struct {
	files map[string]*asset
}

// New returns a Handler over the embedded assets, compressing each once.
func New() (*Handler, error) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	return NewFS(sub)
}

// NewFS returns a Handler over the files of fsys, which holds index.html
// and the assets it names under assets/.
func NewFS(fsys fs.FS) (*Handler, error) {
	h := &Handler{files: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		a := &asset{body: body, immutable: strings.HasPrefix(p, "assets/")}
		a.ctype = types[path.Ext(p)]
		if a.ctype == "" {
			a.ctype = mime.TypeByExtension(path.Ext(p))
		}
		if a.ctype == "" {
			a.ctype = http.DetectContentType(body)
		}
		sum := sha256.Sum256(body)
		a.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		if compressible(a.ctype) {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if b.Len() < len(body)*9/10 {
				a.gz = b.Bytes()
			}
		}
		h.files["/"+p] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.files["/index.html"] == nil {
		return nil, fmt.Errorf("dashboard: no index.html among the assets")
	}
	return h, nil
}

// types are the assets' media types, fixed rather than read from the
// machine's mime.types.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

func compressible(ctype string) bool {
	t, _, _ := strings.Cut(ctype, ";")
	switch t {
	case "text/html", "text/css", "text/javascript", "application/javascript", "image/svg+xml", "application/json":
		return true
	}
	return strings.HasPrefix(t, "text/")
}

// ServeHTTP serves GET and HEAD of the dashboard's files.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" {
		p = "/index.html"
	}
	a := h.files[p]
	if a == nil {
		hdr.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	if a.immutable {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// index.html names the current assets: never kept, so that a new
		// version of the dashboard is loaded at once.
		hdr.Set("Cache-Control", "no-store")
	}
	hdr.Set("Content-Type", a.ctype)
	body := a.body
	etag := a.etag
	if a.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body = a.gz
			hdr.Set("Content-Encoding", "gzip")
			// A representation's validator differs per encoding
			// (RFC 9110 section 8.8.3).
			etag = strings.TrimSuffix(etag, `"`) + `-gz"`
		}
	}
	hdr.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match list names etag (weak
// comparison, RFC 9110 section 13.1.2).
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: named
// (or *) with a nonzero weight (RFC 9110 section 12.5.3).
func acceptsGzip(values []string) bool {
	star, gz := -1.0, -1.0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(k, "q") {
					f, err := strconv.ParseFloat(val, 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				gz = q
			case "*":
				star = q
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}
