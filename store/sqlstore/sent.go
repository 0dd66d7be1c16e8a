package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/store"
)

// SentColumns are the columns of a registration, in the order CollectSent
// expects.
const SentColumns = `message_id, recipient, campaign, tenant, sent_at`

// PreparedSent is one registration made ready for a backend's writer: its
// Message-ID and recipient as the store keys them, its text storable.
type PreparedSent struct {
	MessageID, Recipient string
	Campaign, Tenant     string
	SentAt               int64 // UnixNano
}

// PrepareSent checks and normalizes the registrations of one RegisterSent
// call: every Message-ID as store.MessageID has it, every recipient as
// store.Address has it, then both as c.Indexed keeps them. A pair given
// twice is one row, with the first SentAt and the last Campaign and Tenant
// given. The rows come sorted by Message-ID and recipient, the order in
// which a backend that locks rows takes their locks. A zero SentAt is now.
// The first bad registration is an error naming it; its errors want the
// backend's name in front.
func PrepareSent(sent []store.Sent, now time.Time, c Cleaning) ([]PreparedSent, error) {
	if len(sent) > store.MaxRegister {
		return nil, fmt.Errorf("registering %d sent messages: at most %d at once", len(sent), store.MaxRegister)
	}
	type pair struct{ id, rcpt string }
	rows := make([]PreparedSent, 0, len(sent))
	seen := make(map[pair]int, len(sent))
	for i, s := range sent {
		id := apply(c.Indexed, Storable(store.MessageID(s.MessageID)))
		if id == "" {
			return nil, fmt.Errorf("sent message %d of the batch (recipient %s): empty Message-ID",
				i+1, mailaddr.Quote(s.Recipient, 64))
		}
		addr, err := store.Address(s.Recipient)
		if err != nil {
			return nil, fmt.Errorf("sent message %d of the batch (Message-ID %s), recipient %s: %w",
				i+1, mailaddr.Quote(id, 64), mailaddr.Quote(s.Recipient, 64), err)
		}
		addr = apply(c.Indexed, addr)
		campaign, tenant := apply(c.Text, Storable(s.Campaign)), apply(c.Text, Storable(s.Tenant))
		if j, ok := seen[pair{id, addr}]; ok {
			if campaign != "" {
				rows[j].Campaign = campaign
			}
			if tenant != "" {
				rows[j].Tenant = tenant
			}
			continue
		}
		at := s.SentAt
		if at.IsZero() {
			at = now
		}
		seen[pair{id, addr}] = len(rows)
		rows = append(rows, PreparedSent{MessageID: id, Recipient: addr, Campaign: campaign, Tenant: tenant,
			SentAt: UnixNano(at)})
	}
	slices.SortFunc(rows, func(a, b PreparedSent) int {
		if c := strings.Compare(a.MessageID, b.MessageID); c != 0 {
			return c
		}
		return strings.Compare(a.Recipient, b.Recipient)
	})
	return rows, nil
}

// SentWeight is the weight (see FairBatches) of a registration of n rows:
// a row costs about what a record does.
func SentWeight(n int) int {
	return max(n, 1)
}

// PruneSentChunk bounds the rows one transaction of PruneSent deletes on
// a backend with a single writer, so that saves are not held up behind
// the deletion of a month of registrations.
const PruneSentChunk = 10000

// SentTo selects the registrations of one Message-ID (the only argument),
// by recipient: a range of the primary key, read in its order.
func (q Queries) SentTo() string {
	return `SELECT ` + SentColumns + ` FROM sent_messages WHERE message_id = ` + q.Placeholders.Param(1) +
		` ORDER BY recipient`
}

// VERPToken selects the address of one token (the only argument).
func (q Queries) VERPToken() string {
	return `SELECT address FROM verp_tokens WHERE token = ` + q.Placeholders.Param(1)
}

// CollectSent reads rows of SentColumns. Its errors want the backend's
// name in front.
func CollectSent(rows Rows) ([]store.Sent, error) {
	out := []store.Sent{}
	for rows.Next() {
		var s store.Sent
		var at int64
		if err := rows.Scan(&s.MessageID, &s.Recipient, &s.Campaign, &s.Tenant, &at); err != nil {
			return nil, fmt.Errorf("reading sent message: %w", err)
		}
		s.SentAt = FromUnixNano(at)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing sent messages: %w", err)
	}
	return out, nil
}

// SentTo returns the registrations of messageID (store.MessageID), by
// recipient; none is an empty slice.
func (r *Reads) SentTo(ctx context.Context, messageID string) ([]store.Sent, error) {
	id := r.Queries.clean(Storable(store.MessageID(messageID)))
	if id == "" {
		return []store.Sent{}, nil
	}
	return list(ctx, r, "sent messages", CollectSent, r.Queries.SentTo(), id)
}

// VERPToken returns the address behind token, "" when it is unknown.
func (r *Reads) VERPToken(ctx context.Context, token string) (string, error) {
	if !store.ValidVERPToken(token) {
		return "", nil // never stored
	}
	addrs, err := list(ctx, r, "VERP tokens", func(rows Rows) ([]string, error) {
		var out []string
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return nil, fmt.Errorf("reading VERP token: %w", err)
			}
			out = append(out, a)
		}
		return out, rows.Err()
	}, r.Queries.VERPToken(), token)
	if err != nil || len(addrs) == 0 {
		return "", err
	}
	return addrs[0], nil
}
