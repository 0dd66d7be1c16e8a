//go:build race

package smtpd

// raceEnabled: the race detector slows everything down several times, so
// latency bounds are widened under it.
const raceEnabled = true
