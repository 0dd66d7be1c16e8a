package smtpd

import (
	"net/netip"
	"sync"
	"time"
)

// rateLimiter is a token bucket per client network: an IPv4 address, or
// the /64 of an IPv6 one (a single host often has a whole /64). A bucket
// holds up to perMinute tokens and regains perMinute per minute, so a
// client may send a burst of perMinute and then perMinute a minute.
// Clients whose address is in exempt, and clients without an IP address
// (unix sockets), are not limited.
//
// The buckets are bounded: past maxBuckets, full buckets (idle clients)
// are dropped, and if none is full, arbitrary ones, so that a flood of
// addresses costs memory only up to the bound.
type rateLimiter struct {
	perMinute int
	exempt    []netip.Prefix
	now       func() time.Time

	mu      sync.Mutex
	buckets map[netip.Prefix]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000

// newRateLimiter returns nil, a limiter that allows everything, when
// perMinute is not positive.
func newRateLimiter(perMinute int, exempt []netip.Prefix, now func() time.Time) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &rateLimiter{perMinute: perMinute, exempt: exempt, now: now, buckets: map[netip.Prefix]*tokenBucket{}}
}

// allow takes a token for the client at ip (as remoteIP gives it) and
// reports whether there was one.
func (r *rateLimiter) allow(ip string) bool {
	if r == nil {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return true // not an IP client
	}
	addr = addr.Unmap()
	for _, p := range r.exempt {
		if p.Contains(addr) {
			return true
		}
	}
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	key, _ := addr.Prefix(bits)
	now := r.now()
	capacity := float64(r.perMinute)

	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[key]
	if b == nil {
		if len(r.buckets) >= maxBuckets {
			r.evict(now)
		}
		b = &tokenBucket{tokens: capacity, last: now}
		r.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(capacity, b.tokens+elapsed.Minutes()*capacity)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict makes room for a bucket: the full ones go first, since dropping
// them changes nothing; then any, a tenth of the bound at a time.
func (r *rateLimiter) evict(now time.Time) {
	capacity := float64(r.perMinute)
	for k, b := range r.buckets {
		if b.tokens+now.Sub(b.last).Minutes()*capacity >= capacity {
			delete(r.buckets, k)
		}
	}
	for k := range r.buckets {
		if len(r.buckets) < maxBuckets-maxBuckets/10 {
			break
		}
		delete(r.buckets, k)
	}
}
