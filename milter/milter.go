// Package milter attaches Rebound to an existing MTA (Postfix, Sendmail) as
// a mail filter speaking the milter protocol (Sendmail's libmilter protocol,
// version 2 to 6), so that bounces reach Rebound without a separate SMTP
// listener in front of the MTA.
//
// Per message: the recipients at the bounce domains are checked as the SMTP
// listener would check them at RCPT; a message to none of them passes
// untouched (the MTA is answered accept before it sends the headers and
// body); the others are reassembled as the MTA received them and stored by
// the same path as the listener's (smtpd.Server.Ingest). Only a stored
// message is let through: a store failure answers tempfail, so that the
// sending MTA keeps the message and retries.
//
// Once stored, Config.Action says what the MTA does with it: accept (the
// MTA delivers it too), discard or reject. A message that also has
// recipients outside the bounce domains is never discarded or rejected as
// a whole: the bounce recipients are removed from it (SMFIR_DELRCPT) and
// the rest is accepted.
package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	gomilter "github.com/d--j/go-milter"

	"github.com/rebound-mail/rebound/internal/drain"
	"github.com/rebound-mail/rebound/smtpd"
)

// Ingester is the part of an *smtpd.Server the milter uses: the checks of
// RCPT and the store of a message received by the MTA.
type Ingester interface {
	AcceptsDomain(domain string) bool
	CheckRecipient(to string) error
	Ingest(env smtpd.Envelope, raw []byte) error
}

var _ Ingester = (*smtpd.Server)(nil)

// Values of Config.Action.
const (
	ActionAccept  = "accept"
	ActionDiscard = "discard"
	ActionReject  = "reject"
)

// DefaultMaxMessageSize bounds a message to a bounce domain when
// Config.MaxMessageSize is zero.
const DefaultMaxMessageSize = 10 << 20

// Source is the source stored with messages received through the milter.
const Source = "milter"

// Config configures a Server.
type Config struct {
	// Action is what the MTA is told to do with a message to a bounce
	// domain once it is stored: accept, discard or reject.
	Action string
	// MaxMessageSize bounds the message (header and body) to a bounce
	// domain; a larger one is rejected with 552 5.3.4 at its end. 0:
	// DefaultMaxMessageSize.
	MaxMessageSize int64
	Log            *slog.Logger
}

// Server is a milter listener.
type Server struct {
	ing    Ingester
	action string
	max    int64
	log    *slog.Logger
	srv    *gomilter.Server

	// gate counts the messages being stored, so that Shutdown lets them
	// be answered.
	gate drain.Gate
}

// New returns a milter server storing through ing.
func New(ing Ingester, cfg Config) (*Server, error) {
	if ing == nil {
		return nil, errors.New("milter: an ingester is needed")
	}
	switch cfg.Action {
	case ActionAccept, ActionDiscard, ActionReject:
	case "":
		cfg.Action = ActionAccept
	default:
		return nil, fmt.Errorf("milter: action %q: want accept, discard or reject", cfg.Action)
	}
	if cfg.MaxMessageSize < 0 {
		return nil, fmt.Errorf("milter: negative maximum message size %d", cfg.MaxMessageSize)
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		ing:    ing,
		action: cfg.Action,
		max:    cfg.MaxMessageSize,
		log:    cfg.Log,
	}
	s.srv = gomilter.NewServer(
		gomilter.WithMilter(func() gomilter.Milter { return &filter{s: s} }),
		// Removing the bounce recipients of a message that has others.
		gomilter.WithAction(gomilter.OptRemoveRcpt),
		// No unknown commands; header values as received, with the space
		// after the colon (SMFIP_HDR_LEADSPC), so that the message is
		// stored byte for byte.
		gomilter.WithProtocol(gomilter.OptNoUnknown|gomilter.OptHeaderLeadingSpace),
		gomilter.WithMacroRequest(gomilter.StageEOM, []gomilter.MacroName{gomilter.MacroQueueId}),
		gomilter.WithNegotiationCallback(negotiate),
	)
	return s, nil
}

// negotiate takes of the actions and protocol options the milter asks for
// those the MTA offers, rather than refusing an MTA that lacks one (the
// library's default): each is used only when negotiated.
func negotiate(mtaVersion, milterVersion uint32, mtaActions, milterActions gomilter.OptAction, mtaProtocol, milterProtocol gomilter.OptProtocol, offered gomilter.DataSize) (uint32, gomilter.OptAction, gomilter.OptProtocol, gomilter.DataSize, error) {
	if mtaVersion < 2 {
		return 0, 0, 0, 0, fmt.Errorf("milter: MTA speaks protocol version %d, need 2 or later", mtaVersion)
	}
	return min(mtaVersion, milterVersion), milterActions & mtaActions, milterProtocol & mtaProtocol, offered, nil
}

// Serve accepts MTA connections on l until Shutdown. It returns nil after
// a shutdown.
func (s *Server) Serve(l net.Listener) error {
	if s.shuttingDown() {
		l.Close()
		return nil
	}
	err := s.srv.Serve(l)
	if s.shuttingDown() || errors.Is(err, gomilter.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, waits for the messages being stored
// to be answered (or ctx to end), then closes every connection: the MTA
// applies its default action for a broken milter (Postfix's
// milter_default_action) to the transactions under way.
func (s *Server) Shutdown(ctx context.Context) error {
	idle := s.gate.Close()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = fmt.Errorf("milter: shutdown: %w", ctx.Err())
	}
	if cerr := s.srv.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
		err = cerr
	}
	return err
}

// beginIngest registers a message being stored; false once shutting down.
func (s *Server) beginIngest() bool { return s.gate.Enter() }

func (s *Server) endIngest() { s.gate.Leave() }

func (s *Server) shuttingDown() bool { return s.gate.Closing() }
