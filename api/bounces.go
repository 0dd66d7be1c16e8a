package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// statusPattern is an enhanced status code (RFC 3463 section 2) or its
// class or class.subject prefix.
var statusPattern = regexp.MustCompile(`^[245](\.[0-9]{1,3}(\.[0-9]{1,3})?)?$`)

var classes = []string{record.ClassHard, record.ClassSoft, record.ClassBlock, record.ClassComplaint,
	record.ClassAutoReply, record.ClassDelivered, record.ClassUnknown}

type bouncePage struct {
	Bounces    []record.Record `json:"bounces"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (a *API) listBounces(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "recipient", "domain", "message_id", "class", "reason", "status", "confidence", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	sq := store.Query{Newest: true}
	if s, err := q.str("recipient"); err != nil {
		return err
	} else if s != "" {
		if sq.Recipient, err = address("recipient", s); err != nil {
			return err
		}
	}
	if sq.Domain, err = q.domain(); err != nil {
		return err
	}
	if sq.MessageID, err = q.str("message_id"); err != nil {
		return err
	} else if len(sq.MessageID) > maxMessageID {
		return badParam("message_id", fmt.Sprintf("message_id: at most %d bytes", maxMessageID))
	}
	if sq.Class, err = q.oneOf("class", classes...); err != nil {
		return err
	}
	if sq.Reason, err = q.reason(); err != nil {
		return err
	}
	if sq.Status, err = q.str("status"); err != nil {
		return err
	} else if sq.Status != "" && !statusPattern.MatchString(sq.Status) {
		return badParam("status", fmt.Sprintf("status %q: want an enhanced status code such as 5.1.1, or its prefix 5 or 5.1", sq.Status))
	}
	if sq.Confidence, err = q.oneOf("confidence", record.ConfidenceHigh, record.ConfidenceLow); err != nil {
		return err
	}
	if sq.Since, sq.Until, err = q.timeRange(); err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	if sq.BeforeID, err = q.idCursor("bounce"); err != nil {
		return err
	}
	// One more than asked tells whether another page follows.
	sq.Limit = limit + 1
	recs, err := a.store.Records(r.Context(), sq)
	if err != nil {
		return err
	}
	page := bouncePage{Bounces: recs}
	if len(recs) > limit {
		page.Bounces = recs[:limit]
		page.NextCursor = encodeCursor("bounce", strconv.FormatInt(recs[limit-1].ID, 10))
	}
	if page.Bounces == nil {
		page.Bounces = []record.Record{}
	}
	return writeJSON(w, http.StatusOK, page)
}

func (a *API) getBounce(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rec, err := a.store.Record(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rec)
}

// messageView is a stored message without its raw bytes (served apart,
// by getRaw).
type messageView struct {
	ID                  int64           `json:"id"`
	ReceivedAt          time.Time       `json:"received_at"`
	Source              string          `json:"source"`
	RemoteAddr          string          `json:"remote_addr,omitempty"`
	Helo                string          `json:"helo,omitempty"`
	MailFrom            string          `json:"mail_from"`
	RcptTo              []string        `json:"rcpt_to"`
	ParseError          string          `json:"parse_error,omitempty"`
	Format              string          `json:"format,omitempty"`
	AuthResults         string          `json:"auth_results,omitempty"`
	Records             []record.Record `json:"records,omitempty"`
	TruncatedRecipients int             `json:"truncated_recipients"`
	RawSize             *int            `json:"raw_size,omitempty"` // unknown in listings
}

func viewOf(m *store.Message, withRaw bool) messageView {
	v := messageView{
		ID: m.ID, ReceivedAt: m.ReceivedAt, Source: m.Source, RemoteAddr: m.RemoteAddr, Helo: m.Helo,
		MailFrom: m.MailFrom, RcptTo: m.RcptTo, ParseError: m.ParseError, Format: m.Format,
		AuthResults: m.AuthResults,
		Records:     m.Records, TruncatedRecipients: m.TruncatedRecipients,
	}
	if v.RcptTo == nil {
		v.RcptTo = []string{}
	}
	if withRaw {
		n := len(m.Raw)
		v.RawSize = &n
		if v.Records == nil {
			v.Records = []record.Record{}
		}
	}
	return v
}

type messagePage struct {
	Messages   []messageView `json:"messages"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// listMessages lists stored messages, oldest first. The store lists them
// by time then id; the cursor is the last one's (time, id), and a page
// starts at that time, leaving out what the cursor passed.
func (a *API) listMessages(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "unrecognized", "truncated", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	var mq store.MessageQuery
	if mq.Unrecognized, err = q.bool("unrecognized"); err != nil {
		return err
	}
	if mq.Truncated, err = q.bool("truncated"); err != nil {
		return err
	}
	if mq.Since, mq.Until, err = q.timeRange(); err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	var afterTime time.Time
	var afterID int64
	if pos, ok, err := q.cursor("message"); err != nil {
		return err
	} else if ok {
		ns, id, found := strings.Cut(pos, ".")
		n, err1 := strconv.ParseInt(ns, 10, 64)
		afterID, err = strconv.ParseInt(id, 10, 64)
		if !found || err1 != nil || err != nil || afterID <= 0 {
			return badParam("cursor", "cursor: not one this listing returned; pass next_cursor as it was given")
		}
		afterTime = time.Unix(0, n).UTC()
		if afterTime.After(mq.Since) {
			mq.Since = afterTime
		}
	}
	// Messages received at the cursor's instant and passed by it come
	// first: ask for enough to pass them, more while they fill the page.
	var page []store.Message
	for fetch := limit + 1; ; fetch *= 2 {
		mq.Limit = fetch
		ms, err := a.store.Messages(r.Context(), mq)
		if err != nil {
			return err
		}
		page = page[:0]
		for _, m := range ms {
			if afterID != 0 && m.ReceivedAt.Equal(afterTime) && m.ID <= afterID {
				continue
			}
			page = append(page, m)
		}
		if len(page) > limit || len(ms) < fetch {
			break
		}
	}
	out := messagePage{Messages: []messageView{}}
	for i := range page {
		if i == limit {
			last := page[limit-1]
			out.NextCursor = encodeCursor("message", fmt.Sprintf("%d.%d", last.ReceivedAt.UnixNano(), last.ID))
			break
		}
		out.Messages = append(out.Messages, viewOf(&page[i], false))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := a.store.Message(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewOf(m, true))
}

// getRaw serves the message as received (RFC 5322 bytes, message/rfc822
// per RFC 2046 section 5.2.1), as an attachment so that a browser does
// not render it.
func (a *API) getRaw(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := a.store.Message(r.Context(), id)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Length", strconv.Itoa(len(m.Raw)))
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="message-%d.eml"`, m.ID))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(m.Raw)
	}
	return nil
}
