// Package record defines the bounce record: one per recipient of a report,
// as stored, listed by the API and printed by `rebound parse --json`.
//
// The field names are those of docs/design.md. The package depends on nothing
// of ours, so that every store and every consumer can share it.
package record

import "time"

// Classes answer the question a bulk sender asks: should I stop mailing this
// address?
const (
	ClassHard      = "hard"       // the address itself is permanently undeliverable
	ClassSoft      = "soft"       // a temporary condition at the recipient
	ClassBlock     = "block"      // the sender, its infrastructure or the message was refused
	ClassComplaint = "complaint"  // ARF feedback (abuse, fraud, opt-out)
	ClassAutoReply = "auto-reply" // vacation and other RFC 3834 replies
	ClassDelivered = "delivered"  // success DSNs (delivered, relayed, expanded)
	ClassUnknown   = "unknown"    // we could not tell
)

// ValidClass reports whether c is one of the Class* values.
func ValidClass(c string) bool {
	switch c {
	case ClassHard, ClassSoft, ClassBlock, ClassComplaint, ClassAutoReply, ClassDelivered, ClassUnknown:
		return true
	}
	return false
}

// Confidence values: how sure the verdict is.
const (
	ConfidenceHigh = "high" // the evidence is clear and agrees
	ConfidenceLow  = "low"  // weak or contradictory evidence
)

// Advice values: what the sender's application should do.
const (
	AdviceSuppress    = "suppress"
	AdviceRetry       = "retry"
	AdviceFixSending  = "fix-sending"
	AdviceUnsubscribe = "unsubscribe"
	AdviceIgnore      = "ignore"
)

// Fix owners: who must act.
const (
	OwnerSender         = "sender"
	OwnerSenderAdmin    = "sender-admin"
	OwnerRecipient      = "recipient"
	OwnerRecipientAdmin = "recipient-admin"
)

// Record is what Rebound concluded about one recipient of one report.
type Record struct {
	// ID and MessageID are set by a store on the records it returns: the
	// record's own identity and that of the message it came from.
	ID        int64 `json:"id,omitempty"`
	MessageID int64 `json:"message_id,omitempty"`

	Source            string `json:"source"`
	Index             int    `json:"index"`
	Recipient         string `json:"recipient"`
	OriginalRecipient string `json:"original_recipient,omitempty"`
	Action            string `json:"action"`
	Status            string `json:"status"`
	SMTPCode          string `json:"smtp_code"`
	Diagnostic        string `json:"diagnostic"`
	RemoteMTA         string `json:"remote_mta"`
	ReportingMTA      string `json:"reporting_mta"`
	// RecipientInvalid is set when the report named a recipient or an
	// original recipient that is not a mail address (package mailaddr):
	// what it named, quoted and escaped, and what is wrong with it. The
	// field it came from is then empty, and the record never suppresses.
	RecipientInvalid string `json:"recipient_invalid,omitempty"`

	Reason      string `json:"reason"`
	Class       string `json:"class"`
	FixOwner    string `json:"fix_owner"`
	Advice      string `json:"advice"`
	Explanation string `json:"explanation,omitempty"`
	// CatalogEntry names the catalog entry or rule the judgement came from.
	CatalogEntry string `json:"catalog_entry,omitempty"`

	FeedbackType      string            `json:"feedback_type,omitempty"`
	OriginalMessageID string            `json:"original_message_id"`
	OriginalFrom      string            `json:"original_from"`
	OriginalTo        string            `json:"original_to,omitempty"`
	OriginalSubject   string            `json:"original_subject"`
	OriginalHeaders   map[string]string `json:"original_headers,omitempty"`
	Format            string            `json:"format"`

	// Confidence is ConfidenceHigh or ConfidenceLow; Evidence says what
	// decided the verdict (status code, reply phrase, MTA family profile,
	// provider rule) and what spoke against it. A low-confidence hard
	// bounce does not suppress unless the policy says so.
	Confidence string `json:"confidence"`
	Evidence   string `json:"evidence,omitempty"`

	ReceivedAt time.Time `json:"received_at"`
	// Authenticated is true when the report is proven to concern mail the
	// sender sent to this recipient: Auth is AuthVERP, AuthSent or
	// AuthDKIM. Auth says how, or why not; see docs/authentication.md.
	// Only records whose Auth counts (CountsForSuppression) change a
	// suppression: anybody can send a report listing any address.
	Authenticated bool   `json:"authenticated"`
	Auth          string `json:"auth,omitempty"`
}

// Auth values: how a record was tied to mail the sender sent.
const (
	// AuthVERP: the report came back to a signed return path (package
	// verp) that names this recipient.
	AuthVERP = "verp"
	// AuthSent: the report's copy of the original carries the Message-ID
	// of a message registered as sent to this recipient.
	AuthSent = "sent"
	// AuthDKIM: the report's copy of the original carries a valid DKIM
	// signature of one of the sender's domains that covers a To header
	// naming this recipient.
	AuthDKIM = "dkim"
	// AuthTrusted: not proven, and counted anyway because the policy for
	// unsigned reports says to trust them all (unsafe).
	AuthTrusted = "trusted"
	// AuthNone: not proven; stored and listed, never counted for a
	// suppression.
	AuthNone = "none"
	// AuthFailed: a signature was present and failed, or the record's
	// recipient is not the one the signed return path names: stored as
	// evidence of forgery, never counted, whatever the policy.
	AuthFailed = "failed"
)

// ValidAuth reports whether a is one of the Auth* values.
func ValidAuth(a string) bool {
	switch a {
	case AuthVERP, AuthSent, AuthDKIM, AuthTrusted, AuthNone, AuthFailed:
		return true
	}
	return false
}

// CountsForSuppression reports whether the record may change its address's
// suppression state: when it is authenticated, trusted by policy, or has no
// Auth at all (records of callers that do not authenticate, such as tests
// of the suppression engine and stores written before authentication
// existed; every ingest path of Rebound sets Auth).
func (r *Record) CountsForSuppression() bool {
	switch r.Auth {
	case "", AuthVERP, AuthSent, AuthDKIM, AuthTrusted:
		return true
	}
	return false
}

// IsFailure reports whether the record is a delivery failure of any class
// (hard, soft or block).
func (r *Record) IsFailure() bool {
	return r.Class == ClassHard || r.Class == ClassSoft || r.Class == ClassBlock
}
