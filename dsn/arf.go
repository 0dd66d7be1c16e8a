package dsn

import "strings"

// parseFeedback reads the body of a message/feedback-report part (RFC 5965
// section 3.1) into rep.Feedback and adds one Recipient per reported
// recipient: each Original-Rcpt-To, else each address in the To field of
// the attached original.
func parseFeedback(rep *Report, b []byte, max int) error {
	fb := &Feedback{}
	err := forEachGroup(b, max, func(h header) {
		for _, f := range h {
			v := unfold(f.value)
			switch {
			case equalFoldASCII(f.name, "Feedback-Type"):
				fb.FeedbackType = strings.ToLower(v)
			case equalFoldASCII(f.name, "User-Agent"):
				fb.UserAgent = v
			case equalFoldASCII(f.name, "Version"):
				fb.Version = v
			case equalFoldASCII(f.name, "Source-IP"):
				fb.SourceIP = v
			case equalFoldASCII(f.name, "Arrival-Date"), equalFoldASCII(f.name, "Received-Date"):
				if fb.ArrivalDate == "" {
					fb.ArrivalDate = v
				}
			case equalFoldASCII(f.name, "Reporting-MTA"):
				fb.ReportingMTA = typedValue(f.value)
			case equalFoldASCII(f.name, "Original-Mail-From"):
				fb.OriginalMailFrom = cleanAddress(v)
			case equalFoldASCII(f.name, "Original-Rcpt-To"), equalFoldASCII(f.name, "Removal-Recipient"):
				// Removal-Recipient is the field of the drafts before RFC 5965.
				if a := cleanAddress(v); a != "" {
					fb.OriginalRcptTo = append(fb.OriginalRcptTo, a)
				}
			case equalFoldASCII(f.name, "Auth-Failure"):
				fb.AuthFailure = v
			}
		}
	})
	if err != nil {
		return err
	}
	rep.Feedback = fb
	if rep.ReportingMTA == "" {
		rep.ReportingMTA = fb.ReportingMTA
	}
	rcpts := fb.OriginalRcptTo
	if len(rcpts) == 0 {
		rcpts = addressList(rep.Original.To)
	}
	for _, a := range rcpts {
		rep.Recipients = append(rep.Recipients, Recipient{FinalRecipient: a, FeedbackType: fb.FeedbackType})
	}
	if len(rcpts) == 0 && fb.FeedbackType != "" {
		// A complaint about a message whose recipient was redacted is
		// still a complaint.
		rep.Recipients = append(rep.Recipients, Recipient{FeedbackType: fb.FeedbackType})
	}
	return nil
}

// addressList returns the addresses of an address-list field value (RFC
// 5322 section 3.4), display names dropped.
func addressList(s string) []string {
	var out []string
	for s != "" {
		// Split at commas outside quotes and angle brackets.
		i, quoted, angle := 0, false, false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '"' {
				quoted = !quoted
			} else if c == '<' && !quoted {
				angle = true
			} else if c == '>' && !quoted {
				angle = false
			} else if c == ',' && !quoted && !angle {
				break
			}
		}
		if a := cleanAddress(s[:i]); strings.IndexByte(a, '@') > 0 {
			out = append(out, a)
		}
		if i >= len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}
