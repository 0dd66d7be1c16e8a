package sqlstore

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// RecordColumns are the columns of a record as read back, in the order
// ScanRecord expects.
const RecordColumns = `source, idx, recipient, original_recipient, action, status, smtp_code,
	diagnostic, remote_mta, reporting_mta, reason, class, fix_owner, advice, explanation,
	catalog_entry, feedback_type, original_message_id, original_from, original_to,
	original_subject, original_headers, format, received_at, authenticated, confidence, evidence,
	recipient_invalid, auth`

// RecordReadColumns are the columns of a record with its ID and
// MessageID, in the order CollectRecords expects.
const RecordReadColumns = `id, message_id, ` + RecordColumns

// AddressColumns are the columns of a suppression state, in the order
// ScanAddress expects.
const AddressColumns = `address, soft_count, window_start, last_bounce, suppressed, cause, reason,
	since, expires, evidence, low_confidence`

// MessageColumns are the columns of a message's envelope, in the order
// ScanMessage expects.
const MessageColumns = `id, received_at, source, remote_addr, helo, mail_from, rcpt_to, parse_error, format,
	truncated_recipients, auth_results`

// incidentColumns end with the incident's distinct recipients, counted from
// the primary key of incident_recipients.
const incidentColumns = `id, domain, status, reason, sample, first_seen, last_seen, count,
	(SELECT count(*) FROM incident_recipients AS r WHERE r.incident_id = incidents.id)`

// scanRecord reads one row of RecordReadColumns. A failing scan is
// reported as is; a damaged header list as decodeErr.
func scanRecord(row Scanner) (r record.Record, decodeErr, err error) {
	var headers string
	var idx, received int64
	err = row.Scan(&r.ID, &r.MessageID, &r.Source, &idx, &r.Recipient, &r.OriginalRecipient, &r.Action,
		&r.Status, &r.SMTPCode, &r.Diagnostic, &r.RemoteMTA, &r.ReportingMTA, &r.Reason,
		&r.Class, &r.FixOwner, &r.Advice, &r.Explanation, &r.CatalogEntry, &r.FeedbackType,
		&r.OriginalMessageID, &r.OriginalFrom, &r.OriginalTo, &r.OriginalSubject, &headers,
		&r.Format, &received, &r.Authenticated, &r.Confidence, &r.Evidence, &r.RecipientInvalid, &r.Auth)
	if err != nil {
		return r, nil, err
	}
	r.Index = int(idx)
	if headers != "" {
		if err := json.Unmarshal([]byte(headers), &r.OriginalHeaders); err != nil {
			return r, fmt.Errorf("decoding original headers: %w", err), nil
		}
	}
	r.ReceivedAt = FromUnixNano(received)
	return r, nil, nil
}

// CollectRecords reads rows of RecordReadColumns. Its errors want the
// backend's name in front.
func CollectRecords(rows Rows) ([]record.Record, error) {
	var recs []record.Record
	for rows.Next() {
		r, decodeErr, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("reading record: %w", err)
		}
		if decodeErr != nil {
			return nil, decodeErr
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing records: %w", err)
	}
	return recs, nil
}

// ScanMessage reads one row of MessageColumns, followed by the columns
// extra points to.
func ScanMessage(row Scanner, extra ...any) (store.Message, error) {
	var m store.Message
	var received int64
	var rcpt string
	var truncated int64
	dest := append([]any{&m.ID, &received, &m.Source, &m.RemoteAddr, &m.Helo, &m.MailFrom,
		&rcpt, &m.ParseError, &m.Format, &truncated, &m.AuthResults}, extra...)
	if err := row.Scan(dest...); err != nil {
		return m, err
	}
	m.ReceivedAt = FromUnixNano(received)
	m.TruncatedRecipients = int(truncated)
	if err := json.Unmarshal([]byte(rcpt), &m.RcptTo); err != nil {
		return m, fmt.Errorf("decoding recipients of message %d: %w", m.ID, err)
	}
	if len(m.RcptTo) == 0 {
		m.RcptTo = nil
	}
	return m, nil
}

// CollectMessages reads rows of MessageColumns. Its errors want the
// backend's name in front.
func CollectMessages(rows Rows) ([]store.Message, error) {
	var ms []store.Message
	for rows.Next() {
		m, err := ScanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("reading message: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing messages: %w", err)
	}
	return ms, nil
}

// ScanAddress reads one row of AddressColumns into a state, all but the
// lists of record keys, which the backends store differently: the
// evidence and the low-confidence marks are scanned into evidence and
// lowConfidence for the caller to decode.
func ScanAddress(row Scanner, evidence, lowConfidence any) (suppress.State, error) {
	// One variable for every destination: scanning is on the path of each
	// Save, and they escape together in one allocation.
	var v struct {
		st                           suppress.State
		window, last, since, expires int64
	}
	err := row.Scan(&v.st.Address, &v.st.SoftCount, &v.window, &v.last, &v.st.Suppressed, &v.st.Cause,
		&v.st.Reason, &v.since, &v.expires, evidence, lowConfidence)
	if err != nil {
		return v.st, err
	}
	v.st.WindowStart = FromUnixNano(v.window)
	v.st.LastBounce = FromUnixNano(v.last)
	v.st.Since = FromUnixNano(v.since)
	v.st.Expires = FromUnixNano(v.expires)
	return v.st, nil
}

// CollectSuppressions reads rows of AddressColumns with scan, the
// backend's ScanAddress. Its errors want the backend's name in front.
func CollectSuppressions(rows Rows, scan func(Scanner) (suppress.State, error)) ([]store.Suppression, error) {
	var sups []store.Suppression
	for rows.Next() {
		st, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("reading suppression: %w", err)
		}
		sups = append(sups, SuppressionOf(st))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing suppressions: %w", err)
	}
	return sups, nil
}

// CollectIncidents reads the rows of Queries.Incidents; an incident is
// open when its last block is after cutoff (UnixNano). Its errors want the
// backend's name in front.
func CollectIncidents(rows Rows, cutoff int64) ([]store.Incident, error) {
	var incs []store.Incident
	for rows.Next() {
		var in store.Incident
		var first, last, count, recipients int64
		if err := rows.Scan(&in.ID, &in.Domain, &in.Status, &in.Reason, &in.Sample, &first, &last, &count, &recipients); err != nil {
			return nil, fmt.Errorf("reading incident: %w", err)
		}
		in.Count = int(count)
		in.Recipients = int(recipients)
		in.FirstSeen = FromUnixNano(first)
		in.LastSeen = FromUnixNano(last)
		in.Open = last > cutoff
		incs = append(incs, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	return incs, nil
}

// SuppressionOf is the public view of a suppressed state.
func SuppressionOf(st suppress.State) store.Suppression {
	return store.Suppression{
		Address:  st.Address,
		Cause:    st.Cause,
		Reason:   st.Reason,
		Since:    st.Since,
		Expires:  st.Expires,
		Evidence: st.Evidence,

		LowConfidence: st.LowConfidence,
	}
}

// StateEqual reports whether storing b over a would change nothing.
func StateEqual(a, b suppress.State) bool {
	return a.Address == b.Address && a.SoftCount == b.SoftCount &&
		a.WindowStart.Equal(b.WindowStart) && a.LastBounce.Equal(b.LastBounce) &&
		a.Suppressed == b.Suppressed && a.Cause == b.Cause && a.Reason == b.Reason &&
		a.Since.Equal(b.Since) && a.Expires.Equal(b.Expires) && slices.Equal(a.Evidence, b.Evidence) &&
		slices.Equal(a.LowConfidence, b.LowConfidence)
}
