package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// pending is a message prepared for the writer (see sqlstore.Prepared).
type pending struct {
	// env is a copy of the envelope, without Raw and Records: a caller
	// that gave up (ctx) may reuse its message while the writer runs.
	env store.Message
	sqlstore.Prepared
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
	err = s.submitWeighted(ctx, sqlstore.JobWeight(&p.Prepared), func(w *writer) error {
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
	prep, err := sqlstore.Prepare(m, s.opts.Now, sqlstore.Cleaning{})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	env := *m
	env.Raw, env.Records, env.RcptTo = nil, nil, nil
	return &pending{env: env, Prepared: prep}, nil
}

// save runs in the writer, inside the message's savepoint.
func (w *writer) save(p *pending) (store.SaveResult, error) {
	ctx := context.Background()
	st := w.stmts
	m := &p.env
	res, err := st.insertMessage.ExecContext(ctx, p.Hash[:], p.ReceivedAt, m.Source, m.RemoteAddr,
		m.Helo, m.MailFrom, p.RcptTo, m.ParseError, m.Format, p.RawSize, p.Raw, m.TruncatedRecipients, p.AuthResults)
	if err != nil {
		return store.SaveResult{}, fmt.Errorf("sqlite: storing message: %w", err)
	}
	var id int64
	if n, err := res.RowsAffected(); err != nil {
		return store.SaveResult{}, fmt.Errorf("sqlite: storing message: %w", err)
	} else if n == 0 {
		// Same content stored before: report it, store nothing more.
		if err := st.messageByHash.QueryRowContext(ctx, p.Hash[:]).Scan(&id); err != nil {
			return store.SaveResult{}, fmt.Errorf("sqlite: looking up duplicate message: %w", err)
		}
		return store.SaveResult{MessageID: id, Duplicate: true}, nil
	}
	if id, err = res.LastInsertId(); err != nil {
		return store.SaveResult{}, fmt.Errorf("sqlite: storing message: %w", err)
	}
	if m.Relay {
		// Due at once; in the message's transaction, so that a stored
		// message to forward is never missing from the queue.
		if _, err := w.exec(sqlstore.InsertRelay(queries.Placeholders), id, p.ReceivedAt, p.ReceivedAt); err != nil {
			return store.SaveResult{}, fmt.Errorf("sqlite: queueing message for the relay: %w", err)
		}
	}
	for i := range p.Records {
		pr := &p.Records[i]
		r := &pr.Rec
		res, err := st.insertRecord.ExecContext(ctx, id, pr.Key, pr.Address, pr.Domain,
			r.Source, r.Index, r.Recipient, r.OriginalRecipient, r.Action, r.Status, r.SMTPCode,
			r.Diagnostic, r.RemoteMTA, r.ReportingMTA, r.Reason, r.Class, r.FixOwner, r.Advice,
			r.Explanation, r.CatalogEntry, r.FeedbackType, r.OriginalMessageID, r.OriginalFrom,
			r.OriginalTo, r.OriginalSubject, pr.Headers, r.Format, sqlstore.UnixNano(r.ReceivedAt),
			r.Authenticated, r.Confidence, r.Evidence, r.RecipientInvalid, r.Auth)
		if err != nil {
			return store.SaveResult{}, fmt.Errorf("sqlite: storing record %d: %w", r.Index, err)
		}
		if w.s.opts.Outbox {
			rec := *r
			if rec.ID, err = res.LastInsertId(); err != nil {
				return store.SaveResult{}, fmt.Errorf("sqlite: storing record %d: %w", r.Index, err)
			}
			rec.MessageID = id
			ev, err := sqlstore.RecordEvent(&rec)
			if err != nil {
				return store.SaveResult{}, fmt.Errorf("sqlite: %w", err)
			}
			if err := w.emit(ev); err != nil {
				return store.SaveResult{}, err
			}
		}
		if w.job != nil {
			w.job.AddRecord(pr, nil)
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
func (w *writer) score(pr *sqlstore.PreparedRecord) error {
	r := &pr.Rec
	if pr.Address != "" {
		prev, err := w.loadAddress(pr.Address)
		if err != nil {
			return err
		}
		next := w.s.opts.Policy.Apply(prev, r, pr.Key, r.ReceivedAt)
		next.Address = pr.Address
		if !sqlstore.StateEqual(prev, next) {
			if err := w.storeAddress(next); err != nil {
				return err
			}
			if err := w.logChange(prev, next, r.ReceivedAt, store.Actor{Who: store.ActorPolicy}, pr.Key); err != nil {
				return err
			}
		}
	}
	if domain, code, ok := suppress.IncidentKey(r); ok {
		return w.countIncident(r, pr.Address, domain, code)
	}
	return nil
}

// countIncident adds a block to the open incident of its destination and
// code, or opens one.
func (w *writer) countIncident(r *record.Record, address, domain, code string) error {
	ctx := context.Background()
	st := w.stmts
	t := r.ReceivedAt
	quiet := w.s.opts.Policy.IncidentQuiet
	var id, first, last, count int64
	var status, reason, sample string
	err := st.findIncident.QueryRowContext(ctx, domain, code,
		sqlstore.UnixNano(t.Add(-quiet)), sqlstore.UnixNano(t.Add(quiet))).Scan(&id, &first, &last, &count,
		&status, &reason, &sample)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := st.insertIncident.ExecContext(ctx, domain, code, r.Status, r.Reason, r.Diagnostic,
			sqlstore.UnixNano(t), sqlstore.UnixNano(t))
		if err != nil {
			return fmt.Errorf("sqlite: opening incident: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: opening incident: %w", err)
		}
		if err := w.incidentRecipient(id, address); err != nil {
			return err
		}
		if !w.s.opts.Outbox {
			return nil
		}
		return w.emitIncident(store.Incident{ID: id, Domain: domain, Status: r.Status, Reason: r.Reason,
			Sample: r.Diagnostic, FirstSeen: t, LastSeen: t, Count: 1}, true)
	case err != nil:
		return fmt.Errorf("sqlite: finding incident: %w", err)
	}
	n := sqlstore.UnixNano(t)
	_, err = st.extendIncident.ExecContext(ctx, min(first, n), max(last, n), id)
	if err != nil {
		return fmt.Errorf("sqlite: updating incident: %w", err)
	}
	if err := w.incidentRecipient(id, address); err != nil {
		return err
	}
	if !w.s.opts.Outbox {
		return nil
	}
	return w.emitIncident(store.Incident{ID: id, Domain: domain, Status: status, Reason: reason, Sample: sample,
		FirstSeen: sqlstore.FromUnixNano(min(first, n)), LastSeen: sqlstore.FromUnixNano(max(last, n)),
		Count: int(count) + 1}, false)
}

// incidentRecipient counts address (none for "") among the recipients of
// incident id.
func (w *writer) incidentRecipient(id int64, address string) error {
	if address == "" {
		return nil
	}
	if _, err := w.stmts.incidentRecipient.ExecContext(context.Background(), id, address); err != nil {
		return fmt.Errorf("sqlite: counting the recipient of incident %d: %w", id, err)
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
	ev, err := encodeKeys(st.Evidence)
	if err != nil {
		return fmt.Errorf("sqlite: encoding evidence: %w", err)
	}
	low, err := encodeKeys(st.LowConfidence)
	if err != nil {
		return fmt.Errorf("sqlite: encoding low-confidence marks: %w", err)
	}
	_, err = w.stmts.storeAddress.ExecContext(context.Background(), st.Address, st.SoftCount,
		sqlstore.UnixNano(st.WindowStart), sqlstore.UnixNano(st.LastBounce), st.Suppressed, st.Cause, st.Reason,
		sqlstore.UnixNano(st.Since), sqlstore.UnixNano(st.Expires), ev, low)
	if err != nil {
		return fmt.Errorf("sqlite: storing state of %s: %w", st.Address, err)
	}
	return nil
}

// encodeKeys is a list of record keys as stored: a JSON array, [] for none.
func encodeKeys(keys []string) (string, error) {
	if len(keys) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(keys)
	return string(b), err
}

// decodeKeys reads what encodeKeys stored; none is nil.
func decodeKeys(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var keys []string
	err := json.Unmarshal([]byte(s), &keys)
	return keys, err
}

// scanAddress reads a row of sqlstore.AddressColumns, whose lists of
// record keys are JSON arrays.
func scanAddress(row sqlstore.Scanner) (suppress.State, error) {
	var evidence, low string
	st, err := sqlstore.ScanAddress(row, &evidence, &low)
	if err != nil {
		return st, err
	}
	if st.Evidence, err = decodeKeys(evidence); err != nil {
		return st, fmt.Errorf("decoding evidence of %s: %w", st.Address, err)
	}
	if st.LowConfidence, err = decodeKeys(low); err != nil {
		return st, fmt.Errorf("decoding low-confidence marks of %s: %w", st.Address, err)
	}
	return st, nil
}
