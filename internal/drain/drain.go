// Package drain lets a server's shutdown refuse new work and wait for the
// work in flight: the messages being received or stored, which must be
// answered before their connections close.
package drain

import "sync"

// Gate counts the work in flight. The zero value is open.
type Gate struct {
	mu       sync.Mutex
	closing  bool
	inFlight int
	idle     chan struct{} // closed once closing and nothing is in flight
}

// Enter registers work starting; false once the gate is closed, and the
// work must then be refused. Every true is followed by one Leave.
func (g *Gate) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.inFlight++
	return true
}

// Leave registers work done.
func (g *Gate) Leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
	if g.closing && g.inFlight == 0 {
		close(g.idleChan())
	}
}

// Close refuses new work and returns a channel closed once the work in
// flight is done. It may be called more than once.
func (g *Gate) Close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closing {
		g.closing = true
		if g.inFlight == 0 {
			close(g.idleChan())
		}
	}
	return g.idleChan()
}

// Closing reports whether Close was called.
func (g *Gate) Closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// InFlight is the count of work in flight.
func (g *Gate) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight
}

// idleChan is idle, made on first use; g.mu is held.
func (g *Gate) idleChan() chan struct{} {
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	return g.idle
}
