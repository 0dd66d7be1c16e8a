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
}

// Result is the judgement about one recipient.
type Result struct {
	Reason      string // a reason name of docs/design.md, e.g. "userunknown"
	Class       string // record.Class* value
	FixOwner    string // record.Owner* value
	Advice      string // record.Advice* value
	Explanation string // plain words, in the classifier's language
	Entry       string // the catalog entry or rule that decided, e.g. "o365:5.7.606-649"
}
