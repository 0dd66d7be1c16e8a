//go:build race

package dsn

// raceEnabled: the race detector changes what escapes to the heap, so
// allocation bounds are not checked under it.
const raceEnabled = true
