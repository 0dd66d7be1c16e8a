package smtpd

import (
	"sync"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
)

// A budget bounds the message data that all transactions in flight hold at
// once, in memory or spooled, from its first byte until the message is
// answered. It is what bounds the listener's memory: a message costs its
// size while it is received, decoded and stored, whatever the number of
// connections.
//
// A transaction that would take the budget beyond its maximum is refused
// with "452 4.3.1" (RFC 3463 section 3.4: mail system full), never with a
// 5yz, which would make the sending MTA return the bounce to its sender:
//
//   - at MAIL, when nothing is left or the SIZE the client declared
//     (RFC 1870 section 6.1 answers 452 for a size the server cannot take
//     at the moment) is more than is left;
//   - after the data, when it ran out while the message was received. The
//     rest of the message is read and discarded, and the reply comes after
//     the final dot (RFC 5321 section 4.2.5: after a 4yz the client keeps
//     the message and retries), or at the BDAT chunk it ran out in
//     (RFC 3030 section 2). The connection stays open: closing it mid-data
//     is for a server shutting down (RFC 5321 section 3.8), and a client
//     that is cut off while it writes rarely reads the reply.
//
// Memory of the data already received is not held while the rest is
// discarded: the message is released as soon as it is refused.
type budget struct {
	max   int64
	gauge prometheus.Gauge // the bytes in use

	mu   sync.Mutex
	used int64
}

// errInsufficientResources answers a transaction beyond the budget.
var errInsufficientResources = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
	Message: "Insufficient system resources, try again later"}

// reserve takes n bytes of the budget and reports whether they were left.
func (b *budget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	b.gauge.Set(float64(b.used))
	return true
}

// release gives back n reserved bytes.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.gauge.Set(float64(b.used))
	b.mu.Unlock()
}

// available returns what is left of the budget.
func (b *budget) available() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.max - b.used
}

// inUse returns the bytes reserved.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
