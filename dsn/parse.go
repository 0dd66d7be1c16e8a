// Package dsn decodes bounce messages: delivery status notifications
// (RFC 3464, RFC 6522, RFC 6533), feedback reports (RFC 5965), auto-replies
// (RFC 3834) and the non-standard text bounces real MTAs send, into a Report
// with one entry per recipient.
package dsn

import "errors"

// Limits bound the work Parse does on one message. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	MaxMessageSize int // bytes
	MaxHeaderSize  int // bytes of one header section
	MaxParts       int // MIME parts in all
	MaxDepth       int // MIME nesting depth
}

// DefaultLimits are generous for real bounces and bound hostile input.
var DefaultLimits = Limits{
	MaxMessageSize: 64 << 20,
	MaxHeaderSize:  1 << 20,
	MaxParts:       1000,
	MaxDepth:       20,
}

// Errors for input beyond the limits.
var (
	ErrTooLarge     = errors.New("dsn: message exceeds the maximum size")
	ErrHeaderTooBig = errors.New("dsn: header section exceeds the maximum size")
	ErrTooManyParts = errors.New("dsn: too many MIME parts")
	ErrTooDeep      = errors.New("dsn: MIME parts nested too deeply")
)

// Parser decodes messages. The zero value uses DefaultLimits. A Parser is
// safe for concurrent use.
type Parser struct {
	Limits Limits
}

// Parse decodes one message with DefaultLimits.
func Parse(msg []byte) (*Report, error) {
	var p Parser
	return p.Parse(msg)
}

// Parse decodes one message. A message that is not a bounce, complaint or
// auto-reply yields a Report with an empty Format and no recipients, and no
// error. An error means the message could not be read at all or is beyond
// the limits.
func (p *Parser) Parse(msg []byte) (*Report, error) {
	return nil, errors.New("dsn: not implemented yet")
}
