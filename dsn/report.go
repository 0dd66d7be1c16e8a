package dsn

// Formats name the decoder that read a message.
const (
	FormatRFC3464  = "rfc3464" // multipart/report; report-type=delivery-status (RFC 3464, RFC 6522)
	FormatRFC6533  = "rfc6533" // message/global-delivery-status (UTF-8)
	FormatARF      = "arf"     // message/feedback-report (RFC 5965)
	FormatRFC3834  = "rfc3834" // auto-replies
	FormatExchange = "exchange-text"
	FormatQmail    = "qmail"
	FormatExim     = "exim"
	FormatSendmail = "sendmail"
	FormatPostfix  = "postfix"
	FormatNotes    = "notes"
	FormatText     = "text" // another plain-text bounce
)

// Report is one decoded message: what the reporting server said about each
// recipient, and what is known of the message that bounced.
type Report struct {
	// Format is the decoder that read the message, one of the Format*
	// constants; empty when the message is not a bounce, complaint or
	// auto-reply (then Recipients is empty too).
	Format string

	// Per-message fields of RFC 3464 section 2.2.
	ReportingMTA       string
	ReceivedFromMTA    string
	ArrivalDate        string
	OriginalEnvelopeID string

	// Of the report message itself.
	From    string
	Subject string
	Date    string

	// Recipients has one entry per recipient, in report order, at most
	// Limits.MaxRecipients.
	Recipients []Recipient
	// TruncatedRecipients counts the recipients the report named beyond
	// Limits.MaxRecipients: they were counted, not decoded, and have no
	// entry in Recipients.
	TruncatedRecipients int

	// Original is what is known of the message that bounced.
	Original Original

	// Feedback is set for ARF reports (RFC 5965).
	Feedback *Feedback
}

// Recipient holds the per-recipient fields of RFC 3464 section 2.3, filled
// from the human-readable part when the machine-readable one is missing or
// less specific.
type Recipient struct {
	FinalRecipient    string // address only, without the "rfc822;" type
	OriginalRecipient string // ORCPT, address only
	Action            string // lower case: failed, delayed, delivered, relayed, expanded
	Status            string // enhanced status code, e.g. "5.1.1"; empty when none
	SMTPCode          string // SMTP reply code, e.g. "550"; empty when none
	RemoteMTA         string // host name, without the "dns;" type
	DiagnosticType    string // e.g. "smtp", "x-unix"
	Diagnostic        string // the remote server's text, unfolded
	LastAttemptDate   string
	WillRetryUntil    string
	FeedbackType      string // ARF only
	// Command is the SMTP command the reply answered ("MAIL", "RCPT",
	// "DATA", "EHLO", or "CONN" for the greeting), when the report tells (a transcript, "in reply to end of
	// DATA command"); empty when unknown.
	Command string
	// StatusComment is the comment the reporting MTA wrote after the
	// Status code, e.g. "mailbox disabled, not accepting messages"
	// (RFC 3464 section 2.3.4 allows a comment); empty when none.
	StatusComment string
}

// Original describes the message that bounced.
type Original struct {
	MessageID string
	From      string
	To        string
	Subject   string
	Date      string
	// Headers keeps the headers the sender's application put on the
	// message (X-* headers and the like), canonical key to unfolded value.
	Headers map[string]string
	// Raw is the attached original as found: the body of the
	// message/rfc822 or message/global part with its transfer encoding
	// undone, or the text/rfc822-headers part (a header only); nil when
	// the report attached none. It is the evidence a DKIM signature of the
	// original is verified against. It is not a copy: it shares memory
	// with the message given to Parse, and is valid only while that is and
	// as long as nobody changes it.
	Raw []byte
}

// Feedback holds the fields of an ARF feedback report (RFC 5965 section 3.1).
type Feedback struct {
	FeedbackType     string // abuse, fraud, opt-out, virus, not-spam, other, ...
	UserAgent        string
	Version          string
	SourceIP         string
	ArrivalDate      string
	ReportingMTA     string
	OriginalMailFrom string
	OriginalRcptTo   []string
	AuthFailure      string
}
