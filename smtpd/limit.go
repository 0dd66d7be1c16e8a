package smtpd

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener enforces the connection limits before go-smtp sees a
// connection: beyond a limit the client gets "421 4.7.0" and is closed
// (RFC 5321 section 3.8: a server may refuse a session with 421).
type limitListener struct {
	net.Listener
	maxTotal, maxPerIP int
	rate               func() *rateLimiter // connections per minute per client; nil: none
	metrics            *Metrics
	// draining is set by Shutdown while messages in flight finish: new
	// connections are then told the service is going down rather than
	// refused by the kernel (RFC 5321 section 3.8).
	draining atomic.Bool

	mu    sync.Mutex
	total int
	perIP map[string]int
}

func newLimitListener(l net.Listener, maxTotal, maxPerIP int, rate func() *rateLimiter, m *Metrics) *limitListener {
	return &limitListener{Listener: l, maxTotal: maxTotal, maxPerIP: maxPerIP, rate: rate, metrics: m, perIP: map[string]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.draining.Load() {
			go refuse(c, replyShuttingDown)
			continue
		}
		ip := remoteIP(c)
		l.mu.Lock()
		limit := ""
		switch {
		case l.maxTotal > 0 && l.total >= l.maxTotal:
			limit = "total"
		case l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP:
			limit = "per_ip"
		case !l.rate().allow(ip):
			limit = "rate"
		default:
			l.total++
			l.perIP[ip]++
		}
		l.mu.Unlock()
		if limit != "" {
			l.metrics.connsRejected.WithLabelValues(limit).Inc()
			go refuse(c, replyTooMany)
			continue
		}
		l.metrics.connections.Inc()
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

// Greetings refusing a session, RFC 5321 section 3.8; RFC 3463 section 3.8
// (X.7.0, policy) for a limit, section 3.4 (X.3.2, system not accepting
// network messages) for a shutdown.
const (
	replyTooMany      = "421 4.7.0 Too many connections, try again later\r\n"
	replyShuttingDown = "421 4.3.2 Service shutting down, try again later\r\n"
)

// refuse answers reply and closes, without blocking the accept loop on a
// client that does not read.
func refuse(c net.Conn, reply string) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(reply))
	c.Close()
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	l.total--
	if n := l.perIP[ip] - 1; n > 0 {
		l.perIP[ip] = n
	} else {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
	l.metrics.connections.Dec()
}

func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr()
	if addr == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return host
	}
	return addr.String() // unix sockets: all clients count as one
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	ip   string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
