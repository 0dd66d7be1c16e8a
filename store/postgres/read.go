package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// recordColumns are the columns of a record as read back, in the order
// scanRecord expects.
const recordColumns = `source, idx, recipient, original_recipient, action, status, smtp_code,
	diagnostic, remote_mta, reporting_mta, reason, class, fix_owner, advice, explanation,
	catalog_entry, feedback_type, original_message_id, original_from, original_to,
	original_subject, original_headers, format, received_at, authenticated`

const addressColumns = `address, soft_count, window_start, last_bounce, suppressed, cause, reason,
	since, expires, evidence`

const messageColumns = `id, received_at, source, remote_addr, helo, mail_from, rcpt_to, parse_error, format`

// where builds a conjunction of conditions with numbered parameters.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(w.args))))
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
		w.add("address = ?", indexed(suppress.NormalizeAddress(q.Recipient)))
	}
	if q.Domain != "" {
		w.add("recipient_domain = ?", indexed(strings.ToLower(strings.TrimSpace(q.Domain))))
	}
	if q.Reason != "" {
		w.add("reason = ?", indexed(q.Reason))
	}
	if q.Class != "" {
		w.add("class = ?", indexed(q.Class))
	}
	w.timeRange("received_at", q.Since, q.Until)
	return s.queryRecords(ctx, `SELECT `+recordColumns+` FROM records`+w.sql()+
		` ORDER BY received_at, id`+limit(q.Limit), w.args...)
}

func (s *Store) queryRecords(ctx context.Context, query string, args ...any) ([]record.Record, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing records: %w", err)
	}
	defer rows.Close()
	var recs []record.Record
	for rows.Next() {
		var r record.Record
		var headers string
		var received int64
		var idx int64
		err := rows.Scan(&r.Source, &idx, &r.Recipient, &r.OriginalRecipient, &r.Action,
			&r.Status, &r.SMTPCode, &r.Diagnostic, &r.RemoteMTA, &r.ReportingMTA, &r.Reason,
			&r.Class, &r.FixOwner, &r.Advice, &r.Explanation, &r.CatalogEntry, &r.FeedbackType,
			&r.OriginalMessageID, &r.OriginalFrom, &r.OriginalTo, &r.OriginalSubject, &headers,
			&r.Format, &received, &r.Authenticated)
		if err != nil {
			return nil, fmt.Errorf("postgres: reading record: %w", err)
		}
		r.Index = int(idx)
		if headers != "" {
			if err := json.Unmarshal([]byte(headers), &r.OriginalHeaders); err != nil {
				return nil, fmt.Errorf("postgres: decoding original headers: %w", err)
			}
		}
		r.ReceivedAt = fromUnixNano(received)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing records: %w", err)
	}
	return recs, nil
}

func scanMessage(row pgx.Row, extra ...any) (store.Message, error) {
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
		w.conds = append(w.conds, "parse_error <> ''")
	}
	w.timeRange("received_at", q.Since, q.Until)
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages`+w.sql()+
		` ORDER BY received_at, id`+limit(q.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing messages: %w", err)
	}
	defer rows.Close()
	var ms []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: reading message: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing messages: %w", err)
	}
	return ms, nil
}

// Message returns one stored message with its raw bytes and records.
func (s *Store) Message(ctx context.Context, id int64) (*store.Message, error) {
	var size int64
	var raw []byte
	m, err := scanMessage(s.pool.QueryRow(ctx,
		`SELECT `+messageColumns+`, raw_size, raw FROM messages WHERE id = $1`, id), &size, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading message %d: %w", id, err)
	}
	if m.Raw, err = decompress(raw, size); err != nil {
		return nil, fmt.Errorf("postgres: message %d: %w", id, err)
	}
	m.Records, err = s.queryRecords(ctx, `SELECT `+recordColumns+` FROM records
		WHERE message_id = $1 ORDER BY idx, id`, id)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func scanAddress(row pgx.Row) (suppress.State, error) {
	var st suppress.State
	var window, last, since, expires int64
	var soft int32
	err := row.Scan(&st.Address, &soft, &window, &last, &st.Suppressed, &st.Cause,
		&st.Reason, &since, &expires, &st.Evidence)
	if err != nil {
		return st, err
	}
	st.SoftCount = int(soft)
	st.WindowStart = fromUnixNano(window)
	st.LastBounce = fromUnixNano(last)
	st.Since = fromUnixNano(since)
	st.Expires = fromUnixNano(expires)
	if len(st.Evidence) == 0 {
		st.Evidence = nil
	}
	return st, nil
}

// suppressionOf is the public view of a suppressed state.
func suppressionOf(st suppress.State) store.Suppression {
	return store.Suppression{
		Address:  st.Address,
		Cause:    st.Cause,
		Reason:   st.Reason,
		Since:    st.Since,
		Expires:  st.Expires,
		Evidence: st.Evidence,
	}
}

// Suppression returns the suppression of address in force at now, or nil.
func (s *Store) Suppression(ctx context.Context, address string, now time.Time) (*store.Suppression, error) {
	st, err := scanAddress(s.pool.QueryRow(ctx,
		`SELECT `+addressColumns+` FROM addresses WHERE address = $1`, indexed(suppress.NormalizeAddress(address))))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading suppression of %s: %w", address, err)
	}
	if !st.InForce(now) {
		return nil, nil
	}
	sup := suppressionOf(st)
	return &sup, nil
}

// Suppressions lists the suppressions in force at now, by address.
func (s *Store) Suppressions(ctx context.Context, now time.Time) ([]store.Suppression, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+addressColumns+` FROM addresses
		WHERE suppressed AND (expires = 0 OR expires > $1) ORDER BY address`, unixNano(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing suppressions: %w", err)
	}
	defer rows.Close()
	var sups []store.Suppression
	for rows.Next() {
		st, err := scanAddress(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: reading suppression: %w", err)
		}
		sups = append(sups, suppressionOf(st))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing suppressions: %w", err)
	}
	return sups, nil
}

// changeAddress runs change on the locked state of address in a
// transaction of its own, creating the row when needed; it is run again
// after a deadlock.
func (s *Store) changeAddress(ctx context.Context, address string, change func(suppress.State) suppress.State) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO addresses (address) VALUES ($1) ON CONFLICT (address) DO NOTHING`, address); err != nil {
				return err
			}
			prev, err := scanAddress(tx.QueryRow(ctx, `SELECT `+addressColumns+` FROM addresses WHERE address = $1 FOR UPDATE`, address))
			if err != nil {
				return err
			}
			next := change(prev)
			next.Address = address
			if stateEqual(prev, next) {
				return nil
			}
			b := &pgx.Batch{}
			if err := queueStoreStates(b, []suppress.State{next}); err != nil {
				return err
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err == nil || !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("postgres: changing suppression of %s: %w", address, err)
	}
	return nil
}

// AddSuppression suppresses an address by hand. It keeps the address's
// soft-bounce history.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	addr := indexed(suppress.NormalizeAddress(sup.Address))
	if addr == "" {
		return errors.New("postgres: suppression without an address")
	}
	if sup.Cause == "" {
		sup.Cause = suppress.CauseManual
	}
	if sup.Since.IsZero() {
		sup.Since = s.now()
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.changeAddress(ctx, addr, func(st suppress.State) suppress.State {
		st = suppress.Manual(st, sup.Reason, sup.Since, sup.Expires)
		st.Cause = sup.Cause
		st.Evidence = sup.Evidence
		return st
	})
}

// RemoveSuppression lifts the suppression of address and resets its
// soft-bounce count; it reports whether there was one, in force or lapsed
// (the store's clock plays no part).
func (s *Store) RemoveSuppression(ctx context.Context, address string) (bool, error) {
	addr := indexed(suppress.NormalizeAddress(address))
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	// Without a state there is nothing to lift: do not create one.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM addresses WHERE address = $1)`, addr).Scan(&exists); err != nil {
		return false, fmt.Errorf("postgres: reading suppression of %s: %w", address, err)
	}
	if !exists {
		return false, nil
	}
	var had bool
	err := s.changeAddress(ctx, addr, func(st suppress.State) suppress.State {
		had = st.Suppressed
		return suppress.Remove(st)
	})
	return had, err
}

func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Incidents lists incidents, newest first; open ones only when openOnly.
func (s *Store) Incidents(ctx context.Context, openOnly bool, now time.Time) ([]store.Incident, error) {
	quiet := s.opts.Policy.WithDefaults().IncidentQuiet
	cutoff := unixNano(now.Add(-quiet))
	var w where
	if openOnly {
		w.add("last_seen > ?", cutoff)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, domain, status, reason, sample,
		first_seen, last_seen, count FROM incidents`+w.sql()+` ORDER BY last_seen DESC, id DESC`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing incidents: %w", err)
	}
	defer rows.Close()
	var incs []store.Incident
	for rows.Next() {
		var in store.Incident
		var first, last int64
		var count int32
		if err := rows.Scan(&in.ID, &in.Domain, &in.Status, &in.Reason, &in.Sample, &first, &last, &count); err != nil {
			return nil, fmt.Errorf("postgres: reading incident: %w", err)
		}
		in.Count = int(count)
		in.FirstSeen = fromUnixNano(first)
		in.LastSeen = fromUnixNano(last)
		in.Open = last > cutoff
		incs = append(incs, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing incidents: %w", err)
	}
	return incs, nil
}
