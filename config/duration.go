package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads from TOML strings such as "14d",
// "36h", "1d12h" or "90s": Go duration syntax plus whole days ("d"), since
// suppression windows and expiries are counted in days.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(FormatDuration(time.Duration(d))), nil
}

// ParseDuration parses a duration: an optional leading count of days ("14d")
// followed by an optional Go duration ("12h30m"). "0" is zero. Negative
// durations are refused: no option of ours means anything with them.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q: must not be negative", s)
	}
	var total time.Duration
	rest := s
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		days, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil || i == 0 {
			return 0, fmt.Errorf("duration %q: days must be a whole number before \"d\", as in \"14d\"", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		if total/(24*time.Hour) != time.Duration(days) {
			return 0, fmt.Errorf("duration %q: too long", s)
		}
		rest = rest[i+1:]
	}
	if rest != "" {
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want days and/or a Go duration such as \"14d\", \"36h\", \"1d12h\", \"90s\"", s)
		}
		if v < 0 {
			return 0, fmt.Errorf("duration %q: must not be negative", s)
		}
		total += v
	}
	return total, nil
}

// FormatDuration writes d the way ParseDuration reads it, with whole days
// as "d".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	day := 24 * time.Hour
	days, rest := d/day, d%day
	switch {
	case days == 0:
		return d.String()
	case rest == 0:
		return strconv.FormatInt(int64(days), 10) + "d"
	default:
		return strconv.FormatInt(int64(days), 10) + "d" + rest.String()
	}
}
