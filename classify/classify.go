// Package classify turns the evidence about one recipient into a judgement:
// reason, class, fix owner, advice and explanation.
package classify

import "github.com/rebound-mail/rebound/record"

// Classifier holds a loaded catalog. It is safe for concurrent use.
type Classifier struct {
	lang string
}

// New returns a classifier whose explanations are in lang ("en", "nl").
func New(lang string) (*Classifier, error) {
	return &Classifier{lang: lang}, nil
}

// Classify judges one recipient.
func (c *Classifier) Classify(in Input) Result {
	return Result{Reason: "undefined", Class: record.ClassUnknown}
}
