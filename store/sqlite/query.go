package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// where builds a conjunction of conditions with their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (w *where) timeRange(col string, since, until time.Time) {
	if !since.IsZero() {
		w.add(col+" >= ?", unixNano(since))
	}
	if !until.IsZero() {
		w.add(col+" < ?", unixNano(until))
	}
}

func limit(n int) string {
	if n > 0 {
		return fmt.Sprintf(" LIMIT %d", n)
	}
	return ""
}

// Records lists stored records, oldest first.
func (s *Store) Records(ctx context.Context, q store.Query) ([]record.Record, error) {
	var w where
	if q.Recipient != "" {
		w.add("address = ?", suppress.NormalizeAddress(q.Recipient))
	}
	if q.Domain != "" {
		w.add("recipient_domain = ?", strings.ToLower(strings.TrimSpace(q.Domain)))
	}
	if q.Reason != "" {
		w.add("reason = ?", q.Reason)
	}
	if q.Class != "" {
		w.add("class = ?", q.Class)
	}
	w.timeRange("received_at", q.Since, q.Until)
	return s.queryRecords(ctx, `SELECT `+recordColumns+` FROM records`+w.sql()+
		` ORDER BY received_at, id`+limit(q.Limit), w.args...)
}

func (s *Store) queryRecords(ctx context.Context, query string, args ...any) ([]record.Record, error) {
	rows, err := s.db.Load().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing records: %w", err)
	}
	defer rows.Close()
	var recs []record.Record
	for rows.Next() {
		var r record.Record
		var headers string
		var received int64
		err := rows.Scan(&r.Source, &r.Index, &r.Recipient, &r.OriginalRecipient, &r.Action,
			&r.Status, &r.SMTPCode, &r.Diagnostic, &r.RemoteMTA, &r.ReportingMTA, &r.Reason,
			&r.Class, &r.FixOwner, &r.Advice, &r.Explanation, &r.CatalogEntry, &r.FeedbackType,
			&r.OriginalMessageID, &r.OriginalFrom, &r.OriginalTo, &r.OriginalSubject, &headers,
			&r.Format, &received, &r.Authenticated)
		if err != nil {
			return nil, fmt.Errorf("sqlite: reading record: %w", err)
		}
		if headers != "" {
			if err := json.Unmarshal([]byte(headers), &r.OriginalHeaders); err != nil {
				return nil, fmt.Errorf("sqlite: decoding original headers: %w", err)
			}
		}
		r.ReceivedAt = fromUnixNano(received)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing records: %w", err)
	}
	return recs, nil
}

const messageColumns = `id, received_at, source, remote_addr, helo, mail_from, rcpt_to, parse_error, format`

func scanMessage(row rowScanner, extra ...any) (store.Message, error) {
	var m store.Message
	var received int64
	var rcpt string
	dest := append([]any{&m.ID, &received, &m.Source, &m.RemoteAddr, &m.Helo, &m.MailFrom,
		&rcpt, &m.ParseError, &m.Format}, extra...)
	if err := row.Scan(dest...); err != nil {
		return m, err
	}
	m.ReceivedAt = fromUnixNano(received)
	if err := json.Unmarshal([]byte(rcpt), &m.RcptTo); err != nil {
		return m, fmt.Errorf("decoding recipients of message %d: %w", m.ID, err)
	}
	if len(m.RcptTo) == 0 {
		m.RcptTo = nil
	}
	return m, nil
}

// Messages lists stored messages, oldest first, without Raw and Records.
func (s *Store) Messages(ctx context.Context, q store.MessageQuery) ([]store.Message, error) {
	var w where
	if q.Unrecognized {
		w.add("parse_error <> ''")
	}
	w.timeRange("received_at", q.Since, q.Until)
	rows, err := s.db.Load().QueryContext(ctx, `SELECT `+messageColumns+` FROM messages`+w.sql()+
		` ORDER BY received_at, id`+limit(q.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing messages: %w", err)
	}
	defer rows.Close()
	var ms []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: reading message: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing messages: %w", err)
	}
	return ms, nil
}

// Message returns one stored message with its raw bytes and records.
func (s *Store) Message(ctx context.Context, id int64) (*store.Message, error) {
	var size int64
	var raw []byte
	m, err := scanMessage(s.db.Load().QueryRowContext(ctx,
		`SELECT `+messageColumns+`, raw_size, raw FROM messages WHERE id = ?`, id), &size, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading message %d: %w", id, err)
	}
	if m.Raw, err = decompress(raw, size); err != nil {
		return nil, fmt.Errorf("sqlite: message %d: %w", id, err)
	}
	m.Records, err = s.queryRecords(ctx, `SELECT `+recordColumns+` FROM records
		WHERE message_id = ? ORDER BY idx, id`, id)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// Suppression returns the suppression of address in force at now, or nil.
func (s *Store) Suppression(ctx context.Context, address string, now time.Time) (*store.Suppression, error) {
	st, err := scanAddress(s.db.Load().QueryRowContext(ctx,
		`SELECT `+addressColumns+` FROM addresses WHERE address = ?`, suppress.NormalizeAddress(address)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading suppression of %s: %w", address, err)
	}
	if !st.InForce(now) {
		return nil, nil
	}
	sup := suppressionOf(st)
	return &sup, nil
}

// Suppressions lists the suppressions in force at now, by address.
func (s *Store) Suppressions(ctx context.Context, now time.Time) ([]store.Suppression, error) {
	rows, err := s.db.Load().QueryContext(ctx, `SELECT `+addressColumns+` FROM addresses
		WHERE suppressed AND (expires = 0 OR expires > ?) ORDER BY address`, unixNano(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing suppressions: %w", err)
	}
	defer rows.Close()
	var sups []store.Suppression
	for rows.Next() {
		st, err := scanAddress(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: reading suppression: %w", err)
		}
		sups = append(sups, suppressionOf(st))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing suppressions: %w", err)
	}
	return sups, nil
}

// AddSuppression suppresses an address by hand. It keeps the address's
// soft-bounce history.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	addr := suppress.NormalizeAddress(sup.Address)
	if addr == "" {
		return errors.New("sqlite: suppression without an address")
	}
	if sup.Cause == "" {
		sup.Cause = suppress.CauseManual
	}
	if sup.Since.IsZero() {
		sup.Since = s.now()
	}
	sup.Evidence = slices.Clone(sup.Evidence) // the writer may run after the caller gave up
	return s.submit(ctx, func(w *writer) error {
		st, err := w.loadAddress(addr)
		if err != nil {
			return err
		}
		st = suppress.Manual(st, sup.Reason, sup.Since, sup.Expires)
		st.Cause = sup.Cause
		st.Evidence = sup.Evidence
		return w.storeAddress(st)
	})
}

// RemoveSuppression lifts the suppression of address and resets its
// soft-bounce count; it reports whether there was one, in force or lapsed
// (the store's clock plays no part).
func (s *Store) RemoveSuppression(ctx context.Context, address string) (bool, error) {
	addr := suppress.NormalizeAddress(address)
	var had bool
	err := s.submit(ctx, func(w *writer) error {
		st, err := w.loadAddress(addr)
		if err != nil {
			return err
		}
		had = st.Suppressed
		next := suppress.Remove(st)
		if stateEqual(st, next) {
			return nil
		}
		return w.storeAddress(next)
	})
	return had, err
}

// Incidents lists incidents, newest first; open ones only when openOnly.
func (s *Store) Incidents(ctx context.Context, openOnly bool, now time.Time) ([]store.Incident, error) {
	quiet := s.opts.Policy.IncidentQuiet
	cutoff := unixNano(now.Add(-quiet))
	var w where
	if openOnly {
		w.add("last_seen > ?", cutoff)
	}
	rows, err := s.db.Load().QueryContext(ctx, `SELECT id, domain, status, reason, sample,
		first_seen, last_seen, count FROM incidents`+w.sql()+` ORDER BY last_seen DESC, id DESC`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing incidents: %w", err)
	}
	defer rows.Close()
	var incs []store.Incident
	for rows.Next() {
		var in store.Incident
		var first, last int64
		if err := rows.Scan(&in.ID, &in.Domain, &in.Status, &in.Reason, &in.Sample, &first, &last, &in.Count); err != nil {
			return nil, fmt.Errorf("sqlite: reading incident: %w", err)
		}
		in.FirstSeen = fromUnixNano(first)
		in.LastSeen = fromUnixNano(last)
		in.Open = last > cutoff
		incs = append(incs, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing incidents: %w", err)
	}
	return incs, nil
}
