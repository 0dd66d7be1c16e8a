package verp

import "errors"

// Reason names why Decode refused a return path, as metrics and the API
// report it: "format", "unknown_key", "bad_tag", "expired" or
// "unknown_token". It is "" for nil and for an error that is none of
// those, a token lookup that failed, which deserves a retry (451), not a
// refusal.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrFormat), errors.Is(err, ErrTooLong):
		return "format"
	case errors.Is(err, ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, ErrBadTag):
		return "bad_tag"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrUnknownToken):
		return "unknown_token"
	}
	return ""
}
