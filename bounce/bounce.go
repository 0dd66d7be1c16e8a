// Package bounce turns a raw message into bounce records: it decodes the
// message with package dsn and judges every recipient with package classify.
package bounce

import (
	"strings"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
)

// Analyzer decodes and classifies messages. It is safe for concurrent use.
type Analyzer struct {
	Parser     *dsn.Parser
	Classifier *classify.Classifier
}

// Analyze decodes msg and returns one record per recipient, with Source set
// to source. A message that is not a bounce yields no records and no error;
// the report is returned too (nil on error).
func (a *Analyzer) Analyze(msg []byte, source string) ([]record.Record, *dsn.Report, error) {
	rep, err := a.Parser.Parse(msg)
	if err != nil {
		return nil, nil, err
	}
	if rep.Format == "" || len(rep.Recipients) == 0 {
		return nil, rep, nil
	}
	recs := make([]record.Record, 0, len(rep.Recipients))
	for i := range rep.Recipients {
		r := &rep.Recipients[i]
		in := classify.Input{
			Action:       r.Action,
			Status:       r.Status,
			SMTPCode:     r.SMTPCode,
			Diagnostic:   r.Diagnostic,
			RemoteMTA:    r.RemoteMTA,
			ReportingMTA: rep.ReportingMTA,
			Recipient:    r.FinalRecipient,
			FeedbackType: r.FeedbackType,

			StatusComment:  r.StatusComment,
			DiagnosticType: r.DiagnosticType,
			Command:        r.Command,
		}
		switch {
		case rep.Format == dsn.FormatARF, rep.Feedback != nil:
			in.Kind = classify.KindFeedback
		case rep.Format == dsn.FormatRFC3834:
			in.Kind = classify.KindAutoReply
		}
		res := a.Classifier.Classify(in)
		recs = append(recs, record.Record{
			Source:            source,
			Index:             i + 1,
			Action:            r.Action,
			Status:            r.Status,
			SMTPCode:          r.SMTPCode,
			Diagnostic:        r.Diagnostic,
			RemoteMTA:         r.RemoteMTA,
			ReportingMTA:      rep.ReportingMTA,
			Reason:            res.Reason,
			Class:             res.Class,
			FixOwner:          res.FixOwner,
			Advice:            res.Advice,
			Explanation:       res.Explanation,
			CatalogEntry:      res.Entry,
			Confidence:        res.Confidence,
			Evidence:          res.Evidence,
			FeedbackType:      r.FeedbackType,
			OriginalMessageID: strings.Trim(rep.Original.MessageID, "<> "),
			OriginalFrom:      rep.Original.From,
			OriginalTo:        rep.Original.To,
			OriginalSubject:   rep.Original.Subject,
			OriginalHeaders:   rep.Original.Headers,
			Format:            rep.Format,
		})
		// The one place records are made: what they hold is checked
		// and bounded here, before any store or output sees it.
		rec := &recs[len(recs)-1]
		setRecipients(rec, r.FinalRecipient, r.OriginalRecipient)
		boundFields(rec)
	}
	return recs, rep, nil
}
