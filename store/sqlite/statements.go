package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/rebound-mail/rebound/store/sqlstore"
)

// statements are the writer's prepared statements, bound to its connection.
type statements struct {
	begin, commit, rollback        *sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt
	insertMessage, messageByHash   *sql.Stmt
	insertRecord                   *sql.Stmt
	loadAddress, storeAddress      *sql.Stmt
	findIncident, insertIncident   *sql.Stmt
	extendIncident                 *sql.Stmt
	insertEvent, insertChange      *sql.Stmt
	insertSent, updateSent         *sql.Stmt
	insertToken                    *sql.Stmt
	rollupHour, rollupDay          *sql.Stmt
	incidentRecipient              *sql.Stmt
	all                            []*sql.Stmt
}

func prepare(conn *sql.Conn) (*statements, error) {
	st := &statements{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		// IMMEDIATE takes the write lock at once, so a lock held by another
		// process is waited for (busy timeout) here rather than failing a
		// statement halfway through the batch.
		{&st.begin, `BEGIN IMMEDIATE`},
		{&st.commit, `COMMIT`},
		{&st.rollback, `ROLLBACK`},
		{&st.savepoint, `SAVEPOINT job`},
		{&st.release, `RELEASE job`},
		{&st.rollbackTo, `ROLLBACK TO job`},
		{&st.insertMessage, `INSERT INTO messages (content_hash, received_at, source, remote_addr,
			helo, mail_from, rcpt_to, parse_error, format, raw_size, raw, truncated_recipients, auth_results)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (content_hash) DO NOTHING`},
		{&st.messageByHash, `SELECT id FROM messages WHERE content_hash = ?`},
		{&st.insertRecord, `INSERT INTO records (message_id, key, address, recipient_domain, ` + sqlstore.RecordColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.loadAddress, `SELECT ` + sqlstore.AddressColumns + ` FROM addresses WHERE address = ?`},
		{&st.storeAddress, `INSERT INTO addresses (` + sqlstore.AddressColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (address) DO UPDATE SET soft_count = excluded.soft_count,
			window_start = excluded.window_start, last_bounce = excluded.last_bounce,
			suppressed = excluded.suppressed, cause = excluded.cause, reason = excluded.reason,
			since = excluded.since, expires = excluded.expires, evidence = excluded.evidence,
			low_confidence = excluded.low_confidence`},
		// The incident a block at time t joins: same destination and code,
		// and t within the quiet period of its span.
		{&st.insertEvent, `INSERT INTO events (type, time, payload) VALUES (?, ?, ?)`},
		{&st.insertChange, `INSERT INTO suppression_changes (address, time, action, cause, reason,
			expires, actor, note, record_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.findIncident, `SELECT id, first_seen, last_seen, count, status, reason, sample FROM incidents
			WHERE domain = ? AND code = ? AND last_seen >= ? AND first_seen <= ?
			ORDER BY last_seen DESC LIMIT 1`},
		{&st.insertIncident, `INSERT INTO incidents (domain, code, status, reason, sample,
			first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, 1)`},
		{&st.extendIncident, `UPDATE incidents SET first_seen = ?, last_seen = ?, count = count + 1
			WHERE id = ?`},
		// A pair registered before keeps its row; updateSent then takes
		// the campaign and tenant given.
		{&st.insertSent, `INSERT INTO sent_messages (` + sqlstore.SentColumns + `) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (message_id, recipient) DO NOTHING`},
		{&st.updateSent, `UPDATE sent_messages SET campaign = coalesce(nullif(?, ''), campaign),
			tenant = coalesce(nullif(?, ''), tenant) WHERE message_id = ? AND recipient = ?`},
		{&st.rollupHour, `INSERT INTO rollup_hours (dim, hour, key, class, shard, count) VALUES (?, ?, ?, ?, 0, ?)
			ON CONFLICT (dim, key, hour, class, shard) DO UPDATE SET count = count + excluded.count`},
		{&st.rollupDay, `INSERT INTO rollup_days (dim, day, key, class, shard, count) VALUES (?, ?, ?, ?, 0, ?)
			ON CONFLICT (dim, key, day, class, shard) DO UPDATE SET count = count + excluded.count`},
		{&st.incidentRecipient, `INSERT INTO incident_recipients (incident_id, address) VALUES (?, ?)
			ON CONFLICT (incident_id, address) DO NOTHING`},
		{&st.insertToken, `INSERT INTO verp_tokens (token, address, created_at) VALUES (?, ?, ?)
			ON CONFLICT (token) DO NOTHING`},
	} {
		s, err := conn.PrepareContext(context.Background(), p.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("sqlite: preparing %q: %w", p.sql, err)
		}
		*p.dst = s
		st.all = append(st.all, s)
	}
	return st, nil
}

func (st *statements) close() {
	for _, s := range st.all {
		s.Close()
	}
	st.all = nil
}
