package api

import (
	"errors"
	"net/http"

	"github.com/rebound-mail/rebound/classify"
)

// languages are those of the catalog's explanations.
var languages = []string{"en", "nl"}

// explainer returns the classifier of the lang parameter, or of the
// configured language when it is left out.
func (a *API) explainer(q query) (*classify.Classifier, error) {
	lang, err := q.oneOf("lang", languages...)
	if err != nil {
		return nil, err
	}
	if lang == "" {
		lang = a.language
	}
	return a.explainers[lang], nil
}

// explain answers what `rebound explain` answers: what a status code, a
// server reply or a server's text means, from the catalog.
func (a *API) explain(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "q", "lang")
	if err != nil {
		return err
	}
	c, err := a.explainer(q)
	if err != nil {
		return err
	}
	text, err := q.str("q")
	if err != nil {
		return err
	}
	if text == "" {
		return badParam("q", `parameter "q" is required: a status code such as 5.1.1, a reply such as "550 5.7.1 Unable to relay", or a server's text`)
	}
	ex, err := c.Explain(text)
	switch {
	case errors.Is(err, classify.ErrUnknown):
		return &Problem{Status: http.StatusNotFound, Detail: err.Error()}
	case err != nil:
		return badParam("q", err.Error())
	}
	return writeJSON(w, http.StatusOK, ex)
}
