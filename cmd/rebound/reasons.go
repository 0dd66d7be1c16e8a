package main

import (
	"slices"
	"strings"
)

// bounceReasons are the reason names records carry: those of
// docs/design.md, each with its entry in the catalog of package classify
// (classify/catalog.toml; a test checks the two agree).
var bounceReasons = strings.Fields(`authfailure badreputation blocked contenterror
delivered exceedlimit expired failedstarttls feedback filtered hasmoved
hostunknown mailboxfull mailererror mesgtoobig networkerror norelaying
notaccept notcompliantrfc onhold policyviolation rejected requireptr
securityerror spamdetected speeding suppressed suspend syntaxerror
systemerror systemfull toomanyconn undefined userunknown vacation
virusdetected`)

func validReason(r string) bool {
	return slices.Contains(bounceReasons, r)
}
