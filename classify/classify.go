package classify

import (
	"fmt"
	"strings"
	"sync"

	"github.com/rebound-mail/rebound/internal/phrase"
	"github.com/rebound-mail/rebound/record"
)

// Classifier holds the compiled catalog and the language of its
// explanations. It is immutable and safe for concurrent use.
type Classifier struct {
	cat  *catalog
	lang string
}

// The catalog is parsed once per process; the result is never modified.
var (
	loadOnce   sync.Once
	loadedCat  *catalog
	loadCatErr error
)

func sharedCatalog() (*catalog, error) {
	loadOnce.Do(func() { loadedCat, loadCatErr = loadCatalog(catalogTOML) })
	return loadedCat, loadCatErr
}

// New returns a classifier whose explanations are in lang ("en", "nl"; empty
// means "en"). A language the catalog does not know is an error.
func New(lang string) (*Classifier, error) {
	cat, err := sharedCatalog()
	if err != nil {
		return nil, err
	}
	if lang == "" {
		lang = "en"
	}
	if _, ok := cat.reasons["undefined"].explain[lang]; !ok {
		return nil, fmt.Errorf("classify: no explanations in language %q", lang)
	}
	return &Classifier{cat: cat, lang: lang}, nil
}

// Lang is the language of the explanations.
func (c *Classifier) Lang() string { return c.lang }

// Classify judges one recipient; see the package documentation for the
// order in which evidence is weighed. It reads the diagnostic text once and
// allocates only to unfold a multi-line reply.
func (c *Classifier) Classify(in Input) Result {
	cat := c.cat
	switch in.Kind {
	case KindFeedback:
		return c.result(cat.reasons["feedback"], "feedback")
	case KindAutoReply:
		return c.result(cat.reasons["vacation"], "vacation")
	}
	status, hasStatus := parseStatus(in.Status)
	if isAction(in.Action, "delivered") || isAction(in.Action, "relayed") || isAction(in.Action, "expanded") ||
		hasStatus && status.class == '2' {
		return c.result(cat.reasons["delivered"], "delivered")
	}

	var found phrase.Set
	text := in.Diagnostic
	if strings.TrimSpace(text) == "" {
		// With no reply, the reporting MTA's comment on the status is
		// what it says about the cause ("4.0.0 (host name lookup
		// failure)").
		text = in.StatusComment
	}
	cat.matcher.Match(maskAddresses(withoutContinuations(text)), &found)
	var textProviders uint64 // providers named by phrases of the text
	command := upperCommand(in.Command)
	for id := found.Next(0); id >= 0; id = found.Next(id + 1) {
		if command == "" && cat.commands[id] != "" {
			command = cat.commands[id]
		}
		if p := cat.provOf[id]; p >= 0 {
			textProviders |= 1 << uint(p)
		}
	}
	ps := c.providers(in, textProviders)
	// The rule that decides is the first, in priority then catalog order,
	// of those with a phrase in the text; a provider's rule counts only
	// when the input names the provider.
	best := int32(-1)
	for id := found.Next(0); id >= 0; id = found.Next(id + 1) {
		if r := cat.phraseTo[id]; r >= 0 && (best < 0 || r < best) &&
			(cat.rules[r].provider == "" || ps.has(cat.rules[r].provider)) {
			best = r
		}
	}

	var rule *entry
	if best >= 0 {
		rule = cat.rules[best]
	}
	// A phrase that is only the notice's own preamble says nothing about
	// the cause; it keeps an otherwise unexplained reply undefined rather
	// than onhold (step 7).
	preamble := false
	if rule != nil && rule.reason == "undefined" {
		rule, preamble = nil, true
	}

	// A placeholder status (X.0.0) or none: the reply text often carries
	// the real code.
	if !hasStatus || status.subject == 0 && status.detail == 0 {
		if s, ok := statusInText(in.Diagnostic); ok {
			status, hasStatus = s, true
		}
	}

	var codeEntry *entry
	strength := 0
	if hasStatus {
		codeEntry = cat.lookupStatus(status, ps, command, &found)
		if codeEntry != nil {
			strength = codeEntry.strength
			if len(codeEntry.when) > 0 {
				strength = strengthQualified
			}
		}
	}

	e, confidence, conflict := c.weigh(codeEntry, strength, rule, command)
	if e != nil && e == codeEntry && strength <= strengthWeak && rule == nil {
		// A placeholder status (X.0.0, what Postfix and Exim write when
		// the server gave none) says less than the server's own reply
		// code, when that has a meaning of its own ("551 User not
		// local", "552" storage).
		reply := in.SMTPCode
		if reply == "" {
			reply = replyInText(in.Diagnostic)
		}
		if r := cat.replies[reply]; r != nil && r.reason != "onhold" && r.reason != "undefined" {
			e = r
		}
	}
	// A local delivery program's failure is reported as such; only a
	// clearer phrase or a specific code says more.
	if strings.EqualFold(in.DiagnosticType, "x-unix") && (e == nil || e.strength < strengthStandard) {
		e = cat.reasons["mailererror"]
	}
	if e == nil {
		// A provider's own notice that carries no code and no phrase we
		// know, in whatever language, still has one meaning.
		e = cat.fallback(ps)
	}
	if e == nil {
		reply := in.SMTPCode
		if reply == "" {
			reply = replyInText(in.Diagnostic)
		}
		if r := cat.replies[reply]; r != nil {
			e = r
		}
	}
	reason := "undefined"
	if e != nil {
		reason = e.reason
	}
	if reason == "userunknown" && e.code == "" && e.strength < strengthStandard && hostDoesNotExist(in.Diagnostic) {
		// "mx.example.net does not exist": what is missing is a host, not
		// a user.
		e, reason = cat.hostMissing, "hostunknown"
	}
	delayed := isAction(in.Action, "delayed")
	if delayed && (e == nil || reason == "onhold" || reason == "undefined" || e.code != "" && e.strength <= strengthWeak) {
		// A delay report with no clearer cause is about the time it takes.
		e, reason = cat.reasons["expired"], "expired"
	}
	if e == nil && !preamble && strings.TrimSpace(in.Diagnostic) != "" {
		// A reply we cannot read is still a reply: the cause is on hold,
		// not unknown.
		e, reason = cat.reasons["onhold"], "onhold"
	}
	if e == nil {
		e = cat.reasons["undefined"]
	}

	// The command the reply answered refines the reason (doc.go, step 8).
	switch command {
	case "CONN", "EHLO":
		// Refused at the greeting or at EHLO, before any address was
		// given: the client host was turned away. A phrase that names why
		// (no PTR record, a block list) keeps its meaning.
		switch reason {
		case "onhold", "undefined", "userunknown", "filtered":
			reason = "blocked"
		case "rejected", "securityerror":
			if e.strength < strengthVague {
				reason = "blocked"
			}
		}
	case "RCPT":
		// The recipient lookup answered: "no such user" means what it says.
	case "DATA":
		// A permanent refusal of the message that says nothing we can
		// read: the address was taken at RCPT TO, the message was not.
		if (reason == "onhold" || reason == "undefined") && permanent(in, status, hasStatus) && !delayed {
			reason = "filtered"
		}
	case "MAIL":
		// A refusal of MAIL FROM is about the sender, not the recipient.
		switch reason {
		case "userunknown", "hostunknown", "filtered", "onhold", "undefined", "suspend", "mailboxfull", "badreputation":
			reason = "rejected"
		case "securityerror":
			// A bare "access denied" or a general X.7.1 at MAIL FROM
			// refuses the sender; a phrase that names the security
			// problem (no authentication) keeps its meaning.
			if e.strength < strengthVague {
				reason = "rejected"
			}
		}
	}

	res := c.result(e, reason)
	res.Confidence, res.Evidence = c.evidence(e, reason, codeEntry, rule, conflict, confidence, command, in)
	if delayed && (res.Class == record.ClassHard || res.Class == record.ClassBlock || res.Class == record.ClassUnknown) {
		res.Class, res.Advice = record.ClassSoft, record.AdviceRetry
	}
	if reason == "notaccept" && !permanent(in, status, hasStatus) {
		res.Class, res.Advice = record.ClassSoft, record.AdviceRetry
	}
	if res.Class == record.ClassUnknown && !permanent(in, status, hasStatus) {
		// A temporary failure we cannot read is still temporary: the
		// server asked to try again later.
		res.Class, res.Advice = record.ClassSoft, record.AdviceRetry
	}
	return res
}

// result fills a Result from the deciding entry e and the final reason.
func (c *Classifier) result(e *entry, reason string) Result {
	def := c.cat.reasons[reason]
	res := Result{Reason: reason, Class: def.class, FixOwner: def.owner, Advice: def.advice, Entry: e.name,
		Confidence: record.ConfidenceHigh, Evidence: e.name}
	if e.reason == reason {
		// The entry's own overrides hold only for the reason it names.
		if e.class != "" && e.class != res.Class {
			res.Class = e.class
			// What to do follows the class the entry gives, unless
			// the entry says.
			switch e.class {
			case record.ClassSoft:
				res.Advice = record.AdviceRetry
			case record.ClassBlock:
				res.Advice = record.AdviceFixSending
			case record.ClassHard:
				res.Advice = record.AdviceSuppress
			}
		}
		if e.owner != "" {
			res.FixOwner = e.owner
		}
		if e.advice != "" {
			res.Advice = e.advice
		}
		res.Explanation = c.text(e.explain)
	}
	if res.Explanation == "" {
		res.Explanation = c.text(def.explain)
	}
	return res
}

// text picks the classifier's language, falling back to English.
func (c *Classifier) text(m map[string]string) string {
	if t, ok := m[c.lang]; ok {
		return t
	}
	return m["en"]
}

// permanent reports whether the failure is permanent (a 5xx reply or a
// 5.x.x status).
func permanent(in Input, status code, hasStatus bool) bool {
	if hasStatus {
		return status.class == '5'
	}
	if len(in.SMTPCode) == 3 {
		return in.SMTPCode[0] == '5'
	}
	return !isAction(in.Action, "delayed")
}

func isAction(a, want string) bool { return strings.EqualFold(strings.TrimSpace(a), want) }

func upperCommand(c string) string {
	switch {
	case strings.EqualFold(c, "DATA"), strings.EqualFold(c, "BDAT"):
		return "DATA"
	case strings.EqualFold(c, "MAIL"), strings.EqualFold(c, "MAIL FROM"):
		return "MAIL"
	case strings.EqualFold(c, "RCPT"), strings.EqualFold(c, "RCPT TO"):
		return "RCPT"
	case strings.EqualFold(c, "EHLO"), strings.EqualFold(c, "HELO"):
		return "EHLO"
	case strings.EqualFold(c, "CONN"):
		return "CONN"
	}
	return ""
}

// parseStatus parses an enhanced status code, tolerating surrounding space
// and a trailing comment such as "5.1.1 (bad address)".
func parseStatus(s string) (code, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t("); i >= 0 {
		s = s[:i]
	}
	c, err := parseCode(s, false)
	return c, err == nil
}

// statusInText finds the first enhanced status code with class 4 or 5 in a
// server reply ("550 5.1.1 <x>: ..."), as long as it is not part of a
// longer number such as an IP address.
func statusInText(t string) (code, bool) {
	for i := 0; i+5 <= len(t); i++ {
		if (t[i] != '4' && t[i] != '5') || t[i+1] != '.' {
			continue
		}
		if i > 0 && (isDigit(t[i-1]) || t[i-1] == '.') {
			continue
		}
		j := i + 2
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if j == i+2 || j >= len(t) || t[j] != '.' {
			continue
		}
		k := j + 1
		for k < len(t) && isDigit(t[k]) {
			k++
		}
		if k == j+1 || k < len(t) && (t[k] == '.' && k+1 < len(t) && isDigit(t[k+1])) {
			continue
		}
		if c, err := parseCode(t[i:k], false); err == nil {
			return c, true
		}
	}
	return code{}, false
}

// replyInText finds an SMTP reply code at the start of the reply text,
// after an optional "smtp;" diagnostic type.
func replyInText(t string) string {
	t = strings.TrimSpace(t)
	if i := strings.IndexByte(t, ';'); i >= 0 && i < 16 && !strings.ContainsAny(t[:i], " ") {
		t = strings.TrimSpace(t[i+1:])
	}
	if len(t) >= 3 && t[0] >= '2' && t[0] <= '5' && isDigit(t[1]) && isDigit(t[2]) &&
		(len(t) == 3 || t[3] == ' ' || t[3] == '-') {
		return t[:3]
	}
	return ""
}

// hostDoesNotExist reports whether the text says that a host name (a
// dotted name that is not an address) does not exist.
func hostDoesNotExist(t string) bool {
	const phrase = "does not exist"
	for i := 0; i+len(phrase) <= len(t); i++ {
		if !strings.EqualFold(t[i:i+len(phrase)], phrase) {
			continue
		}
		end := i
		for end > 0 && t[end-1] == ' ' {
			end--
		}
		start := end
		for start > 0 && t[start-1] != ' ' && t[start-1] != '<' && t[start-1] != ':' {
			start--
		}
		name := strings.TrimSuffix(t[start:end], ".")
		if len(name) > 3 && strings.IndexByte(name, '.') > 0 && isHostName(name) {
			return true
		}
	}
	return false
}

// isHostName reports whether s has only the characters of a DNS name
// (RFC 1035 section 2.3.1); an address (with "@") is not one.
func isHostName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i] | 0x20
		if !('a' <= b && b <= 'z' || isDigit(s[i]) || s[i] == '.' || s[i] == '-') {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// ignoring case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// providerSet holds the providers an input points to, without allocating.
type providerSet struct {
	n     int
	names [4]string
}

// providers finds the providers named by the remote host, the reporting
// host, the recipient's domain or (fromText, a bit per provider) phrases of
// the text, in catalog order.
func (c *Classifier) providers(in Input, fromText uint64) providerSet {
	var ps providerSet
	domain := in.Recipient
	if i := strings.LastIndexByte(domain, '@'); i >= 0 {
		domain = domain[i+1:]
	}
	remote, reporting := hostName(in.RemoteMTA), hostName(in.ReportingMTA)
	domain = hostName(domain)
	for i, p := range c.cat.providers {
		if fromText&(1<<uint(i)) != 0 {
			if ps.n < len(ps.names) {
				ps.names[ps.n] = p.Name
				ps.n++
			}
			continue
		}
		for _, h := range p.Hosts {
			if hostIs(remote, h) || hostIs(reporting, h) || hostIs(domain, h) {
				if ps.n < len(ps.names) {
					ps.names[ps.n] = p.Name
					ps.n++
				}
				break
			}
		}
	}
	return ps
}

// hostName strips what may follow a host name in a report: a bracketed
// address ("mx.example.com [192.0.2.1]") and a trailing dot.
func hostName(h string) string {
	if i := strings.IndexAny(h, " ["); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// hostIs reports whether host is suffix or a subdomain of it, ignoring case.
func hostIs(host, suffix string) bool {
	n := len(host) - len(suffix)
	if n < 0 || n > 0 && host[n-1] != '.' {
		return false
	}
	// suffix is in lower case: fold host's ASCII letters byte by byte,
	// leaving the rare other bytes to strings.EqualFold.
	for i := 0; i < len(suffix); i++ {
		c := host[n+i]
		if c >= 0x80 {
			return strings.EqualFold(host[n:], suffix)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != suffix[i] {
			return false
		}
	}
	return true
}

// addressCodeWeak reports whether a code entry says too little about the
// address to outweigh the SMTP command an unknown-user reply answered: no
// entry, a weak one, or a general mailbox code that only says "disabled" or
// "refused" (X.2.1, X.2.0).
func addressCodeWeak(e *entry) bool {
	return e == nil || e.strength <= strengthWeak ||
		e.provider == "" && e.strength <= strengthStandard && (e.reason == "suspend" || e.reason == "filtered")
}

// fallback returns the entry of the first provider in ps that gives its
// notices a meaning of their own, or nil.
func (cat *catalog) fallback(ps providerSet) *entry {
	for i := 0; i < ps.n; i++ {
		if e := cat.fallbacks[ps.names[i]]; e != nil {
			return e
		}
	}
	return nil
}

// lookupStatus finds the catalog entry for a status code: first the
// providers the input points to, then the standard registry, then any
// provider's own code (a code only one provider uses identifies it), then
// the standard entry for the code's subject (X.s.0) and finally X.0.0. A
// provider entry limited to one SMTP command applies only when the hosts
// name the provider: the command alone does not identify it.
func (cat *catalog) lookupStatus(s code, ps providerSet, command string, found *phrase.Set) *entry {
	for i := 0; i < ps.n; i++ {
		if e := cat.lookup(ps.names[i], s, command, found); e != nil {
			return e
		}
	}
	// The providers with entries for the code's class and subject.
	coded := cat.providerCodes[codeKey{class: s.class, subject: s.subject}] | cat.providerCodes[codeKey{class: 'X', subject: s.subject}]
	// A provider's entry whose text matched too is specific enough even
	// when the hosts do not name the provider.
	for i, p := range cat.providers {
		if coded&(1<<uint(i)) == 0 {
			continue
		}
		if e := cat.lookup(p.Name, s, command, found); e != nil && len(e.when) > 0 && e.command == "" && !e.hostsOnly {
			return e
		}
	}
	if e := cat.lookup("", s, command, found); e != nil {
		return e
	}
	for i, p := range cat.providers {
		if coded&(1<<uint(i)) == 0 {
			continue
		}
		if e := cat.lookup(p.Name, s, command, found); e != nil && !ps.has(p.Name) && e.command == "" && !e.hostsOnly {
			return e
		}
	}
	if e := cat.lookup("", code{class: s.class, subject: s.subject}, command, found); e != nil {
		return e
	}
	return cat.lookup("", code{class: s.class}, command, found)
}

func (ps *providerSet) has(name string) bool {
	for i := 0; i < ps.n; i++ {
		if ps.names[i] == name {
			return true
		}
	}
	return false
}

// withoutContinuations removes the reply code prefixes of continuation lines
// ("550-5.7.1 ", RFC 5321 section 4.2.1) that a folded multi-line reply
// carries in the middle of its text, so that phrases split across lines
// still match. The text is copied only when it has such prefixes.
func withoutContinuations(t string) string {
	var b []byte
	last := 0
	for i := 1; i+4 <= len(t); i++ {
		if t[i-1] != ' ' && t[i-1] != '\n' && t[i-1] != '\t' && t[i-1] != '\r' {
			continue
		}
		n := replyPrefixLen(t[i:])
		if n == 0 {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(t))
		}
		b = append(b, t[last:i]...)
		last = i + n
		i = last - 1
	}
	if b == nil {
		return t
	}
	return string(append(b, t[last:]...))
}

// replyPrefixLen returns the length of a reply code prefix at the start of
// t: "550-" or "550 " followed by an enhanced status code and a space, or
// "550-" alone; 0 when there is none.
func replyPrefixLen(t string) int {
	if len(t) < 4 || t[0] < '2' || t[0] > '5' || !isDigit(t[1]) || !isDigit(t[2]) {
		return 0
	}
	if t[3] != '-' && t[3] != ' ' {
		return 0
	}
	n := 4
	if c := statusPrefixLen(t[4:]); c > 0 {
		n += c
		for n < len(t) && t[n] == ' ' {
			n++
		}
		return n
	}
	if t[3] == '-' {
		return n
	}
	return 0
}

// statusPrefixLen returns the length of an enhanced status code at the
// start of t, or 0.
func statusPrefixLen(t string) int {
	if len(t) < 5 || t[0] < '2' || t[0] > '5' || t[1] != '.' {
		return 0
	}
	i := 2
	for i < len(t) && isDigit(t[i]) {
		i++
	}
	if i == 2 || i >= len(t) || t[i] != '.' {
		return 0
	}
	j := i + 1
	for j < len(t) && isDigit(t[j]) {
		j++
	}
	if j == i+1 {
		return 0
	}
	return j
}

// weigh decides between the entry of the status code and the best text
// rule (doc.go, step 3). Explicit reply text beats a code that contradicts
// it and an explicit code beats vague text; when both are explicit or
// neither is, and they disagree, the verdict is never hard: a false hard
// suppresses a good address, so the other side's verdict is taken, with
// low confidence. conflict reports that code and text disagreed.
func (c *Classifier) weigh(code *entry, strength int, rule *entry, command string) (e *entry, confidence string, conflict bool) {
	const high, low = record.ConfidenceHigh, record.ConfidenceLow
	switch {
	case rule == nil && code == nil:
		return nil, low, false
	case rule == nil:
		if strength <= strengthWeak {
			return code, low, false
		}
		return code, high, false
	case code == nil:
		if rule.strength < strengthVague || c.hard(rule) && rule.generic && command != "RCPT" {
			return rule, low, false
		}
		return rule, high, false
	case code.reason == rule.reason:
		return code, high, false
	case rule.reason == "userunknown" && command == "RCPT" && addressCodeWeak(code):
		// The command the reply answered says more than a general code
		// such as X.2.1 or X.2.0: an unknown user answered to RCPT TO
		// names the address.
		return rule, high, true
	}
	winner, loser := code, rule
	if rule.strength > strength {
		winner, loser = rule, code
	}
	textExplicit, codeExplicit := rule.strength >= strengthVague, strength > strengthWeak
	winnerHard, loserHard := c.hard(winner), c.hard(loser)
	if textExplicit != codeExplicit {
		// One side is weak; the explicit one decides. It is less sure
		// when it would suppress the address on a vague reply against
		// it (unless the text is what qualified a provider's code), or
		// on a phrase any filter may write ("user unknown") that did not
		// answer RCPT TO.
		// A weak code or a vague phrase is no real disagreement.
		if winnerHard && (winner == code && !loserHard && strength < strengthQualified ||
			winner == rule && rule.generic && command != "RCPT") {
			return winner, low, false
		}
		return winner, high, false
	}
	if winnerHard && !loserHard {
		return loser, low, true
	}
	if winner == rule && rule.strength > strengthQualified {
		// A decisive phrase: a provider's own code in the text, or a
		// carrier's convention that overrides what its words say.
		return winner, high, true
	}
	if winnerHard == loserHard && c.cat.reasons[winner.reason].class == c.cat.reasons[loser.reason].class {
		// blocked against spamdetected: the class, and so what to do,
		// is the same.
		return winner, high, true
	}
	return winner, low, true
}

// hard reports whether an entry's reason makes a hard bounce.
func (c *Classifier) hard(e *entry) bool {
	if e.class != "" {
		return e.class == record.ClassHard
	}
	return c.cat.reasons[e.reason].class == record.ClassHard
}

// evidence says what decided the verdict and what spoke against it, and
// how sure it is: a bare reply code, an unreadable reply or a provider's
// notice with nothing we know in it is weak evidence.
func (c *Classifier) evidence(e *entry, reason string, code, rule *entry, conflict bool, confidence, command string, in Input) (string, string) {
	if strings.HasPrefix(e.name, "reply:") || reason == "onhold" || reason == "undefined" || strings.HasSuffix(e.name, ":notice") {
		confidence = record.ConfidenceLow
	}
	var b strings.Builder
	b.Grow(96)
	b.WriteString(e.name)
	say := func(kind string, x *entry) {
		if x == nil || x == e {
			return
		}
		b.WriteString("; ")
		b.WriteString(kind)
		b.WriteByte(' ')
		b.WriteString(x.name)
		if x.reason == reason {
			b.WriteString(" agrees")
		} else {
			b.WriteString(" says ")
			b.WriteString(x.reason)
		}
	}
	say("code", code)
	say("text", rule)
	if command != "" {
		b.WriteString("; reply to ")
		b.WriteString(command)
	}
	if conflict {
		b.WriteString("; code and text disagree")
	}
	return confidence, b.String()
}

// maskAddresses replaces every mail address in t, with its angle brackets
// when it has them, by "<@>", so that a phrase holds across the address a
// server writes in the middle of it ("mailbox <a@b> unavailable" matches
// "mailbox <@> unavailable"). The text is copied only when it holds an
// address.
func maskAddresses(t string) string {
	var b []byte
	last := 0
	for off := 0; off < len(t); {
		i := strings.IndexByte(t[off:], '@')
		if i < 0 {
			break
		}
		at := off + i
		off = at + 1
		start := at
		for start > last && addressByte(t[start-1]) {
			start--
		}
		end := at + 1
		for end < len(t) && (addressByte(t[end]) && t[end] != '@') {
			end++
		}
		for end > at+1 && t[end-1] == '.' {
			end--
		}
		if start == at || end == at+1 || strings.IndexByte(t[at+1:end], '.') < 0 {
			continue
		}
		if start > 0 && t[start-1] == '<' && end < len(t) && t[end] == '>' {
			start, end = start-1, end+1
		}
		if b == nil {
			b = make([]byte, 0, len(t))
		}
		b = append(append(b, t[last:start]...), "<@>"...)
		last, off = end, end
	}
	if b == nil {
		return t
	}
	return string(append(b, t[last:]...))
}

// addressByte reports whether c may stand in a mail address as servers
// write them: the atext of RFC 5322 section 3.2.3 less what ends a
// bracketed address, dots, and UTF-8 (RFC 6531).
func addressByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c >= 0x80 ||
		strings.IndexByte("!#$%&'*+/=?^_`{|}~.-", c) >= 0
}
