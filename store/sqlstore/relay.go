package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rebound-mail/rebound/store"
)

// RelayColumns are the columns of a relay item, of relay_queue aliased q
// joined to messages aliased m, in the order ScanRelay expects.
const RelayColumns = `q.message_id, m.received_at, m.mail_from, m.rcpt_to, q.state, q.attempts,
	q.next_attempt, q.last_error, q.updated_at`

// MaxRelayError bounds the error text kept with a relay item.
const MaxRelayError = 1000

// RelayError is err as a relay item keeps it: at most MaxRelayError
// bytes, cut at a character boundary.
func RelayError(err string) string {
	if len(err) <= MaxRelayError {
		return err
	}
	i := MaxRelayError
	for i > 0 && err[i]&0xC0 == 0x80 {
		i--
	}
	return err[:i]
}

// ScanRelay reads one row of RelayColumns, followed by the columns extra
// points to.
func ScanRelay(row Scanner, extra ...any) (store.RelayItem, error) {
	var it store.RelayItem
	var received, next, updated, attempts int64
	var rcpt string
	dest := append([]any{&it.MessageID, &received, &it.MailFrom, &rcpt, &it.State, &attempts,
		&next, &it.LastError, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return it, err
	}
	it.ReceivedAt = FromUnixNano(received)
	it.Attempts = int(attempts)
	if it.State == store.RelayQueued {
		it.NextAttempt = FromUnixNano(next)
	}
	it.UpdatedAt = FromUnixNano(updated)
	if err := json.Unmarshal([]byte(rcpt), &it.RcptTo); err != nil {
		return it, fmt.Errorf("decoding recipients of message %d: %w", it.MessageID, err)
	}
	return it, nil
}

// CollectRelay reads rows of RelayColumns. Its errors want the backend's
// name in front.
func CollectRelay(rows Rows) ([]store.RelayItem, error) {
	out := []store.RelayItem{}
	for rows.Next() {
		it, err := ScanRelay(rows)
		if err != nil {
			return nil, fmt.Errorf("reading relay item: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing relay items: %w", err)
	}
	return out, nil
}

// CollectClaimed reads rows of RelayColumns followed by raw_size and raw,
// and inflates the raw bytes. Its errors want the backend's name in front.
func CollectClaimed(rows Rows) ([]store.RelayItem, error) {
	out := []store.RelayItem{}
	for rows.Next() {
		var size int64
		var raw []byte
		it, err := ScanRelay(rows, &size, &raw)
		if err != nil {
			return nil, fmt.Errorf("reading relay item: %w", err)
		}
		if it.Raw, err = Decompress(raw, size); err != nil {
			return nil, fmt.Errorf("relay item %d: %w", it.MessageID, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming relay items: %w", err)
	}
	return out, nil
}

// RelayItems selects the relay items of rq by message ID.
func (q Queries) RelayItems(rq store.RelayQuery) (string, []any, error) {
	var conds []string
	var args []any
	if rq.State != "" {
		if !slices.Contains(store.RelayStates, rq.State) {
			return "", nil, fmt.Errorf("relay items: unknown state %q (want queued, sent or failed)", rq.State)
		}
		args = append(args, rq.State)
		conds = append(conds, `q.state = `+q.Placeholders.Param(len(args)))
	}
	if rq.AfterID > 0 {
		args = append(args, rq.AfterID)
		conds = append(conds, `q.message_id > `+q.Placeholders.Param(len(args)))
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + RelayColumns + ` FROM relay_queue q JOIN messages m ON m.id = q.message_id`)
	if len(conds) > 0 {
		b.WriteString(` WHERE ` + strings.Join(conds, ` AND `))
	}
	b.WriteString(` ORDER BY q.message_id`)
	if rq.Limit > 0 {
		args = append(args, rq.Limit)
		b.WriteString(` LIMIT ` + q.Placeholders.Param(len(args)))
	}
	return b.String(), args, nil
}

// RelayItems lists the relay items of q by message ID, without Raw.
func (r *Reads) RelayItems(ctx context.Context, q store.RelayQuery) ([]store.RelayItem, error) {
	query, args, err := r.Queries.RelayItems(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	return list(ctx, r, "relay items", CollectRelay, query, args...)
}

// InsertRelay queues a newly stored message for the relay; its arguments
// are the message ID, its first due time and the time of the change (both
// UnixNano: the message's received time, so that it is due at once).
func InsertRelay(p Placeholders) string {
	return `INSERT INTO relay_queue (message_id, state, attempts, next_attempt, last_error, updated_at,
		lease_owner, lease_until) VALUES (` + p.Param(1) + `, 'queued', 0, ` + p.Param(2) + `, '', ` + p.Param(3) + `, '', 0)`
}
