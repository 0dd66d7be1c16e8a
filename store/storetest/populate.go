package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// Truth is what Populate stored, counted as store.Overview counts it: every
// record by its class, and by class under each reason, recipient domain,
// provider (store.OverviewProvider) and hour of its ReceivedAt.
type Truth struct {
	Records  int
	Messages int
	ByClass  map[string]int64
	// The maps below are keyed by reason, domain, provider, and the UTC
	// start of an hour (time.Time values made with .UTC(), as
	// store.Overview's buckets are), each to its counts by class.
	ByReason   map[string]map[string]int64
	ByDomain   map[string]map[string]int64
	ByProvider map[string]map[string]int64
	ByHour     map[time.Time]map[string]int64
}

// Day is the counts by class of the UTC day that starts at day (from the
// hours of t).
func (t *Truth) Day(day time.Time) map[string]int64 {
	out := map[string]int64{}
	for h := range 24 {
		for c, n := range t.ByHour[day.Add(time.Duration(h)*time.Hour).UTC()] {
			out[c] += n
		}
	}
	return out
}

func (t *Truth) count(r *record.Record) {
	add := func(m map[string]map[string]int64, key string) {
		c := m[key]
		if c == nil {
			c = map[string]int64{}
			m[key] = c
		}
		c[r.Class]++
	}
	t.Records++
	t.ByClass[r.Class]++
	add(t.ByReason, r.Reason)
	add(t.ByDomain, recipientDomain(r.Recipient))
	add(t.ByProvider, store.OverviewProvider(r))
	h := r.ReceivedAt.UTC().Truncate(time.Hour)
	c := t.ByHour[h]
	if c == nil {
		c = map[string]int64{}
		t.ByHour[h] = c
	}
	c[r.Class]++
}

func recipientDomain(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return ""
}

// PopulateDomains is how many recipient domains Populate spreads records
// over; PopulatePerMessage is how many records each of its messages holds.
const (
	PopulateDomains    = 20000
	PopulatePerMessage = 100
)

// Populate saves n realistic records through s.Save, received over
// [since, since+span) at whole seconds, and returns what it stored. The
// data depends on n, since, span and seed only: the same arguments give
// the same records and the same Truth, whatever the backend.
//
// Records go PopulatePerMessage to a message (a digest of many DSNs, as a
// bulk sender's bounce domain receives them), each with its own time
// within an hour of the others, so that a million records take thousands
// of saves, not a million. Recipient
// domains follow a Zipf law over PopulateDomains domains, the largest
// being gmail.com, yahoo.com, outlook.com and hotmail.com; remote MTAs
// name a known provider for those and for some of the others (a company
// domain hosted by Google or Microsoft). Classes come in shares close to a
// bulk sender's (hard 35%, soft 25%, block 17%, complaint 5%, delivered
// 13%, unknown 5%), each with reasons of classify.Reasons that fit it.
// Saves run from 16 goroutines, so that the store commits them in groups.
func Populate(ctx context.Context, s store.Store, n int, since time.Time, span time.Duration, seed uint64) (Truth, error) {
	if n < 0 || span < time.Second {
		return Truth{}, fmt.Errorf("populate: %d records over %s: want n >= 0 and a span of a second or more", n, span)
	}
	g := newGenerator(since, span, seed)
	truth := Truth{
		ByClass:    map[string]int64{},
		ByReason:   map[string]map[string]int64{},
		ByDomain:   map[string]map[string]int64{},
		ByProvider: map[string]map[string]int64{},
		ByHour:     map[time.Time]map[string]int64{},
	}
	msgs := make(chan *store.Message, 16)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				res, err := s.Save(ctx, m)
				if err == nil && res.Duplicate {
					err = fmt.Errorf("populate: message %s stored before", m.Helo)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					cancel()
					return
				}
			}
		}()
	}
	left := n
feed:
	for i := 0; left > 0; i++ {
		k := min(left, PopulatePerMessage)
		left -= k
		m := g.message(i, k)
		for j := range m.Records {
			truth.count(&m.Records[j])
		}
		truth.Messages++
		select {
		case msgs <- m:
		case <-ctx.Done():
			break feed
		}
	}
	close(msgs)
	wg.Wait()
	select {
	case err := <-errs:
		return Truth{}, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return Truth{}, err
	}
	return truth, nil
}

// generator makes Populate's records from one random stream.
type generator struct {
	since   time.Time
	seconds int64
	seed    uint64
	rnd     *rand.Rand
	zipf    *rand.Zipf
	classes []weighted
	reasons map[string][]string // by class
}

type weighted struct {
	class  string
	weight int
}

// reasonClass is the class of each reason a generated record carries;
// reasons of classify.Reasons not named here go to unknown.
var reasonClass = map[string]string{
	"userunknown": record.ClassHard, "hostunknown": record.ClassHard, "hasmoved": record.ClassHard,
	"notaccept": record.ClassHard, "suspend": record.ClassHard, "syntaxerror": record.ClassHard,
	"mailboxfull": record.ClassSoft, "exceedlimit": record.ClassSoft, "expired": record.ClassSoft,
	"networkerror": record.ClassSoft, "systemerror": record.ClassSoft, "systemfull": record.ClassSoft,
	"toomanyconn": record.ClassSoft, "speeding": record.ClassSoft, "onhold": record.ClassSoft,
	"mesgtoobig": record.ClassSoft,
	"blocked":    record.ClassBlock, "badreputation": record.ClassBlock, "spamdetected": record.ClassBlock,
	"policyviolation": record.ClassBlock, "authfailure": record.ClassBlock, "requireptr": record.ClassBlock,
	"rejected": record.ClassBlock, "contenterror": record.ClassBlock, "filtered": record.ClassBlock,
	"norelaying": record.ClassBlock, "securityerror": record.ClassBlock, "failedstarttls": record.ClassBlock,
	"notcompliantrfc": record.ClassBlock, "virusdetected": record.ClassBlock,
	"feedback":  record.ClassComplaint,
	"delivered": record.ClassDelivered,
}

// statusOf is the enhanced status code of each class's records (RFC 3463).
var statusOf = map[string]string{
	record.ClassHard: "5.1.1", record.ClassSoft: "4.2.2", record.ClassBlock: "5.7.1",
	record.ClassDelivered: "2.0.0", record.ClassUnknown: "5.0.0",
}

func newGenerator(since time.Time, span time.Duration, seed uint64) *generator {
	g := &generator{
		since:   since.Truncate(time.Second),
		seconds: int64(span / time.Second),
		seed:    seed,
		rnd:     rand.New(rand.NewPCG(seed, 0x5eed)),
		classes: []weighted{{record.ClassHard, 35}, {record.ClassSoft, 25}, {record.ClassBlock, 17},
			{record.ClassComplaint, 5}, {record.ClassDelivered, 13}, {record.ClassUnknown, 5}},
		reasons: map[string][]string{},
	}
	g.zipf = rand.NewZipf(g.rnd, 1.07, 2, PopulateDomains-1)
	for _, r := range classify.Reasons() {
		c, ok := reasonClass[r]
		if !ok {
			c = record.ClassUnknown
		}
		g.reasons[c] = append(g.reasons[c], r)
	}
	return g
}

// bigDomains are the largest recipient domains, with their inbound MTA.
var bigDomains = []struct{ domain, mx string }{
	{"gmail.com", "gmail-smtp-in.l.google.com"},
	{"yahoo.com", "mta7.am0.yahoodns.net"},
	{"outlook.com", "outlook-com.olc.protection.outlook.com"},
	{"hotmail.com", "hotmail-com.olc.protection.outlook.com"},
	{"icloud.com", "mx01.mail.icloud.com"},
	{"web.de", "mx-ha03.web.de"},
	{"mail.ru", "mxs.mail.ru"},
	{"orange.fr", "smtp-in.orange.fr"},
}

// domain is the recipient domain of rank k (from 0) and its inbound MTA:
// one in ten of the others is hosted by Google, Microsoft or Proofpoint.
func (g *generator) domain(k int) (string, string) {
	if k < len(bigDomains) {
		return bigDomains[k].domain, bigDomains[k].mx
	}
	d := "d" + strconv.Itoa(k) + ".example"
	switch k % 30 {
	case 3:
		return d, "aspmx.l.google.com"
	case 7:
		return d, "d" + strconv.Itoa(k) + "-example.mail.protection.outlook.com"
	case 11:
		return d, "mx0a-00" + strconv.Itoa(k) + ".pphosted.com"
	}
	return d, "mx." + d
}

// message makes message i, with k records.
func (g *generator) message(i, k int) *store.Message {
	tag := strconv.FormatUint(g.seed, 16) + "-" + strconv.Itoa(i)
	m := &store.Message{
		ReceivedAt: g.since.Add(time.Duration(g.rnd.Int64N(g.seconds)) * time.Second),
		Source:     "smtp",
		RemoteAddr: "192.0.2.25:25",
		Helo:       "populate-" + tag,
		MailFrom:   "",
		RcptTo:     []string{"bounces@sender.example"},
		Format:     "rfc3464",
		Raw: []byte("From: MAILER-DAEMON@mx.example.net\r\nSubject: Delivery reports " + tag +
			"\r\nMessage-ID: <" + tag + "@populate.example>\r\n\r\nreports\r\n"),
		Records: make([]record.Record, k),
	}
	// The records of one message arrive within an hour of each other,
	// as a digest's do.
	base := g.at()
	for j := range m.Records {
		g.record(&m.Records[j], tag, j)
		m.Records[j].ReceivedAt = g.near(base)
	}
	return m
}

func (g *generator) record(r *record.Record, tag string, j int) {
	k := int(g.zipf.Uint64())
	domain, mx := g.domain(k)
	class := g.pick()
	reasons := g.reasons[class]
	reason := reasons[g.rnd.IntN(len(reasons))]
	// Some reports name no remote MTA: the provider then comes from the
	// recipient's domain.
	if g.rnd.IntN(5) == 0 {
		mx = ""
	}
	addr := "u" + strconv.Itoa(g.rnd.IntN(50000)) + "@" + domain
	status := statusOf[class]
	*r = record.Record{
		Source: "smtp", Index: j + 1, Recipient: addr, Action: "failed", Status: status,
		Diagnostic: "smtp; 550 " + status + " " + reason, RemoteMTA: mx, ReportingMTA: "mx.sender.example",
		Reason: reason, Class: class, FixOwner: record.OwnerSender, Advice: record.AdviceSuppress,
		OriginalMessageID: tag + "." + strconv.Itoa(j) + "@sender.example", Format: "rfc3464",
	}
	switch class {
	case record.ClassDelivered:
		r.Action, r.Diagnostic, r.Advice = "delivered", "smtp; 250 2.0.0 OK", record.AdviceIgnore
	case record.ClassSoft:
		r.Action, r.Diagnostic, r.Advice = "delayed", "smtp; 452 4.2.2 mailbox full", record.AdviceRetry
	case record.ClassComplaint:
		r.Action, r.Status, r.Diagnostic, r.FeedbackType, r.Format = "", "", "", "abuse", "arf"
	}
}

// at is a time in the span, busier in the European day than at night.
func (g *generator) at() time.Time {
	for {
		s := g.rnd.Int64N(g.seconds)
		t := g.since.Add(time.Duration(s) * time.Second)
		h := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
		if g.rnd.Float64() < 0.6+0.4*math.Sin((h-8)/24*2*math.Pi) {
			return t
		}
	}
}

// near is a time within the hour after base, in the span.
func (g *generator) near(base time.Time) time.Time {
	if g.seconds <= 3600 {
		return g.at()
	}
	t := base.Add(time.Duration(g.rnd.Int64N(3600)) * time.Second)
	if !t.Before(g.since.Add(time.Duration(g.seconds) * time.Second)) {
		t = t.Add(-time.Hour)
	}
	return t
}

func (g *generator) pick() string {
	n := g.rnd.IntN(100)
	for _, w := range g.classes {
		if n < w.weight {
			return w.class
		}
		n -= w.weight
	}
	return record.ClassUnknown
}
