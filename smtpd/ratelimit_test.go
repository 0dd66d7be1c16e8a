package smtpd

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r := newRateLimiter(3, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, clock)

	for i := range 3 {
		if !r.allow("192.0.2.1") {
			t.Fatalf("message %d of the burst refused", i+1)
		}
	}
	if r.allow("192.0.2.1") {
		t.Errorf("fourth message in the same instant allowed")
	}
	if !r.allow("192.0.2.2") {
		t.Errorf("another address shares the bucket")
	}
	// The same IPv6 /64 is one client; another /64 is not.
	for range 3 {
		r.allow("2001:db8:1:1::1")
	}
	if r.allow("2001:db8:1:1::ffff") {
		t.Errorf("an address of the same /64 has its own bucket")
	}
	if !r.allow("2001:db8:1:2::1") {
		t.Errorf("another /64 shares the bucket")
	}
	// An IPv4-mapped IPv6 address is the IPv4 client.
	if r.allow("::ffff:192.0.2.1") {
		t.Errorf("IPv4-mapped address escapes its IPv4 bucket")
	}
	// 20 s regain one token of three per minute.
	now = now.Add(20 * time.Second)
	if !r.allow("192.0.2.1") {
		t.Errorf("no token regained after 20s")
	}
	if r.allow("192.0.2.1") {
		t.Errorf("more than one token regained after 20s")
	}
	// A long pause refills to the burst, not beyond.
	now = now.Add(time.Hour)
	for i := range 3 {
		if !r.allow("192.0.2.1") {
			t.Fatalf("message %d after a pause refused", i+1)
		}
	}
	if r.allow("192.0.2.1") {
		t.Errorf("bucket filled beyond its capacity")
	}
	for range 10 {
		if !r.allow("127.0.0.1") {
			t.Fatalf("exempt address limited")
		}
	}
	if !r.allow("") || !r.allow("/run/rebound.sock") {
		t.Errorf("client without an IP address limited")
	}
	var off *rateLimiter = newRateLimiter(0, nil, clock)
	if !off.allow("192.0.2.1") {
		t.Errorf("a zero rate limits")
	}
}

func TestRateLimiterBounded(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r := newRateLimiter(2, nil, func() time.Time { return now })
	for i := range maxBuckets + 5000 {
		r.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(r.buckets); n > maxBuckets {
		t.Errorf("%d buckets kept, bound %d", n, maxBuckets)
	}
}
