package api

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
	"github.com/rebound-mail/rebound/verp"
)

// signDay is the day the tests sign on.
var signDay = time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)

var testKeys = []verp.Key{
	{ID: "k1", Secret: []byte("first-secret-0123456789")},
	{ID: "k0", Secret: []byte("older-secret-0123456789")},
}

// longRecipient takes the token form: its plain payload does not fit in
// a local part beside the prefix, key, day and tag.
const longRecipient = "a-very-long-local-part-for-the-token-form@example.com"

func newSigner(t *testing.T, keys []verp.Key, tokens verp.TokenStore, now time.Time) *verp.Signer {
	t.Helper()
	s, err := verp.New(keys, verp.Options{Tokens: tokens, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withConfig is the fixture's store and tokens served by another API,
// built from the fixture's configuration as edit changes it.
func (f *fixture) withConfig(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	cfg := Config{
		Store: f.st,
		Tokens: []Token{
			{Name: "reader", Secret: readToken, Scopes: []string{ScopeRead}},
			{Name: "ops", Secret: writeToken, Scopes: []string{ScopeRead, ScopeWrite}},
		},
		MaxBody:  64 << 10,
		MaxBatch: 50,
	}
	edit(&cfg)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := *f
	g.t = t
	g.srv = httptest.NewServer(a.Handler())
	t.Cleanup(g.srv.Close)
	return &g
}

// withSigner serves the fixture with a signer of testKeys on signDay,
// keeping its tokens in the fixture's store.
func (f *fixture) withSigner(t *testing.T) *fixture {
	return f.withConfig(t, func(c *Config) {
		c.Signer = newSigner(t, testKeys, f.st, signDay)
		c.BounceDomains = []string{"bounces.example.net", "Bounces.Example.ORG."}
	})
}

// tokenOf is the token of the token form, as package verp documents it.
func tokenOf(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) returnPaths(t *testing.T, body any) verpResult {
	t.Helper()
	r := f.do(request{method: "POST", path: "/v1/verp", token: writeToken, body: jsonBody(t, body)})
	expect(t, r, http.StatusOK)
	var res verpResult
	r.decode(t, &res)
	return res
}

func (f *fixture) decodePath(t *testing.T, rp string) decodeResult {
	t.Helper()
	r := f.do(request{method: "POST", path: "/v1/verp/decode", token: readToken, body: jsonBody(t, map[string]string{"return_path": rp})})
	expect(t, r, http.StatusOK)
	var res decodeResult
	r.decode(t, &res)
	return res
}

// Return paths come back in the order of their recipients, and each
// decodes to its recipient, whatever its form.
func TestVERPRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f = f.withSigner(t)
		rcpts := []string{"jane@example.com", "Jane.Doe@Example.com", longRecipient, " <joe@example.org> ", "jane@example.com"}
		forms := []string{verp.FormPlain, verp.FormEncoded, verp.FormToken, verp.FormPlain, verp.FormPlain}
		res := f.returnPaths(t, map[string]any{"recipients": rcpts})
		if len(res.ReturnPaths) != len(rcpts) {
			t.Fatalf("%d return paths for %d recipients", len(res.ReturnPaths), len(rcpts))
		}
		for i, rp := range res.ReturnPaths {
			if rp.Recipient != rcpts[i] {
				t.Errorf("return path %d is for %q, want %q", i, rp.Recipient, rcpts[i])
			}
			if !strings.HasPrefix(rp.ReturnPath, "b+k1+") || !strings.HasSuffix(rp.ReturnPath, "@bounces.example.net") {
				t.Errorf("return path %d %q: want b+k1+...@bounces.example.net", i, rp.ReturnPath)
			}
			d := f.decodePath(t, "<"+rp.ReturnPath+">")
			want := decodeResult{Valid: true, Recipient: trimPath(rcpts[i]), Domain: "bounces.example.net", KeyID: "k1",
				Signed: "2026-12-03", Form: forms[i]}
			if d != want {
				t.Errorf("return path %d %q decodes to %+v, want %+v", i, rp.ReturnPath, d, want)
			}
		}
		if got, err := f.st.VERPToken(context.Background(), tokenOf(longRecipient)); err != nil || got != longRecipient {
			t.Errorf("token of the long recipient is %q, %v; want it kept", got, err)
		}

		// Another configured domain, in another case.
		res = f.returnPaths(t, map[string]any{"recipients": []string{"jane@example.com"}, "domain": "BOUNCES.example.org"})
		if rp := res.ReturnPaths[0].ReturnPath; !strings.HasSuffix(rp, "@bounces.example.org") {
			t.Errorf("return path %q is not at bounces.example.org", rp)
		}
		// No recipients, no return paths.
		if res := f.returnPaths(t, map[string]any{"recipients": []string{}}); len(res.ReturnPaths) != 0 {
			t.Errorf("return paths for no recipients: %+v", res.ReturnPaths)
		}
	})
}

// A bad request makes no return path: a recipient that is no address
// stops the batch before the long one before it is kept as a token.
func TestVERPBadInput(t *testing.T) {
	f := newFixture(t).withSigner(t)
	long := "another-very-long-local-part-for-a-token-form@example.com"
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("user%d@example.com", i)
	}
	tests := []struct {
		name    string
		body    string
		status  int
		param   string
		detail  string
		invalid bool
	}{
		{"not an address", jsonBody(t, map[string]any{"recipients": []string{long, "jane@example.com", "nobody"}}), 422, "recipients[2]", `recipients[2] "nobody"`, false},
		{"empty recipient", jsonBody(t, map[string]any{"recipients": []string{""}}), 422, "recipients[0]", "recipients[0]", false},
		{"two ats", jsonBody(t, map[string]any{"recipients": []string{"a@b@example.com"}}), 422, "recipients[0]", "not a mail address", false},
		{"domain not configured", jsonBody(t, map[string]any{"recipients": []string{"jane@example.com"}, "domain": "example.net"}), 422, "domain", `"example.net" is not a bounce domain`, false},
		{"domain not a domain", jsonBody(t, map[string]any{"recipients": []string{"jane@example.com"}, "domain": "-x-"}), 422, "domain", "bounces.example.net, bounces.example.org", false},
		{"no recipients", `{"domain": "bounces.example.net"}`, 400, "recipients", "recipients", true},
		{"recipients not strings", `{"recipients": [1]}`, 400, "recipients", "", true},
		{"unknown member", `{"recipients": [], "from": "x"}`, 400, "from", "from", true},
		{"empty body", ``, 400, "", "JSON body", true},
		{"too many", jsonBody(t, map[string]any{"recipients": tooMany}), 413, "recipients", "at most 50", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(request{method: "POST", path: "/v1/verp", token: writeToken, body: tc.body, invalid: tc.invalid})
			expect(t, r, tc.status)
			p := r.problem(t)
			if p.Parameter != tc.param || !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("problem %+v: want parameter %q and a detail with %q", p, tc.param, tc.detail)
			}
		})
	}
	if got, err := f.st.VERPToken(context.Background(), tokenOf(long)); err != nil || got != "" {
		t.Errorf("the long recipient of a refused batch was kept as a token: %q, %v", got, err)
	}
	r := f.do(request{method: "POST", path: "/v1/verp", token: readToken, body: `{"recipients": []}`})
	expect(t, r, http.StatusForbidden)
	r.problem(t)
}

// A return path that does not verify is a 200 saying why.
func TestVERPDecodeInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f = f.withSigner(t)
		ctx := context.Background()
		good := f.returnPaths(t, map[string]any{"recipients": []string{"jane@example.com"}}).ReturnPaths[0].ReturnPath

		// The tag is the 10 characters after the day, after "b+k1+".
		i := len("b+k1+") + 2
		flip := byte('a')
		if good[i] == 'a' {
			flip = 'b'
		}
		badTag := good[:i] + string(flip) + good[i+1:]

		other := newSigner(t, []verp.Key{{ID: "k9", Secret: []byte("unknown-secret-0123456789")}}, nil, signDay)
		unknownKey, err := other.Encode(ctx, "jane@example.com", "bounces.example.net")
		if err != nil {
			t.Fatal(err)
		}
		// Signed with our key, its token kept in another store.
		elsewhere, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "elsewhere.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer elsewhere.Close()
		unknownToken, err := newSigner(t, testKeys, elsewhere, signDay).Encode(ctx, longRecipient, "bounces.example.net")
		if err != nil {
			t.Fatal(err)
		}
		// Signed 40 days ago, 30 being the maximum age.
		expired, err := newSigner(t, testKeys, nil, signDay.AddDate(0, 0, -40)).Encode(ctx, "jane@example.com", "bounces.example.net")
		if err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name, path, reason, err string
		}{
			{"bad tag", badTag, "bad_tag", "verp: tag does not verify"},
			{"not signed", "jane@example.com", "format", "does not start with"},
			{"no at", "b+k1+aaaaaaaaaaaa+jane=example.com", "format", "has no @"},
			{"unknown key", unknownKey, "unknown_key", `unknown key "k9"`},
			{"unknown token", unknownToken, "unknown_token", "unknown token"},
			{"expired", expired, "expired", "signed 40 days ago"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				d := f.decodePath(t, tc.path)
				if d.Valid || d.Reason != tc.reason || !strings.Contains(d.Error, tc.err) || d.Recipient != "" {
					t.Errorf("%q decodes to %+v; want invalid, reason %s, an error with %q", tc.path, d, tc.reason, tc.err)
				}
			})
		}

		// The same return path is good on its last day and expired
		// the day after: the signer's clock decides.
		at := func(now time.Time) *fixture {
			return f.withConfig(t, func(c *Config) {
				c.Signer = newSigner(t, testKeys, f.st, now)
				c.BounceDomains = []string{"bounces.example.net"}
			})
		}
		if d := at(signDay.AddDate(0, 0, 30)).decodePath(t, good); !d.Valid || d.Signed != "2026-12-03" {
			t.Errorf("30 days after: %+v, want valid", d)
		}
		if d := at(signDay.AddDate(0, 0, 31)).decodePath(t, good); d.Valid || d.Reason != "expired" {
			t.Errorf("31 days after: %+v, want expired", d)
		}

		for _, body := range []string{`{}`, `{"return_path": ""}`, `{"return_path": "  "}`} {
			r := f.do(request{method: "POST", path: "/v1/verp/decode", token: readToken, body: body, invalid: true})
			expect(t, r, http.StatusBadRequest)
			if p := r.problem(t); p.Parameter != "return_path" {
				t.Errorf("%s: problem names %q, want return_path", body, p.Parameter)
			}
		}
	})
}

// Without keys or bounce domains, or with a token store that fails, the
// routes answer 503.
func TestVERPUnavailable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, path := range []string{"/v1/verp", "/v1/verp/decode"} {
		r := f.do(request{method: "POST", path: path, token: writeToken, body: `{"recipients": ["jane@example.com"], "return_path": "x"}`, invalid: true})
		expect(t, r, http.StatusServiceUnavailable)
		if p := r.problem(t); p.Detail != "no VERP keys configured" {
			t.Errorf("%s: detail %q", path, p.Detail)
		}
	}

	noDomains := f.withConfig(t, func(c *Config) { c.Signer = newSigner(t, testKeys, f.st, signDay) })
	r := noDomains.do(request{method: "POST", path: "/v1/verp", token: writeToken, body: `{"recipients": ["jane@example.com"]}`})
	expect(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); !strings.Contains(p.Detail, "no bounce domains") {
		t.Errorf("detail %q", p.Detail)
	}

	// A token store that is closed after its token was kept.
	tokens, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tokens.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer := newSigner(t, testKeys, tokens, signDay)
	rp, err := signer.Encode(ctx, longRecipient, "bounces.example.net")
	if err != nil {
		t.Fatal(err)
	}
	tokens.Close()
	broken := f.withConfig(t, func(c *Config) {
		c.Signer = signer
		c.BounceDomains = []string{"bounces.example.net"}
	})
	r = broken.do(request{method: "POST", path: "/v1/verp/decode", token: readToken, body: jsonBody(t, map[string]string{"return_path": rp})})
	expect(t, r, http.StatusServiceUnavailable)
	r.problem(t)
	r = broken.do(request{method: "POST", path: "/v1/verp", token: writeToken, body: jsonBody(t, map[string]any{"recipients": []string{longRecipient}})})
	expect(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Parameter != "" || !strings.Contains(p.Detail, "recipients[0]") {
		t.Errorf("problem %+v", p)
	}
	// A short recipient needs no token store.
	if res := broken.returnPaths(t, map[string]any{"recipients": []string{"jane@example.com"}}); len(res.ReturnPaths) != 1 {
		t.Errorf("return paths %+v", res.ReturnPaths)
	}
}

func TestBounceDomainsConfig(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		domains []string
		err     string
	}{
		{[]string{"bounces.example.net", "BOUNCES.example.net."}, "given twice"},
		{[]string{"not..a.domain"}, "bounce domain 1"},
		{[]string{"[192.0.2.1]"}, "address literal"},
		{[]string{strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".example"}, "at most 189"},
	}
	for _, tc := range tests {
		_, err := New(Config{Store: f.st, BounceDomains: tc.domains})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("bounce domains %q: error %v, want one with %q", tc.domains, err, tc.err)
		}
	}
	if _, err := New(Config{Store: f.st, BounceDomains: []string{"bücher.example"}}); err != nil {
		t.Errorf("an IDN bounce domain: %v", err)
	}
}
