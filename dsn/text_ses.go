package dsn

import (
	"bytes"
	"encoding/json"
	"strings"
)

// FormatAmazonSES names Amazon SES notifications (bounces and complaints)
// delivered by e-mail through Amazon SNS: a JSON document instead of a
// delivery status notification.
const FormatAmazonSES = "amazonses"

// sesNotification holds the fields of an Amazon SES notification that a
// bounce record needs.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		ReportingMTA      string `json:"reportingMTA"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		UserAgent             string `json:"userAgent"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Mail struct {
		MessageID     string `json:"messageId"`
		Source        string `json:"source"`
		CommonHeaders struct {
			MessageID string   `json:"messageId"`
			Subject   string   `json:"subject"`
			From      []string `json:"from"`
			To        []string `json:"to"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

// sesLike reports whether text may be an SES notification, the test
// scanSES starts with, without copying text.
func sesLike(text string) bool {
	text = strings.TrimSpace(text)
	return len(text) > 0 && text[0] == '{' && strings.Contains(text[:min(len(text), 4096)], "notificationType")
}

// scanSES reads an Amazon SES notification. SNS may wrap the JSON in an
// envelope whose "Message" field holds it as a string.
func scanSES(rep *Report, body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !bytes.Contains(body[:min(len(body), 4096)], []byte("notificationType")) {
		return false
	}
	n, ok := decodeSES(body)
	if !ok {
		// SNS e-mail breaks lines longer than 1000 octets with "!" and a
		// folding newline, inside JSON strings too.
		body = bytes.ReplaceAll(body, []byte("!\r\n "), nil)
		body = bytes.ReplaceAll(body, []byte("!\n "), nil)
		if n, ok = decodeSES(body); !ok {
			return false
		}
	}
	switch {
	case n.NotificationType == "Bounce" && n.Bounce != nil:
		action := "failed"
		if n.Bounce.BounceType == "Transient" {
			action = "delayed"
		}
		for _, b := range n.Bounce.BouncedRecipients {
			addr, _ := leadingAddress(strings.TrimSpace(b.EmailAddress))
			if addr == "" || reportHas(rep, addr) {
				continue
			}
			if len(rep.Recipients) >= maxTextRecipients {
				break
			}
			r := Recipient{
				FinalRecipient: addr,
				Action:         cleanAction([]byte(b.Action)),
				Status:         findStatus(b.Status),
				Diagnostic:     b.DiagnosticCode,
			}
			if r.Action == "" {
				r.Action = action
			}
			if typ, text, ok := strings.Cut(b.DiagnosticCode, ";"); ok && isAtom(typ) {
				r.DiagnosticType = strings.ToLower(strings.TrimSpace(typ))
				r.Diagnostic = strings.TrimSpace(text)
			}
			r.SMTPCode = findSMTPCode(r.Diagnostic)
			if r.Status == "" {
				r.Status = findStatus(r.Diagnostic)
			}
			rep.Recipients = append(rep.Recipients, r)
		}
	case n.NotificationType == "Complaint" && n.Complaint != nil:
		// JSON strings may hold line breaks; the fields are one line.
		typ := strings.ToLower(unfold([]byte(n.Complaint.ComplaintFeedbackType)))
		if typ == "" {
			typ = "other"
		}
		fb := &Feedback{FeedbackType: typ, UserAgent: unfold([]byte(n.Complaint.UserAgent)), OriginalMailFrom: unfold([]byte(n.Mail.Source))}
		for _, c := range n.Complaint.ComplainedRecipients {
			addr, _ := leadingAddress(strings.TrimSpace(c.EmailAddress))
			if addr == "" || reportHas(rep, addr) {
				continue
			}
			if len(rep.Recipients) >= maxTextRecipients {
				break
			}
			fb.OriginalRcptTo = append(fb.OriginalRcptTo, addr)
			rep.Recipients = append(rep.Recipients, Recipient{FinalRecipient: addr, FeedbackType: typ})
		}
		rep.Feedback = fb
	default:
		return false
	}
	if len(rep.Recipients) == 0 {
		rep.Feedback = nil
		return false
	}
	if n.Bounce != nil && rep.ReportingMTA == "" {
		if _, mta, ok := strings.Cut(n.Bounce.ReportingMTA, ";"); ok {
			rep.ReportingMTA = strings.TrimSpace(mta)
		}
	}
	o := &rep.Original
	if o.MessageID == "" {
		o.MessageID = n.Mail.CommonHeaders.MessageID
	}
	if o.Subject == "" {
		o.Subject = n.Mail.CommonHeaders.Subject
	}
	if o.From == "" && len(n.Mail.CommonHeaders.From) > 0 {
		o.From = n.Mail.CommonHeaders.From[0]
	}
	if o.To == "" && len(n.Mail.CommonHeaders.To) > 0 {
		o.To = strings.Join(n.Mail.CommonHeaders.To, ", ")
	}
	rep.Format = FormatAmazonSES
	return true
}

// decodeSES decodes the first JSON value of body as a notification or as
// an SNS envelope around one.
func decodeSES(body []byte) (sesNotification, bool) {
	var n sesNotification
	var envelope struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
		sesNotification
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&envelope); err != nil {
		return n, false
	}
	if envelope.Message != "" && envelope.NotificationType == "" {
		if err := json.Unmarshal([]byte(envelope.Message), &n); err != nil {
			return n, false
		}
		return n, n.NotificationType != ""
	}
	return envelope.sesNotification, envelope.NotificationType != ""
}

// reportHas reports whether rep already lists the recipient addr.
func reportHas(rep *Report, addr string) bool {
	for _, r := range rep.Recipients {
		if strings.EqualFold(r.FinalRecipient, addr) {
			return true
		}
	}
	return false
}
