//go:build race

package smtpd

// raceEnabled: the race detector slows everything down several times, so
// latency bounds are not held under it.
const raceEnabled = true
