package dsn

// scanText reads a human-readable bounce. body is the decoded text of the
// message's human-readable part(s), or its whole decoded body when it is not
// MIME; hdr returns a decoded top-level header field ("" when absent). When
// it recognizes a bounce it fills rep.Recipients (and rep.Format when empty)
// and returns true. rep.Original is already filled when the original
// message was attached.
func scanText(rep *Report, hdr func(name string) string, body []byte) bool {
	return false
}

// findStatus returns the first enhanced status code (RFC 3463, e.g.
// "5.1.1") in s, or "".
func findStatus(s string) string { return "" }

// findSMTPCode returns the first SMTP reply code (RFC 5321 section 4.2,
// e.g. "550") that starts a reply in s, or "".
func findSMTPCode(s string) string { return "" }
