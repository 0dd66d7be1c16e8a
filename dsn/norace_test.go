//go:build !race

package dsn

const raceEnabled = false
