package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// pending is a message prepared for the writer: everything that needs no
// database (hashing, compression, encoding) is done in the caller's
// goroutine so the single writer only writes.
type pending struct {
	// env is a copy of the envelope, without Raw and Records: a caller
	// that gave up (ctx) may reuse its message while the writer runs.
	env        store.Message
	rawSize    int
	hash       [sha256.Size]byte
	receivedAt int64
	rcptTo     string
	raw        []byte // compressed
	records    []pendingRecord
}

type pendingRecord struct {
	rec     record.Record
	key     string
	address string
	domain  string
	headers string
}

// Save stores m durably; see store.Store. It sets m.ID.
func (s *Store) Save(ctx context.Context, m *store.Message) (store.SaveResult, error) {
	if m == nil {
		return store.SaveResult{}, errors.New("sqlite: Save of a nil message")
	}
	p, err := s.prepareSave(m)
	if err != nil {
		return store.SaveResult{}, err
	}
	var res store.SaveResult
	err = s.submit(ctx, func(w *writer) error {
		r, err := w.save(p)
		res = r
		return err
	})
	if err != nil {
		return store.SaveResult{}, err
	}
	m.ID = res.MessageID
	return res, nil
}

func (s *Store) prepareSave(m *store.Message) (*pending, error) {
	received := m.ReceivedAt
	if received.IsZero() {
		received = s.now()
	}
	rcpt := m.RcptTo
	if rcpt == nil {
		rcpt = []string{}
	}
	rcptJSON, err := json.Marshal(rcpt)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encoding recipients: %w", err)
	}
	env := *m
	env.Raw, env.Records, env.RcptTo = nil, nil, nil
	p := &pending{
		env:        env,
		rawSize:    len(m.Raw),
		hash:       store.ContentHash(m.Raw),
		receivedAt: unixNano(received),
		rcptTo:     string(rcptJSON),
		raw:        compress(m.Raw),
	}
	if m.ParseError != "" {
		// An unrecognized message is kept for a human, never scored.
		return p, nil
	}
	p.records = make([]pendingRecord, len(m.Records))
	for i := range m.Records {
		pr := &p.records[i]
		pr.rec = m.Records[i]
		if pr.rec.ReceivedAt.IsZero() {
			pr.rec.ReceivedAt = received
		}
		pr.key = store.RecordKey(p.hash, &pr.rec)
		pr.address = suppress.NormalizeAddress(pr.rec.Recipient)
		pr.domain = suppress.RecipientDomain(pr.rec.Recipient)
		if len(pr.rec.OriginalHeaders) > 0 {
			b, err := json.Marshal(pr.rec.OriginalHeaders)
			if err != nil {
				return nil, fmt.Errorf("sqlite: encoding original headers: %w", err)
			}
			pr.headers = string(b)
		}
	}
	return p, nil
}

// save runs in the writer, inside the message's savepoint.
func (w *writer) save(p *pending) (store.SaveResult, error) {
	ctx := context.Background()
	st := w.stmts
	m := &p.env
	res, err := st.insertMessage.ExecContext(ctx, p.hash[:], p.receivedAt, m.Source, m.RemoteAddr,
		m.Helo, m.MailFrom, p.rcptTo, m.ParseError, m.Format, p.rawSize, p.raw)
	if err != nil {
		return store.SaveResult{}, fmt.Errorf("sqlite: storing message: %w", err)
	}
	var id int64
	if n, err := res.RowsAffected(); err != nil {
		return store.SaveResult{}, fmt.Errorf("sqlite: storing message: %w", err)
	} else if n == 0 {
		// Same content stored before: report it, store nothing more.
		if err := st.messageByHash.QueryRowContext(ctx, p.hash[:]).Scan(&id); err != nil {
			return store.SaveResult{}, fmt.Errorf("sqlite: looking up duplicate message: %w", err)
		}
		return store.SaveResult{MessageID: id, Duplicate: true}, nil
	}
	if id, err = res.LastInsertId(); err != nil {
		return store.SaveResult{}, fmt.Errorf("sqlite: storing message: %w", err)
	}
	for i := range p.records {
		pr := &p.records[i]
		r := &pr.rec
		_, err := st.insertRecord.ExecContext(ctx, id, pr.key, pr.address, pr.domain,
			r.Source, r.Index, r.Recipient, r.OriginalRecipient, r.Action, r.Status, r.SMTPCode,
			r.Diagnostic, r.RemoteMTA, r.ReportingMTA, r.Reason, r.Class, r.FixOwner, r.Advice,
			r.Explanation, r.CatalogEntry, r.FeedbackType, r.OriginalMessageID, r.OriginalFrom,
			r.OriginalTo, r.OriginalSubject, pr.headers, r.Format, unixNano(r.ReceivedAt),
			r.Authenticated)
		if err != nil {
			return store.SaveResult{}, fmt.Errorf("sqlite: storing record %d: %w", r.Index, err)
		}
		// The message is new (its content hash was not stored), so its
		// records are too: score each, once.
		if err := w.score(pr); err != nil {
			return store.SaveResult{}, err
		}
	}
	if w.s.fault != nil {
		if err := w.s.fault(m); err != nil {
			return store.SaveResult{}, err
		}
	}
	return store.SaveResult{MessageID: id}, nil
}

// score applies the suppression policy to one newly stored record and
// counts a block into its incident.
func (w *writer) score(pr *pendingRecord) error {
	r := &pr.rec
	if pr.address != "" {
		prev, err := w.loadAddress(pr.address)
		if err != nil {
			return err
		}
		next := w.s.opts.Policy.Apply(prev, r, pr.key, r.ReceivedAt)
		next.Address = pr.address
		if !stateEqual(prev, next) {
			if err := w.storeAddress(next); err != nil {
				return err
			}
		}
	}
	if domain, code, ok := suppress.IncidentKey(r); ok {
		return w.countIncident(r, domain, code)
	}
	return nil
}

// countIncident adds a block to the open incident of its destination and
// code, or opens one.
func (w *writer) countIncident(r *record.Record, domain, code string) error {
	ctx := context.Background()
	st := w.stmts
	t := r.ReceivedAt
	quiet := w.s.opts.Policy.IncidentQuiet
	var id, first, last int64
	err := st.findIncident.QueryRowContext(ctx, domain, code,
		unixNano(t.Add(-quiet)), unixNano(t.Add(quiet))).Scan(&id, &first, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = st.insertIncident.ExecContext(ctx, domain, code, r.Status, r.Reason, r.Diagnostic,
			unixNano(t), unixNano(t))
		if err != nil {
			return fmt.Errorf("sqlite: opening incident: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: finding incident: %w", err)
	}
	n := unixNano(t)
	_, err = st.extendIncident.ExecContext(ctx, min(first, n), max(last, n), id)
	if err != nil {
		return fmt.Errorf("sqlite: updating incident: %w", err)
	}
	return nil
}

// loadAddress returns the suppression state of address, the zero state
// (with Address set) when it has none.
func (w *writer) loadAddress(address string) (suppress.State, error) {
	st, err := scanAddress(w.stmts.loadAddress.QueryRowContext(context.Background(), address))
	if errors.Is(err, sql.ErrNoRows) {
		return suppress.State{Address: address}, nil
	}
	if err != nil {
		return suppress.State{}, fmt.Errorf("sqlite: loading state of %s: %w", address, err)
	}
	return st, nil
}

func (w *writer) storeAddress(st suppress.State) error {
	ev := "[]"
	if len(st.Evidence) > 0 {
		b, err := json.Marshal(st.Evidence)
		if err != nil {
			return fmt.Errorf("sqlite: encoding evidence: %w", err)
		}
		ev = string(b)
	}
	_, err := w.stmts.storeAddress.ExecContext(context.Background(), st.Address, st.SoftCount,
		unixNano(st.WindowStart), unixNano(st.LastBounce), st.Suppressed, st.Cause, st.Reason,
		unixNano(st.Since), unixNano(st.Expires), ev)
	if err != nil {
		return fmt.Errorf("sqlite: storing state of %s: %w", st.Address, err)
	}
	return nil
}

type rowScanner interface {
	Scan(dest ...any) error
}

func scanAddress(row rowScanner) (suppress.State, error) {
	var st suppress.State
	var window, last, since, expires int64
	var evidence string
	err := row.Scan(&st.Address, &st.SoftCount, &window, &last, &st.Suppressed, &st.Cause,
		&st.Reason, &since, &expires, &evidence)
	if err != nil {
		return st, err
	}
	st.WindowStart = fromUnixNano(window)
	st.LastBounce = fromUnixNano(last)
	st.Since = fromUnixNano(since)
	st.Expires = fromUnixNano(expires)
	if evidence != "" && evidence != "[]" {
		if err := json.Unmarshal([]byte(evidence), &st.Evidence); err != nil {
			return st, fmt.Errorf("decoding evidence of %s: %w", st.Address, err)
		}
	}
	return st, nil
}

// stateEqual reports whether storing b over a would change nothing.
func stateEqual(a, b suppress.State) bool {
	return a.Address == b.Address && a.SoftCount == b.SoftCount &&
		a.WindowStart.Equal(b.WindowStart) && a.LastBounce.Equal(b.LastBounce) &&
		a.Suppressed == b.Suppressed && a.Cause == b.Cause && a.Reason == b.Reason &&
		a.Since.Equal(b.Since) && a.Expires.Equal(b.Expires) && slices.Equal(a.Evidence, b.Evidence)
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
