package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// A saveRequest is a message prepared for the writer (see
// sqlstore.Prepared), with the slot for its result.
type saveRequest struct {
	ctx context.Context
	m   *store.Message
	sqlstore.Prepared
	weight int // sqlstore.JobWeight

	res  store.SaveResult
	err  error
	done chan struct{}
}

// batchTimeout bounds one attempt at committing a batch.
const batchTimeout = time.Minute

// maxAttempts bounds how often a batch is run again after a deadlock or a
// serialisation failure.
const maxAttempts = 5

// Save stores m durably; see store.Store. It sets m.ID.
func (s *Store) Save(ctx context.Context, m *store.Message) (store.SaveResult, error) {
	r, err := s.prepareSave(ctx, m)
	if err != nil {
		return store.SaveResult{}, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.SaveResult{}, store.ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return store.SaveResult{}, ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		// The message may still commit; a retry then finds it stored.
		return store.SaveResult{}, ctx.Err()
	}
	if r.err != nil {
		return store.SaveResult{}, r.err
	}
	m.ID = r.res.MessageID
	return r.res, nil
}

func (s *Store) prepareSave(ctx context.Context, m *store.Message) (*saveRequest, error) {
	prep, err := sqlstore.Prepare(m, s.opts.Now, sqlstore.Cleaning{Text: text, Indexed: indexed})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &saveRequest{ctx: ctx, m: m, Prepared: prep, weight: sqlstore.JobWeight(&prep), done: make(chan struct{})}, nil
}

// writers is how many batches one instance commits at a time: two of
// ordinary saves (while one waits for its commit to reach the disk,
// another is written) and one of large saves (see writeLoop). The batches
// lock what they share in the same order as other instances' do.
const writers = 3

// bulkQueue is how many large saves wait for the bulk writer before the
// other writers commit large ones themselves, alone, between their batches.
const bulkQueue = 64

func (s *Store) writeLoops() {
	bulk := make(chan *saveRequest, bulkQueue)
	var wg sync.WaitGroup
	// Each writer counts into a rollup shard of its own (see
	// queueRollups), from a place of this instance's: writers of one
	// instance never share one, those of two instances seldom.
	first := rand.IntN(rollupShards)
	for i := range writers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.writeLoop(s.reqs, bulk, (first+i)%rollupShards)
		}()
	}
	bulkDone := make(chan struct{})
	go func() {
		defer close(bulkDone)
		s.writeLoop(bulk, nil, (first+writers-1)%rollupShards)
	}()
	wg.Wait()
	close(bulk)
	<-bulkDone
	close(s.writerDone)
}

// writeLoop commits the saves queued on in until it is closed, so that
// one sender's large message does not hold up everyone's
// (sqlstore.FairBatches): the small ones in batches, the large ones each in
// a transaction of its own, handed to the bulk writer when bulk is set.
func (s *Store) writeLoop(in <-chan *saveRequest, bulk chan<- *saveRequest, shard int) {
	f := sqlstore.FairBatches[*saveRequest]{
		Weight:    func(r *saveRequest) int { return r.weight },
		Large:     sqlstore.LargeWeight,
		MaxJobs:   s.opts.BatchSize,
		MaxWeight: sqlstore.MaxBatchWeight,
		Handoff:   bulk,
	}
	f.Run(in, func(batch []*saveRequest) {
		s.commit(batch, shard)
		for _, r := range batch {
			close(r.done)
		}
	})
}

// commit stores batch in one transaction. When that fails for a reason
// other than a conflict with another instance, every message is tried
// again alone, so that one bad message does not fail the others.
func (s *Store) commit(batch []*saveRequest, shard int) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := s.commitRetrying(live, shard)
	if err == nil {
		return
	}
	var pe *pgconn.PgError
	if len(live) == 1 || !errors.As(err, &pe) {
		// Not a statement the server refused (the connection failed, or
		// the server is going away): trying each message alone would only
		// make every caller wait longer.
		for _, r := range live {
			r.err = err
		}
		return
	}
	for _, r := range live {
		r.err = s.commitRetrying([]*saveRequest{r}, shard)
	}
}

func (s *Store) commitRetrying(batch []*saveRequest, shard int) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = s.commitOnce(batch, shard)
		if err == nil || !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

// querier is what the batch writes need of a connection.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// commitOnce runs one attempt at storing batch and sets each request's
// result when it commits. Statements go in three pipelined round trips:
// BEGIN and the messages; the records with the locks and reads that
// scoring needs; the writes of the scores and COMMIT.
func (s *Store) commitOnce(batch []*saveRequest, shard int) (err error) {
	defer func() {
		// A bug in scoring one record must cost a retry, not the process.
		if x := recover(); x != nil {
			err = fmt.Errorf("postgres: internal error saving messages: %v", x)
		}
	}()
	// The writer does not stop for one caller's context: its batch
	// belongs to every caller. lock_timeout bounds the waits for other
	// instances; batchTimeout bounds a server that stopped answering.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			// A connection that cannot even roll back is not reused.
			if _, err := conn.Exec(context.Background(), "ROLLBACK"); err != nil {
				conn.Conn().Close(context.Background())
			}
		}
	}()
	results, final, err := s.saveBatch(ctx, conn, batch, shard)
	if err != nil {
		return err
	}
	final.Queue("COMMIT")
	if err := conn.SendBatch(ctx, final).Close(); err != nil {
		return fmt.Errorf("postgres: storing scores and committing: %w", err)
	}
	committed = true
	for i, r := range batch {
		r.res = results[i]
	}
	return nil
}

// saveBatch writes the messages of batch and their new records, and
// returns the pipeline of writes that scoring them takes (suppression
// states, incidents), for the caller to send with COMMIT.
func (s *Store) saveBatch(ctx context.Context, conn querier, batch []*saveRequest, shard int) ([]store.SaveResult, *pgx.Batch, error) {
	results := make([]store.SaveResult, len(batch))

	// Messages, in content-hash order: two writers inserting the same
	// messages wait for each other in the same order, not in a cycle. The
	// same content twice in one batch is stored once.
	first := map[[sha256.Size]byte]int{}
	var order []int
	for i, r := range batch {
		if _, ok := first[r.Hash]; !ok {
			first[r.Hash] = i
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool {
		return string(batch[order[a]].Hash[:]) < string(batch[order[b]].Hash[:])
	})
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	ids := queueInsertMessages(b, batch, order)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("postgres: storing messages: %w", err)
	}
	var missing [][]byte
	storedBefore := map[[sha256.Size]byte]bool{}
	for _, i := range order {
		if _, ok := ids[batch[i].Hash]; !ok {
			missing = append(missing, batch[i].Hash[:])
			storedBefore[batch[i].Hash] = true
		}
	}
	if len(missing) > 0 {
		// Stored before, by this instance or another.
		rows, _ := conn.Query(ctx, `SELECT id, content_hash FROM messages WHERE content_hash = ANY($1)`, missing)
		var id int64
		var h []byte
		_, err := pgx.ForEachRow(rows, []any{&id, &h}, func() error {
			ids[[sha256.Size]byte(h)] = id
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: looking up duplicate messages: %w", err)
		}
	}
	var recs []*sqlstore.PreparedRecord
	var recMsg []int64
	for i, r := range batch {
		id, ok := ids[r.Hash]
		if !ok {
			return nil, nil, fmt.Errorf("postgres: message %x neither stored nor found", r.Hash[:8])
		}
		dup := first[r.Hash] != i || storedBefore[r.Hash]
		results[i] = store.SaveResult{MessageID: id, Duplicate: dup}
		if dup {
			continue
		}
		for j := range r.Records {
			recs = append(recs, &r.Records[j])
			recMsg = append(recMsg, id)
		}
	}
	final := &pgx.Batch{}
	queueRelay(final, batch, results)
	if len(recs) == 0 {
		return results, final, nil
	}

	// Records of the new messages, and in the same round trip the locks
	// and reads that scoring them needs.
	b = &pgx.Batch{}
	inserted := queueInsertRecords(b, recs, recMsg)
	states := queueLockAddresses(b, recs)
	incs := s.queueFindIncidents(b, recs)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("postgres: storing records: %w", err)
	}
	var scored []*sqlstore.PreparedRecord
	var events []sqlstore.PendingEvent
	for i, pr := range recs {
		// A key stored before was scored then.
		id, ok := inserted[pr.Key]
		if !ok {
			continue
		}
		scored = append(scored, pr)
		if s.opts.Outbox {
			rec := pr.Rec
			rec.ID, rec.MessageID = id, recMsg[i]
			ev, err := sqlstore.RecordEvent(&rec)
			if err != nil {
				return nil, nil, fmt.Errorf("postgres: %w", err)
			}
			events = append(events, ev)
		}
	}
	changes, err := s.scoreAddresses(final, states, scored)
	if err != nil {
		return nil, nil, err
	}
	incEvents, err := s.countIncidents(ctx, conn, final, incs, scored)
	if err != nil {
		return nil, nil, err
	}
	evs, err := s.queueChanges(ctx, conn, final, changes)
	if err != nil {
		return nil, nil, err
	}
	if s.opts.Outbox {
		queueEvents(final, append(append(events, evs...), incEvents...))
	}
	// Last before COMMIT: the rows of the current hour are the ones
	// every batch writes, held locked the shortest.
	queueRollups(final, scored, shard)
	return results, final, nil
}

// queueRelay queues the relay items of the new messages that ask for one
// (store.Message Relay), sent with COMMIT: a stored message to forward is
// never missing from the queue.
func queueRelay(b *pgx.Batch, batch []*saveRequest, results []store.SaveResult) {
	for i, r := range batch {
		if r.m.Relay && !results[i].Duplicate {
			b.Queue(sqlstore.InsertRelay(sqlstore.Dollar), results[i].MessageID, r.ReceivedAt, r.ReceivedAt)
		}
	}
}

func queueInsertMessages(b *pgx.Batch, batch []*saveRequest, order []int) map[[sha256.Size]byte]int64 {
	n := len(order)
	var (
		hash                                   = make([][]byte, 0, n)
		received, size                         = make([]int64, 0, n), make([]int64, 0, n)
		source, remote, helo, from, rcpt, perr = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		format                                 = make([]string, 0, n)
		raw                                    = make([][]byte, 0, n)
		truncated                              = make([]int32, 0, n)
		authResults                            = make([]string, 0, n)
	)
	for _, i := range order {
		r := batch[i]
		m := r.m
		hash = append(hash, r.Hash[:])
		received = append(received, r.ReceivedAt)
		source = append(source, text(m.Source))
		remote = append(remote, text(m.RemoteAddr))
		helo = append(helo, text(m.Helo))
		from = append(from, text(m.MailFrom))
		rcpt = append(rcpt, r.RcptTo)
		perr = append(perr, text(m.ParseError))
		format = append(format, text(m.Format))
		// RawSize, not len(m.Raw): the caller may have released Raw.
		size = append(size, int64(r.RawSize))
		raw = append(raw, r.Raw)
		truncated = append(truncated, int32(m.TruncatedRecipients))
		authResults = append(authResults, r.AuthResults)
	}
	ids := make(map[[sha256.Size]byte]int64, n)
	b.Queue(`INSERT INTO messages (content_hash, received_at, source, remote_addr,
		helo, mail_from, rcpt_to, parse_error, format, raw_size, raw, truncated_recipients, auth_results)
		SELECT h, ra, so, re, he, mf, rt, pe, fo, si, rw, tr, ar FROM unnest($1::bytea[], $2::bigint[], $3::text[], $4::text[], $5::text[],
			$6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bytea[], $12::int[], $13::text[])
			WITH ORDINALITY AS u(h, ra, so, re, he, mf, rt, pe, fo, si, rw, tr, ar, n)
			ORDER BY n
		ON CONFLICT (content_hash) DO NOTHING RETURNING id, content_hash`,
		hash, received, source, remote, helo, from, rcpt, perr, format, size, raw, truncated, authResults).Query(func(rows pgx.Rows) error {
		var id int64
		var h []byte
		_, err := pgx.ForEachRow(rows, []any{&id, &h}, func() error {
			ids[[sha256.Size]byte(h)] = id
			return nil
		})
		return err
	})
	return ids
}

func queueInsertRecords(b *pgx.Batch, recs []*sqlstore.PreparedRecord, msg []int64) map[string]int64 {
	n := len(recs)
	col := func() []string { return make([]string, 0, n) }
	var (
		key, address, domain, source, recipient, origRcpt, action, status, smtp  = col(), col(), col(), col(), col(), col(), col(), col(), col()
		diag, remoteMTA, reportingMTA, reason, class, owner, advice, expl, entry = col(), col(), col(), col(), col(), col(), col(), col(), col()
		feedback, origID, origFrom, origTo, origSubject, headers, format         = col(), col(), col(), col(), col(), col(), col()
		confidence, evidence, rcptInvalid, authHow                               = col(), col(), col(), col()
		idx                                                                      = make([]int64, 0, n)
		received                                                                 = make([]int64, 0, n)
		auth                                                                     = make([]bool, 0, n)
	)
	for _, pr := range recs {
		r := &pr.Rec
		key = append(key, pr.Key)
		address = append(address, pr.Address)
		domain = append(domain, pr.Domain)
		source = append(source, text(r.Source))
		idx = append(idx, int64(r.Index))
		recipient = append(recipient, text(r.Recipient))
		origRcpt = append(origRcpt, text(r.OriginalRecipient))
		action = append(action, text(r.Action))
		status = append(status, text(r.Status))
		smtp = append(smtp, text(r.SMTPCode))
		diag = append(diag, text(r.Diagnostic))
		remoteMTA = append(remoteMTA, text(r.RemoteMTA))
		reportingMTA = append(reportingMTA, text(r.ReportingMTA))
		reason = append(reason, indexed(r.Reason))
		class = append(class, indexed(r.Class))
		owner = append(owner, text(r.FixOwner))
		advice = append(advice, text(r.Advice))
		expl = append(expl, text(r.Explanation))
		entry = append(entry, text(r.CatalogEntry))
		feedback = append(feedback, text(r.FeedbackType))
		origID = append(origID, text(r.OriginalMessageID))
		origFrom = append(origFrom, text(r.OriginalFrom))
		origTo = append(origTo, text(r.OriginalTo))
		origSubject = append(origSubject, text(r.OriginalSubject))
		headers = append(headers, pr.Headers)
		format = append(format, text(r.Format))
		received = append(received, sqlstore.UnixNano(r.ReceivedAt))
		auth = append(auth, r.Authenticated)
		confidence = append(confidence, text(r.Confidence))
		evidence = append(evidence, text(r.Evidence))
		rcptInvalid = append(rcptInvalid, text(r.RecipientInvalid))
		authHow = append(authHow, text(r.Auth))
	}
	inserted := make(map[string]int64, n)
	b.Queue(`INSERT INTO records (message_id, key, address, recipient_domain,
		source, idx, recipient, original_recipient, action, status, smtp_code, diagnostic,
		remote_mta, reporting_mta, reason, class, fix_owner, advice, explanation, catalog_entry,
		feedback_type, original_message_id, original_from, original_to, original_subject,
		original_headers, format, received_at, authenticated, confidence, evidence, recipient_invalid, auth)
		SELECT m, k, a, d, so, i, rc, orc, ac, st, sc, dg, rm, rp, re, cl, fo, ad, ex, ce, ft, omi, of, ot, os, oh, fm, ra, au, cf, ev, ri, ah
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
			$14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
			$21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[],
			$28::bigint[], $29::bool[], $30::text[], $31::text[], $32::text[], $33::text[])
			WITH ORDINALITY AS u(m, k, a, d, so, i, rc, orc, ac, st, sc, dg, rm, rp, re, cl, fo, ad, ex, ce, ft, omi, of, ot, os, oh, fm, ra, au, cf, ev, ri, ah, n)
			ORDER BY n
		ON CONFLICT (key) DO NOTHING RETURNING key, id`,
		msg, key, address, domain, source, idx, recipient, origRcpt, action, status, smtp, diag,
		remoteMTA, reportingMTA, reason, class, owner, advice, expl, entry, feedback, origID,
		origFrom, origTo, origSubject, headers, format, received, auth, confidence, evidence, rcptInvalid, authHow).Query(func(rows pgx.Rows) error {
		var k string
		var id int64
		_, err := pgx.ForEachRow(rows, []any{&k, &id}, func() error {
			inserted[k] = id
			return nil
		})
		return err
	})
	return inserted
}

// createsState reports whether a record of class can change the state of
// its address from nothing; a delivery only resets a state that exists.
func createsState(class string) bool {
	return class == record.ClassHard || class == record.ClassSoft || class == record.ClassComplaint
}

func changesState(class string) bool {
	return createsState(class) || class == record.ClassDelivered
}

// queueLockAddresses locks the suppression states of the addresses recs
// can change, creating those that bounces need, and reads them. One pass in
// address order creates the missing rows and locks the others (ON CONFLICT
// DO UPDATE locks a row even when its WHERE leaves it unchanged), so that
// every writer of every instance locks in the same order, and an instance
// scoring an address after another sees its count.
func queueLockAddresses(b *pgx.Batch, recs []*sqlstore.PreparedRecord) map[string]suppress.State {
	create := map[string]bool{}
	lock := map[string]bool{}
	for _, pr := range recs {
		if pr.Address == "" || !changesState(pr.Rec.Class) {
			continue
		}
		lock[pr.Address] = true
		if createsState(pr.Rec.Class) {
			create[pr.Address] = true
		}
	}
	states := map[string]suppress.State{}
	if len(lock) == 0 {
		return states
	}
	lockList, createList := sortedKeys(lock), sortedKeys(create)
	b.Queue(`INSERT INTO addresses (address)
		SELECT a FROM unnest($1::text[]) AS a
		WHERE a = ANY($2) OR EXISTS (SELECT 1 FROM addresses AS x WHERE x.address = a)
		ORDER BY a
		ON CONFLICT (address) DO UPDATE SET address = excluded.address WHERE false`, lockList, createList)
	b.Queue(`SELECT `+sqlstore.AddressColumns+` FROM addresses WHERE address = ANY($1)`,
		lockList).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			st, err := scanAddress(rows)
			if err != nil {
				return err
			}
			states[st.Address] = st
		}
		return rows.Err()
	})
	return states
}

// scoreAddresses applies the suppression policy to the new records, in
// arrival order, on the locked states, and queues the writes of the states
// that changed.
func (s *Store) scoreAddresses(final *pgx.Batch, states map[string]suppress.State, recs []*sqlstore.PreparedRecord) ([]stateChange, error) {
	var changes []stateChange
	before := make(map[string]suppress.State, len(states))
	for a, st := range states {
		before[a] = st
	}
	for _, pr := range recs {
		if pr.Address == "" || !changesState(pr.Rec.Class) {
			continue
		}
		prev, ok := states[pr.Address]
		if !ok {
			// A delivery to an address with no state changes nothing.
			continue
		}
		next := s.opts.Policy.Apply(prev, &pr.Rec, pr.Key, pr.Rec.ReceivedAt)
		next.Address = pr.Address
		states[pr.Address] = next
		if c, ok := sqlstore.Change(prev, next, pr.Rec.ReceivedAt, store.Actor{Who: store.ActorPolicy}, pr.Key); ok {
			changes = append(changes, stateChange{c, next})
		}
	}
	var changed []suppress.State
	for _, a := range sortedKeys(keysOf(states)) {
		if st := states[a]; !sqlstore.StateEqual(before[a], st) {
			changed = append(changed, st)
		}
	}
	return changes, queueStoreStates(final, changed)
}

func keysOf(m map[string]suppress.State) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// queueStoreStates queues the writes of states whose rows exist and are
// locked.
func queueStoreStates(b *pgx.Batch, states []suppress.State) error {
	if len(states) == 0 {
		return nil
	}
	n := len(states)
	var (
		address, cause, reason, evidence = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		low                              = make([]string, 0, n)
		soft                             = make([]int32, 0, n)
		window, last, since, expires     = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		suppressed                       = make([]bool, 0, n)
	)
	for _, st := range states {
		address = append(address, st.Address)
		soft = append(soft, int32(st.SoftCount))
		window = append(window, sqlstore.UnixNano(st.WindowStart))
		last = append(last, sqlstore.UnixNano(st.LastBounce))
		suppressed = append(suppressed, st.Suppressed)
		cause = append(cause, text(st.Cause))
		reason = append(reason, text(st.Reason))
		since = append(since, sqlstore.UnixNano(st.Since))
		expires = append(expires, sqlstore.UnixNano(st.Expires))
		// The lists of keys go as one JSON array per row: unnest cannot
		// take an array of arrays of different lengths.
		ev, err := encodeKeys(st.Evidence)
		if err != nil {
			return fmt.Errorf("postgres: encoding evidence: %w", err)
		}
		evidence = append(evidence, ev)
		lc, err := encodeKeys(st.LowConfidence)
		if err != nil {
			return fmt.Errorf("postgres: encoding low-confidence marks: %w", err)
		}
		low = append(low, lc)
	}
	b.Queue(`UPDATE addresses AS a SET soft_count = u.sc, window_start = u.ws,
		last_bounce = u.lb, suppressed = u.su, cause = u.ca, reason = u.re, since = u.si,
		expires = u.ex,
		evidence = ARRAY(SELECT json_array_elements_text(u.ev::json)),
		low_confidence = ARRAY(SELECT json_array_elements_text(u.lc::json))
		FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bool[], $6::text[],
			$7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[])
			AS u(ad, sc, ws, lb, su, ca, re, si, ex, ev, lc)
		WHERE a.address = u.ad`,
		address, soft, window, last, suppressed, cause, reason, since, expires, evidence, low)
	return nil
}

// encodeKeys is a list of record keys as one JSON array of storable text.
func encodeKeys(keys []string) (string, error) {
	clean := make([]string, len(keys))
	for i, k := range keys {
		clean[i] = text(k)
	}
	b, err := json.Marshal(clean)
	return string(b), err
}

// incident is one row of incidents as the batch sees it.
type incident struct {
	id          int64 // 0: opened by this batch
	domain      string
	code        string
	status      string
	reason      string
	sample      string
	first, last int64
	count       int
	changed     bool
	updates     int // blocks of the batch that extended it (with the outbox)
}

func (in *incident) public() store.Incident {
	return store.Incident{ID: in.id, Domain: in.domain, Status: in.status, Reason: in.reason, Sample: in.sample,
		FirstSeen: sqlstore.FromUnixNano(in.first), LastSeen: sqlstore.FromUnixNano(in.last), Count: in.count, Open: true}
}

type incidentKey struct{ domain, code string }

func blockKey(r *record.Record) (incidentKey, bool) {
	d, c, ok := suppress.IncidentKey(r)
	return incidentKey{indexed(d), indexed(c)}, ok
}

// queueFindIncidents serialises the incident keys of the block records
// across instances, by transaction advisory locks taken in a fixed order,
// and reads the incidents that the blocks may join.
func (s *Store) queueFindIncidents(b *pgx.Batch, recs []*sqlstore.PreparedRecord) map[incidentKey][]*incident {
	quiet := int64(s.opts.Policy.WithDefaults().IncidentQuiet)
	type span struct{ min, max int64 }
	spans := map[incidentKey]span{}
	for _, pr := range recs {
		k, ok := blockKey(&pr.Rec)
		if !ok {
			continue
		}
		t := sqlstore.UnixNano(pr.Rec.ReceivedAt)
		if sp, ok := spans[k]; ok {
			spans[k] = span{min(sp.min, t), max(sp.max, t)}
		} else {
			spans[k] = span{t, t}
		}
	}
	byKey := map[incidentKey][]*incident{}
	if len(spans) == 0 {
		return byKey
	}
	var locks []int64
	var domains, codes []string
	var lows, highs []int64
	for k, sp := range spans {
		locks = append(locks, lockID(k))
		domains = append(domains, k.domain)
		codes = append(codes, k.code)
		lows = append(lows, sp.min-quiet)
		highs = append(highs, sp.max+quiet)
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)
	b.Queue(`SELECT pg_advisory_xact_lock(l) FROM (SELECT l FROM unnest($1::bigint[]) AS l ORDER BY l) AS s`, locks)
	b.Queue(`SELECT i.id, i.domain, i.code, i.status, i.reason, i.sample, i.first_seen, i.last_seen, i.count
		FROM incidents AS i
		JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS k(d, c, lo, hi)
		ON i.domain = k.d AND i.code = k.c AND i.last_seen >= k.lo AND i.first_seen <= k.hi`,
		domains, codes, lows, highs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			in := &incident{}
			var count int32
			if err := rows.Scan(&in.id, &in.domain, &in.code, &in.status, &in.reason, &in.sample,
				&in.first, &in.last, &count); err != nil {
				return err
			}
			in.count = int(count)
			k := incidentKey{in.domain, in.code}
			byKey[k] = append(byKey[k], in)
		}
		return rows.Err()
	})
	return byKey
}

// countIncidents adds the new block records to the incidents of their
// destination and code, opening incidents as needed, and queues the
// writes. A block at time t joins the latest incident of its key whose
// span, widened by the quiet time, holds t.
func (s *Store) countIncidents(ctx context.Context, conn querier, final *pgx.Batch, byKey map[incidentKey][]*incident, recs []*sqlstore.PreparedRecord) ([]sqlstore.PendingEvent, error) {
	quiet := int64(s.opts.Policy.WithDefaults().IncidentQuiet)
	var opened []*incident
	var joined []incidentRecipient
	for _, pr := range recs {
		r := &pr.Rec
		k, ok := blockKey(r)
		if !ok {
			continue
		}
		t := sqlstore.UnixNano(r.ReceivedAt)
		var best *incident
		for _, in := range byKey[k] {
			if in.last >= t-quiet && in.first <= t+quiet &&
				(best == nil || in.last > best.last || (in.last == best.last && later(in, best))) {
				best = in
			}
		}
		if best == nil {
			in := &incident{domain: k.domain, code: k.code, status: text(r.Status), reason: text(r.Reason),
				sample: text(r.Diagnostic), first: t, last: t, count: 1}
			byKey[k] = append(byKey[k], in)
			opened = append(opened, in)
			joined = append(joined, incidentRecipient{in, pr.Address})
			continue
		}
		joined = append(joined, incidentRecipient{best, pr.Address})
		best.first = min(best.first, t)
		best.last = max(best.last, t)
		best.count++
		best.changed = true
		if s.opts.Outbox && best.id != 0 {
			best.updates++
		}
	}
	var events []sqlstore.PendingEvent
	if len(opened) > 0 {
		// The events and the recipients tell the incidents' ids, so the
		// new ones are numbered before they are inserted.
		rows, _ := conn.Query(ctx, `SELECT nextval(pg_get_serial_sequence('incidents', 'id')) FROM generate_series(1, $1)`, len(opened))
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("postgres: numbering incidents: %w", err)
		}
		for i, in := range opened {
			in.id = ids[i]
		}
	}

	var ids, firsts, lasts []int64
	var counts []int32
	for _, ins := range byKey {
		for _, in := range ins {
			if in.id != 0 && in.changed {
				ids = append(ids, in.id)
				firsts = append(firsts, in.first)
				lasts = append(lasts, in.last)
				counts = append(counts, int32(in.count))
			}
		}
	}
	if len(ids) > 0 {
		final.Queue(`UPDATE incidents AS i SET first_seen = u.f, last_seen = u.l, count = u.c
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[]) AS u(id, f, l, c)
			WHERE i.id = u.id`, ids, firsts, lasts, counts)
	}
	if len(opened) > 0 {
		n := len(opened)
		var (
			d, c, st, re, sa = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
			f, l             = make([]int64, 0, n), make([]int64, 0, n)
			cnt              = make([]int32, 0, n)
		)
		for _, in := range opened {
			d, c, st, re, sa = append(d, in.domain), append(c, in.code), append(st, in.status), append(re, in.reason), append(sa, in.sample)
			f, l, cnt = append(f, in.first), append(l, in.last), append(cnt, int32(in.count))
		}
		ids := make([]int64, 0, n)
		for _, in := range opened {
			ids = append(ids, in.id)
		}
		final.Queue(`INSERT INTO incidents (id, domain, code, status, reason, sample, first_seen, last_seen, count)
			SELECT i, d, c, st, re, sa, f, l, n FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
				$6::text[], $7::bigint[], $8::bigint[], $9::int[]) AS u(i, d, c, st, re, sa, f, l, n)`,
			ids, d, c, st, re, sa, f, l, cnt)
	}
	queueIncidentRecipients(final, joined)
	if !s.opts.Outbox {
		return nil, nil
	}
	// One event per incident of the batch: opened, or updated with its
	// count after the batch.
	for _, in := range opened {
		ev, err := sqlstore.IncidentEvent(in.public(), true)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		events = append(events, ev)
	}
	for _, ins := range byKey {
		for _, in := range ins {
			if in.updates > 0 {
				ev, err := sqlstore.IncidentEvent(in.public(), false)
				if err != nil {
					return nil, fmt.Errorf("postgres: %w", err)
				}
				events = append(events, ev)
			}
		}
	}
	return events, nil
}

// incidentRecipient is a block's recipient address and the incident it
// joined.
type incidentRecipient struct {
	in      *incident
	address string
}

// queueIncidentRecipients counts the recipients of the blocks among those
// of their incidents, once each; the incidents are numbered by then. The
// advisory locks of the incidents' keys keep other writers off these rows.
func queueIncidentRecipients(b *pgx.Batch, joined []incidentRecipient) {
	type pair struct {
		id      int64
		address string
	}
	seen := map[pair]bool{}
	var ids []int64
	var addrs []string
	for _, j := range joined {
		p := pair{j.in.id, j.address}
		if j.address == "" || seen[p] {
			continue
		}
		seen[p] = true
		ids = append(ids, p.id)
		addrs = append(addrs, p.address)
	}
	if len(ids) == 0 {
		return
	}
	b.Queue(`INSERT INTO incident_recipients (incident_id, address)
		SELECT i, a FROM unnest($1::bigint[], $2::text[]) AS u(i, a)
		ON CONFLICT (incident_id, address) DO NOTHING`, ids, addrs)
}

// queueRollups queues the counts of the batch's new records into the
// rollups (sqlstore.Rollups), one row each, in key order so that writers
// lock rows in the same order, in the writer's shard.
func queueRollups(b *pgx.Batch, recs []*sqlstore.PreparedRecord, shard int) {
	if len(recs) == 0 {
		return
	}
	roll := sqlstore.Rollups{}
	for _, pr := range recs {
		roll.AddRecord(pr, indexed)
	}
	for _, daily := range []bool{false, true} {
		table, unit := sqlstore.RollupTable(daily)
		var dims []int32
		var units, counts []int64
		var keys, classes []string
		for _, k := range roll.Sorted() {
			if k.Daily != daily {
				continue
			}
			dims = append(dims, int32(k.Dim))
			units = append(units, k.Unit)
			keys = append(keys, k.Key)
			classes = append(classes, k.Class)
			counts = append(counts, roll[k])
		}
		b.Queue(`INSERT INTO `+table+` (dim, `+unit+`, key, class, shard, count)
			SELECT d, u, k, c, $6, n FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::bigint[])
				WITH ORDINALITY AS r(d, u, k, c, n, o) ORDER BY o
			ON CONFLICT (dim, key, `+unit+`, class, shard) DO UPDATE SET count = `+table+`.count + excluded.count`,
			dims, units, keys, classes, counts, shard)
	}
}

// rollupShards is how many rows of the rollups one count may be spread
// over, one per writer: two writers then do not wait for each other's
// commit on the rows of the current hour. Overview's search for the top
// keys is the weaker the more shards (sqlstore.Reads Overview).
const rollupShards = 4

// later breaks a tie between incidents with the same last block: the one
// opened last wins, as in an ORDER BY id DESC.
func later(a, b *incident) bool {
	if a.id == 0 || b.id == 0 {
		return a.id == 0 && b.id != 0
	}
	return a.id > b.id
}

// lockID maps an incident key to the advisory lock that serialises it.
func lockID(k incidentKey) int64 {
	h := fnv.New64a()
	h.Write([]byte(k.domain))
	h.Write([]byte{0})
	h.Write([]byte(k.code))
	return int64(h.Sum64())
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
