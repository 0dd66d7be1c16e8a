package classify

// Kinds of report an Input can come from; they decide the class before any
// code is looked at.
const (
	KindFailure   = ""           // a delivery status notification (or a text NDR)
	KindFeedback  = "feedback"   // an ARF complaint
	KindAutoReply = "auto-reply" // an RFC 3834 auto-reply
)

// Input is the evidence about one recipient.
type Input struct {
	Kind         string // one of the Kind* constants
	Action       string // failed, delayed, delivered, relayed, expanded (lower case)
	Status       string // enhanced status code, e.g. "5.7.1"; may be empty
	SMTPCode     string // SMTP reply code, e.g. "550"; may be empty
	Diagnostic   string // the remote server's text
	RemoteMTA    string // remote host name, when known
	ReportingMTA string // reporting host name, when known
	Recipient    string // the recipient address (its domain hints at the provider)
	FeedbackType string // ARF feedback type

	// StatusComment is the reporting MTA's comment on the status code
	// ("mailbox disabled, not accepting messages"); may be empty.
	StatusComment string
	// DiagnosticType is the type of the Diagnostic-Code field (RFC 3464
	// section 2.3.6), e.g. "smtp" or "x-unix"; may be empty.
	DiagnosticType string
	// Command is the SMTP command the reply answered ("MAIL", "RCPT",
	// "DATA", "EHLO" for EHLO or HELO, "CONN" for the server's greeting),
	// when the report says so; may be empty (it is also read from phrases
	// such as "in reply to end of DATA command").
	Command string
}

// Result is the judgement about one recipient.
type Result struct {
	Reason      string `json:"reason"`      // a reason name of docs/design.md, e.g. "userunknown"
	Class       string `json:"class"`       // record.Class* value
	FixOwner    string `json:"fix_owner"`   // record.Owner* value
	Advice      string `json:"advice"`      // record.Advice* value
	Explanation string `json:"explanation"` // plain words, in the classifier's language
	Entry       string `json:"entry"`       // the catalog entry or rule that decided, e.g. "o365:5.7.606-649"
	// Confidence is ConfidenceHigh when the evidence is clear and agrees,
	// ConfidenceLow when it is weak or contradictory.
	Confidence string `json:"confidence"`
	// Evidence says in a few words what decided: the code, the phrase,
	// the MTA family profile, the provider rule, and what contradicted it.
	Evidence string `json:"evidence"`
}
