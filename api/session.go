package api

import (
	"net/http"
	"slices"
)

type sessionView struct {
	Token  string   `json:"token"`  // the token's name: the actor of its changes
	Scopes []string `json:"scopes"` // what it may do
}

// session tells a client which token it holds and what that token may
// do, so that a user interface shows only the controls that will work.
// Every configured token may ask, whatever its scopes.
func (a *API) session(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	c, _ := r.Context().Value(callerKey{}).(caller)
	scopes := slices.Clone(c.scopes)
	slices.Sort(scopes)
	return writeJSON(w, http.StatusOK, sessionView{Token: c.name, Scopes: scopes})
}
