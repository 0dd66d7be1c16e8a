package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
)

// instanceDSN is one delivery status notification (RFC 3464) sent to the
// listeners: a multipart/report about one recipient of one original
// message. n makes every message distinct.
func instanceDSN(n int, rcpt, action, status, diagnostic string) []byte {
	domain := rcpt[strings.LastIndexByte(rcpt, '@')+1:]
	var m strings.Builder
	fmt.Fprintf(&m, "Return-Path: <>\r\n")
	fmt.Fprintf(&m, "From: Mail Delivery System <MAILER-DAEMON@mta.sender.example>\r\n")
	fmt.Fprintf(&m, "To: bounces+m%d@bounces.example.org\r\n", n)
	fmt.Fprintf(&m, "Subject: Delivery Status Notification\r\n")
	fmt.Fprintf(&m, "Date: Thu, 26 Nov 2026 12:%02d:%02d +0000\r\n", n/60%60, n%60)
	fmt.Fprintf(&m, "Message-ID: <dsn.%d@mta.sender.example>\r\n", n)
	fmt.Fprintf(&m, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&m, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"b%d\"\r\n\r\n", n)
	fmt.Fprintf(&m, "--b%d\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", n)
	fmt.Fprintf(&m, "Delivery report for <%s>.\r\n\r\n", rcpt)
	fmt.Fprintf(&m, "--b%d\r\nContent-Type: message/delivery-status\r\n\r\n", n)
	fmt.Fprintf(&m, "Reporting-MTA: dns; mta.sender.example\r\n\r\n")
	fmt.Fprintf(&m, "Final-Recipient: rfc822; %s\r\n", rcpt)
	fmt.Fprintf(&m, "Action: %s\r\nStatus: %s\r\n", action, status)
	fmt.Fprintf(&m, "Remote-MTA: dns; mx.%s\r\n", domain)
	if diagnostic != "" {
		fmt.Fprintf(&m, "Diagnostic-Code: smtp; %s\r\n", diagnostic)
	}
	fmt.Fprintf(&m, "\r\n--b%d\r\nContent-Type: text/rfc822-headers\r\n\r\n", n)
	fmt.Fprintf(&m, "From: Newsletter <news@sender.example>\r\nTo: %s\r\n", rcpt)
	fmt.Fprintf(&m, "Subject: News %d\r\nMessage-ID: <news.%d@sender.example>\r\n\r\n", n, n)
	fmt.Fprintf(&m, "--b%d--\r\n", n)
	return []byte(m.String())
}

// instanceMail is the mail of TestSeveralInstances: what each address
// receives does not depend on the order of arrival (one reason per
// address, no delivery report after soft bounces of the same address), so
// that any interleaving must give the same final state.
type instanceMail struct {
	msgs []instanceMessage
	// Addresses expected suppressed, with their cause.
	wantSuppressed map[string]string
	// Soft bounces counted per address, as address=count.
	wantSoftCounts []string
}

type instanceMessage struct {
	raw  []byte
	both bool // sent to both instances at once
}

func buildInstanceMail() instanceMail {
	const (
		hot     = 10 // addresses bouncing softly past the threshold (5)
		perHot  = 8
		cold    = 10 // addresses under the threshold
		perCold = 4
		gone    = 16 // hard bounces, two for every other address
		blocks  = 60
		ok      = 6 // delivery reports
	)
	mail := instanceMail{wantSuppressed: map[string]string{}}
	n := 0
	add := func(rcpt, action, status, diag string) {
		n++
		mail.msgs = append(mail.msgs, instanceMessage{raw: instanceDSN(n, rcpt, action, status, diag), both: n%3 == 0})
	}
	for i := range hot {
		rcpt := fmt.Sprintf("hot%d@full.example", i)
		mail.wantSuppressed[rcpt] = "soft"
		mail.wantSoftCounts = append(mail.wantSoftCounts, fmt.Sprintf("%s=%d", rcpt, perHot))
		for range perHot {
			add(rcpt, "failed", "4.2.2", "452 4.2.2 Mailbox full")
		}
	}
	for i := range cold {
		rcpt := fmt.Sprintf("cold%d@full.example", i)
		mail.wantSoftCounts = append(mail.wantSoftCounts, fmt.Sprintf("%s=%d", rcpt, perCold))
		for range perCold {
			add(rcpt, "delayed", "4.2.2", "452 4.2.2 Mailbox full")
		}
	}
	for i := range gone {
		rcpt := fmt.Sprintf("gone%d@dest.example", i)
		mail.wantSuppressed[rcpt] = "hard"
		for range 1 + i%2 {
			add(rcpt, "failed", "5.1.1", "550 5.1.1 <"+rcpt+">: Recipient address rejected: User unknown")
		}
	}
	for i := range blocks {
		add(fmt.Sprintf("user%d@blocked.example", i%5), "failed", "5.7.1",
			"554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org")
	}
	for i := range ok {
		add(fmt.Sprintf("fine%d@dest.example", i), "delivered", "2.0.0", "250 2.0.0 Ok: queued")
	}
	// A delivery report for an address bounced hard: it does not lift a
	// hard suppression, whichever arrives first.
	add("gone0@dest.example", "delivered", "2.0.0", "250 2.0.0 Ok: queued")

	// Interleave the addresses (a fixed permutation), so that both
	// instances score the same address at the same time.
	if len(mail.msgs)%37 == 0 {
		panic("the permutation needs a count of messages prime to 37")
	}
	perm := make([]instanceMessage, len(mail.msgs))
	for i := range mail.msgs {
		perm[i] = mail.msgs[(i*37+11)%len(mail.msgs)]
	}
	mail.msgs = perm
	return mail
}

// TestSeveralInstances runs two "rebound serve" processes on different
// ports against one PostgreSQL database and delivers the same DSNs to both
// at once, and the rest split between them, over many connections. The
// records, suppressions and soft counts must be exactly those of one
// process given each message once.
func TestSeveralInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	shared := pgtest.SchemaURL(t, "inst_")
	single := pgtest.SchemaURL(t, "inst_")
	mail := buildInstanceMail()

	// Each instance gets the messages sent to both, at about the same
	// position of its list, and every other one of the rest.
	var toA, toB, unique [][]byte
	both := 0
	for i, m := range mail.msgs {
		unique = append(unique, m.raw)
		switch {
		case m.both:
			both++
			toA = append(toA, m.raw)
			toB = append(toB, m.raw)
		case i%2 == 0:
			toA = append(toA, m.raw)
		default:
			toB = append(toB, m.raw)
		}
	}
	load := func(addr string, msgs [][]byte) *loadOptions {
		return &loadOptions{addr: addr, rcpt: "bounces@bounces.example.org",
			conns: 12, count: len(msgs), duration: time.Minute, msgs: msgs}
	}

	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	a := startServerProcess(t, shared, addrA)
	b := startServerProcess(t, shared, addrB)
	var wg sync.WaitGroup
	var resA, resB *loadResult
	var errA, errB syncBuffer
	wg.Go(func() { resA = runLoadClients(context.Background(), load(addrA, toA), nil, &errA) })
	wg.Go(func() { resB = runLoadClients(context.Background(), load(addrB, toB), nil, &errB) })
	wg.Wait()
	t.Logf("instance A: %s", resA)
	t.Logf("instance B: %s", resB)
	if resA.accepted != len(toA) || resB.accepted != len(toB) {
		t.Fatalf("accepted %d of %d and %d of %d\nA: %s%s\nB: %s%s",
			resA.accepted, len(toA), resB.accepted, len(toB), errA.String(), a.logs, errB.String(), b.logs)
	}
	stopServerProcess(t, a)
	stopServerProcess(t, b)

	addrC := freeLoopbackAddr(t)
	c := startServerProcess(t, single, addrC)
	var errC syncBuffer
	resC := runLoadClients(context.Background(), load(addrC, unique), nil, &errC)
	t.Logf("single instance: %s", resC)
	if resC.accepted != len(unique) {
		t.Fatalf("accepted %d of %d: %s%s", resC.accepted, len(unique), errC.String(), c.logs)
	}
	stopServerProcess(t, c)

	// Every message stored once.
	for _, db := range []string{shared, single} {
		st, err := openStore(context.Background(), db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := st.Messages(context.Background(), store.MessageQuery{})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(unique) {
			t.Errorf("%d messages stored, want %d", len(msgs), len(unique))
		}
	}

	gotRecs, wantRecs := instanceRecords(t, shared), instanceRecords(t, single)
	if len(wantRecs) != len(unique) {
		t.Errorf("one instance stored %d records, want %d (one per message)", len(wantRecs), len(unique))
	}
	if !slices.Equal(gotRecs, wantRecs) {
		t.Errorf("records of two instances differ from one instance's: %d vs %d\n%s",
			len(gotRecs), len(wantRecs), firstDifference(gotRecs, wantRecs))
	}
	for i := 1; i < len(gotRecs); i++ {
		if gotRecs[i] == gotRecs[i-1] {
			t.Errorf("record stored twice: %s", gotRecs[i])
		}
	}

	gotSups, wantSups := instanceSuppressions(t, shared), instanceSuppressions(t, single)
	if !slices.Equal(gotSups, wantSups) {
		t.Errorf("suppressions of two instances:\n%s\nof one instance:\n%s",
			strings.Join(gotSups, "\n"), strings.Join(wantSups, "\n"))
	}
	var want []string
	for addr, cause := range mail.wantSuppressed {
		want = append(want, addr+" "+cause)
	}
	slices.Sort(want)
	var got []string
	for _, s := range wantSups {
		f := strings.Fields(s)
		got = append(got, f[0]+" "+f[1])
	}
	if !slices.Equal(got, want) {
		t.Errorf("one instance suppressed:\n%q\nwant\n%q", got, want)
	}

	gotCounts, wantCounts := instanceSoftCounts(t, shared), instanceSoftCounts(t, single)
	if !slices.Equal(gotCounts, wantCounts) {
		t.Errorf("soft counts of two instances differ from one instance's:\n%s", firstDifference(gotCounts, wantCounts))
	}
	var counted []string
	for _, c := range wantCounts {
		if !strings.HasSuffix(c, "=0") {
			counted = append(counted, c)
		}
	}
	slices.Sort(mail.wantSoftCounts)
	if !slices.Equal(counted, mail.wantSoftCounts) {
		t.Errorf("one instance counted soft bounces:\n%v\nwant\n%v", counted, mail.wantSoftCounts)
	}
	gotIncs, wantIncs := instanceIncidents(t, shared), instanceIncidents(t, single)
	if !slices.Equal(gotIncs, wantIncs) {
		t.Errorf("incidents of two instances:\n%v\nof one instance:\n%v", gotIncs, wantIncs)
	}
	t.Logf("%d messages, %d sent to both instances: %d records, %d suppressions, %d soft counts, incidents %v",
		len(unique), both, len(gotRecs), len(gotSups), len(gotCounts), gotIncs)
}

// stopServerProcess ends a server with SIGTERM, as a service manager does,
// and expects a clean exit.
func stopServerProcess(t *testing.T, p *serverProcess) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("server after SIGTERM: %v: %s", err, p.logs)
	}
}

// instanceRecords lists the records of "rebound bounces --json", without
// the receipt times (the runs were at different times) and the store's
// numbers, sorted (the order of concurrent saves is not fixed).
func instanceRecords(t *testing.T, db string) []string {
	t.Helper()
	code, out, errOut := runMain("bounces", "--json", "--limit", "0", "--db", db)
	if code != 0 {
		t.Fatalf("rebound bounces: exit %d: %s", code, errOut)
	}
	var recs []string
	for line := range strings.Lines(out) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("rebound bounces --json: %v: %q", err, line)
		}
		delete(rec, "received_at")
		delete(rec, "id")
		delete(rec, "message_id")
		norm, err := json.Marshal(rec) // maps marshal with sorted keys
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(norm))
	}
	slices.Sort(recs)
	return recs
}

// instanceSuppressions lists the suppressions in force with their cause,
// reason and evidence (sorted): what does not depend on when the mail came.
func instanceSuppressions(t *testing.T, db string) []string {
	t.Helper()
	st, err := openStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sups, err := st.Suppressions(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range sups {
		ev := slices.Clone(s.Evidence)
		slices.Sort(ev)
		out = append(out, fmt.Sprintf("%s %s %s %v", s.Address, s.Cause, s.Reason, ev))
	}
	slices.Sort(out)
	return out
}

// instanceSoftCounts lists address=soft_count of every scored address.
func instanceSoftCounts(t *testing.T, db string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT address, soft_count FROM addresses ORDER BY address`)
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var addr string
		var c int32
		err := r.Scan(&addr, &c)
		return fmt.Sprintf("%s=%d", addr, c), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// instanceIncidents lists the incidents by destination, status, reason and
// count of blocks.
func instanceIncidents(t *testing.T, db string) []string {
	t.Helper()
	st, err := openStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incs, err := st.Incidents(context.Background(), false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range incs {
		out = append(out, fmt.Sprintf("%s %s %s %d", in.Domain, in.Status, in.Reason, in.Count))
	}
	slices.Sort(out)
	return out
}

// firstDifference shows the first line where two sorted lists differ.
func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got  %s\nwant %s", got[i], want[i])
		}
	}
	return "one list is a prefix of the other"
}
