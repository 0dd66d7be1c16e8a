package bounce

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/record"
)

// Limits of the text a record keeps per field, in bytes of UTF-8, the
// marker of a cut included. A report is untrusted input: one 900 KB
// Diagnostic-Code must not be stored whole in every record and incident
// it reaches. The raw message is stored whole beside its records, so
// nothing is lost for a human who wants all of it.
const (
	// MaxDiagnostic bounds Diagnostic, and so an incident's sample,
	// which is the diagnostic of one of its records. Real replies,
	// multi-line ones included, stay well under it.
	MaxDiagnostic = 8 << 10
	// MaxProse bounds Explanation, Evidence and RecipientInvalid.
	MaxProse = 2 << 10
	// MaxHeaderValue bounds what came from the original message's
	// header: OriginalMessageID, OriginalFrom, OriginalTo,
	// OriginalSubject and each value of OriginalHeaders (RFC 5322
	// section 2.1.1 limits a line to 998 octets, but a folded field may
	// be longer).
	MaxHeaderValue = 2 << 10
	// MaxHeaderName bounds the names of OriginalHeaders, and
	// MaxOriginalHeaders their number: the first by name are kept.
	MaxHeaderName      = 128
	MaxOriginalHeaders = 50
	// MaxHost bounds RemoteMTA and ReportingMTA.
	MaxHost = 512
	// MaxToken bounds the short values: Action, Status, SMTPCode,
	// FeedbackType and the verdict's names (Reason, Class, FixOwner,
	// Advice, CatalogEntry, Confidence, Format, Auth).
	MaxToken = 256
	// MaxSource bounds Source, a path or a listener's name.
	MaxSource = 4 << 10
)

// cutHeadersKey is the OriginalHeaders entry that says how many headers
// were left out; it is no header name, so it cannot hide one.
const cutHeadersKey = "…"

// setRecipients sets the recipient and original recipient of r from
// what the report named, in the normal form of package mailaddr. A value
// that is no address is left out and described in RecipientInvalid, so
// that no field meant for an address ever holds something else, and the
// record never suppresses (its recipient is empty).
func setRecipients(r *record.Record, final, original string) {
	var invalid []string
	if final != "" {
		a, err := mailaddr.Normalize(final)
		if err != nil {
			invalid = append(invalid, err.Error())
		}
		r.Recipient = a
	}
	if original != "" {
		a, err := mailaddr.Normalize(original)
		if err != nil {
			invalid = append(invalid, "original recipient: "+err.Error())
		}
		r.OriginalRecipient = a
	}
	r.RecipientInvalid = strings.Join(invalid, "; ")
}

// boundFields makes every text field of r storable alike by every store
// and cuts it to its limit: NUL and invalid UTF-8 become U+FFFD (a
// PostgreSQL text column cannot hold them, SQLite would keep them), and a
// longer text is cut (see cutText).
func boundFields(r *record.Record) {
	for _, f := range []struct {
		s   *string
		max int
	}{
		{&r.Source, MaxSource},
		{&r.Recipient, mailaddr.MaxAddress},
		{&r.OriginalRecipient, mailaddr.MaxAddress},
		{&r.RecipientInvalid, MaxProse},
		{&r.Action, MaxToken},
		{&r.Status, MaxToken},
		{&r.SMTPCode, MaxToken},
		{&r.Diagnostic, MaxDiagnostic},
		{&r.RemoteMTA, MaxHost},
		{&r.ReportingMTA, MaxHost},
		{&r.FeedbackType, MaxToken},
		{&r.OriginalMessageID, MaxHeaderValue},
		{&r.OriginalFrom, MaxHeaderValue},
		{&r.OriginalTo, MaxHeaderValue},
		{&r.OriginalSubject, MaxHeaderValue},
		{&r.Evidence, MaxProse},
	} {
		*f.s = cutText(*f.s, f.max)
	}
	// The verdict's words come from the catalog, valid UTF-8 checked
	// when it was loaded: only their length is bounded.
	for _, f := range []struct {
		s   *string
		max int
	}{
		{&r.Reason, MaxToken},
		{&r.Class, MaxToken},
		{&r.FixOwner, MaxToken},
		{&r.Advice, MaxToken},
		{&r.Explanation, MaxProse},
		{&r.CatalogEntry, MaxToken},
		{&r.Confidence, MaxToken},
		{&r.Format, MaxToken},
		{&r.Auth, MaxToken},
	} {
		if len(*f.s) > f.max {
			*f.s = cutText(*f.s, f.max)
		}
	}
	r.OriginalHeaders = boundHeaders(r.OriginalHeaders)
}

// boundHeaders returns h with its names and values bounded, and at most
// MaxOriginalHeaders of them (the first by name, so that the choice does
// not depend on map order) and an entry that says how many were left
// out. h is returned itself when nothing needed to change: it may be
// shared by the records of one report, and is never modified.
func boundHeaders(h map[string]string) map[string]string {
	if len(h) <= MaxOriginalHeaders {
		same := true
		for k, v := range h {
			if cutText(k, MaxHeaderName) != k || cutText(v, MaxHeaderValue) != v {
				same = false
				break
			}
		}
		if same {
			return h
		}
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, min(len(h), MaxOriginalHeaders+1))
	for _, k := range names {
		if len(out) == MaxOriginalHeaders {
			break
		}
		out[cutText(k, MaxHeaderName)] = cutText(h[k], MaxHeaderValue)
	}
	if n := len(h) - len(out); n > 0 {
		out[cutHeadersKey] = "[cut: " + strconv.Itoa(n) + " more headers]"
	}
	return out
}

// clean reports whether s is valid UTF-8 without NUL: a loop for the
// short values most fields hold, the vectorized searches for the others.
func clean(s string) bool {
	if len(s) > 32 {
		return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 {
			return false
		} else if c >= utf8.RuneSelf {
			return strings.IndexByte(s[i:], 0) < 0 && utf8.ValidString(s[i:])
		}
	}
	return true
}

// cutText returns s as valid UTF-8 without NUL, at most max bytes long.
// A longer text is cut at a character boundary and ends in a marker that
// says so and how long the whole was: "… [cut from 912345 bytes]".
func cutText(s string, max int) string {
	if len(s) <= max && clean(s) {
		return s
	}
	whole := len(s)
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	marker := "… [cut from " + strconv.Itoa(whole) + " bytes]"
	if len(marker) > max {
		marker = "…"
		if len(marker) > max {
			marker = ""
		}
	}
	n := max - len(marker)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + marker
}
