package classify

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/rebound-mail/rebound/internal/phrase"
	"github.com/rebound-mail/rebound/record"
)

// catalogTOML is the whole catalog: reasons, status codes and text rules.
// It is data, so adding a code, a phrase or a language changes no code.
//
//go:embed catalog.toml
var catalogTOML string

// lexiconFS holds the lexicon files: more phrases of server replies, one
// file per language or per family of providers, kept apart from the
// catalog so that each can be read and extended on its own. They are
// merged into the catalog when it is loaded, after it and in name order.
//
//go:embed lexicon/*.toml
var lexiconFS embed.FS

// lexiconFile is the layout of a file under lexicon/: providers, codes and
// rules as in catalog.toml. Reasons and bare reply codes are the catalog's
// alone.
type lexiconFile struct {
	Providers []providerEntry `toml:"provider"`
	Codes     []codeEntry     `toml:"code"`
	Rules     []ruleEntry     `toml:"rule"`
}

// source is one file of the catalog: its name, as errors give it, and its
// text.
type source struct {
	name, text string
}

// origin says where an entry was written: the file and the entry's number
// among those of its kind in that file, counted from 1.
type origin struct {
	file string
	n    int
}

// catalogFile is the layout of catalog.toml.
type catalogFile struct {
	Reasons   []reasonEntry   `toml:"reason"`
	Providers []providerEntry `toml:"provider"`
	Codes     []codeEntry     `toml:"code"`
	Rules     []ruleEntry     `toml:"rule"`
	Replies   []replyEntry    `toml:"reply"`
}

// replyEntry maps a bare SMTP reply code (RFC 5321 section 4.2) to a
// reason, for replies that carry nothing more specific.
type replyEntry struct {
	Code   string `toml:"code"`
	Reason string `toml:"reason"`
}

// reasonEntry gives a reason its defaults: class, fix owner, advice and a
// general explanation used when nothing more specific is known.
type reasonEntry struct {
	Name    string            `toml:"name"`
	Class   string            `toml:"class"`
	Owner   string            `toml:"owner"`
	Advice  string            `toml:"advice"`
	Explain map[string]string `toml:"explain"`
}

// providerEntry names a mail provider and the host and domain suffixes that
// identify it in RemoteMTA, ReportingMTA or the recipient's domain.
type providerEntry struct {
	Name  string   `toml:"name"`
	Hosts []string `toml:"hosts"`
	// Phrases in a server's text that only this provider's servers write.
	Phrases []string `toml:"phrases"`
	// Fallback is the reason of a failure reported for this provider's
	// addresses when neither a code nor a phrase explains it: the
	// provider's own notice, which may be in any language.
	Fallback string            `toml:"fallback"`
	Explain  map[string]string `toml:"explain"` // with Fallback
}

// codeEntry explains one enhanced status code (RFC 3463 section 2), or a
// range of detail numbers, for everyone or for one provider.
type codeEntry struct {
	// Code is "class.subject.detail"; class is 2, 4, 5 or X (any), detail
	// may be a range "lo-hi".
	Code     string `toml:"code"`
	Provider string `toml:"provider"` // empty: the standard registry
	Source   string `toml:"source"`   // where the code is defined, e.g. "RFC 3463"
	Title    string `toml:"title"`    // the registry's or provider's short name
	// When lists phrases of which one must occur in the text for this entry
	// to apply; it tells apart entries that share a code.
	When []string `toml:"when"`
	// Command, when set, limits the entry to replies that answered this
	// SMTP command ("MAIL", "RCPT", "DATA").
	Command string `toml:"command"`
	// Weak marks a code too general to decide alone: any matching text rule
	// outranks it.
	Weak bool `toml:"weak"`
	// HostsOnly limits a provider's entry to inputs whose hosts or
	// recipient domain name the provider: its code and phrase are too
	// common to identify the provider by themselves.
	HostsOnly bool              `toml:"hosts_only"`
	Reason    string            `toml:"reason"`
	Class     string            `toml:"class"`  // empty: the reason's class
	Owner     string            `toml:"owner"`  // empty: the reason's owner
	Advice    string            `toml:"advice"` // empty: the reason's advice
	Explain   map[string]string `toml:"explain"`
}

// ruleEntry is a set of phrases of server replies that point to a reason.
type ruleEntry struct {
	Name string `toml:"name"`
	// Priority orders rules and weighs them against a status code: a rule
	// decides over a code whose strength is lower (see doc.go).
	Priority int      `toml:"priority"`
	Reason   string   `toml:"reason"`
	Phrases  []string `toml:"phrases"`
	// Command, instead of a reason, says which SMTP command the reply
	// answered ("MAIL", "RCPT", "DATA").
	Command string            `toml:"command"`
	Class   string            `toml:"class"` // empty: the reason's class
	Owner   string            `toml:"owner"`
	Explain map[string]string `toml:"explain"`
	// Generic marks phrases any server may write in reply to any SMTP
	// command ("no such user"): without the command they do not prove
	// that the address is bad, as a filter answers the message with them
	// too. Phrases a reporting system writes as its own verdict ("The
	// recipient name is not recognized") are not generic.
	Generic bool `toml:"generic"`
	// Provider limits the rule to inputs that name the provider (by host,
	// recipient domain or phrase): what its notices mean is the provider's
	// own convention. Its phrases belong to it alone.
	Provider string `toml:"provider"`
}

// Strength of code evidence; text rules are weighed against these.
const (
	strengthWeak = 10 // a code marked weak (X.0.0, X.7.1, ...)
	// strengthVague bounds the rules whose phrases say no more than
	// "refused" ("access denied", "blocked"): priorities below it.
	strengthVague     = 35
	strengthStandard  = 50 // a specific code of the standard registry
	strengthProvider  = 70 // a provider's own code
	strengthQualified = 90 // a code entry whose "when" phrase matched too
)

// Reasons returns the reason names records carry (those of
// docs/design.md), sorted; the catalog gives each its defaults.
func Reasons() []string {
	return slices.Sorted(slices.Values(reasonNames))
}

// ValidReason reports whether r is one of the reason names.
func ValidReason(r string) bool {
	return slices.Contains(reasonNames, r)
}

// reasonNames are the names of docs/design.md.
var reasonNames = strings.Fields(`authfailure badreputation blocked contenterror
delivered exceedlimit expired failedstarttls feedback filtered hasmoved
hostunknown mailboxfull mailererror mesgtoobig networkerror norelaying
notaccept notcompliantrfc onhold policyviolation rejected requireptr
securityerror spamdetected speeding suppressed suspend syntaxerror
systemerror systemfull toomanyconn undefined userunknown vacation
virusdetected`)

func validOwner(o string) bool {
	switch o {
	case record.OwnerSender, record.OwnerSenderAdmin, record.OwnerRecipient, record.OwnerRecipientAdmin:
		return true
	}
	return false
}

func validAdvice(a string) bool {
	switch a {
	case record.AdviceSuppress, record.AdviceRetry, record.AdviceFixSending,
		record.AdviceUnsubscribe, record.AdviceIgnore:
		return true
	}
	return false
}

// hardReasons are the only reasons for which the address itself is bad.
func hardReason(r string) bool {
	switch r {
	case "userunknown", "hostunknown", "hasmoved", "notaccept":
		return true
	}
	return false
}

// code is a parsed enhanced status code (RFC 3463 section 2):
// class "." subject "." detail.
type code struct {
	class   byte // '2', '4', '5'; 'X' in catalog entries for any class
	subject int
	detail  int
}

// parseCode parses "5.7.1"; it also accepts "X.7.1" when anyClass is set.
// It follows RFC 3463's grammar: subject and detail are 1 to 3 digits
// without leading zeros.
func parseCode(s string, anyClass bool) (code, error) {
	var c code
	if len(s) < 5 || s[1] != '.' {
		return c, fmt.Errorf("status code %q: want class.subject.detail", s)
	}
	switch s[0] {
	case '2', '4', '5':
	case 'X':
		if !anyClass {
			return c, fmt.Errorf("status code %q: class must be 2, 4 or 5", s)
		}
	default:
		return c, fmt.Errorf("status code %q: class must be 2, 4 or 5", s)
	}
	c.class = s[0]
	rest := s[2:]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return c, fmt.Errorf("status code %q: want class.subject.detail", s)
	}
	var err error
	if c.subject, err = codeNumber(rest[:dot]); err != nil {
		return c, fmt.Errorf("status code %q: subject: %v", s, err)
	}
	if c.detail, err = codeNumber(rest[dot+1:]); err != nil {
		return c, fmt.Errorf("status code %q: detail: %v", s, err)
	}
	return c, nil
}

func codeNumber(s string) (int, error) {
	if len(s) == 0 || len(s) > 3 {
		return 0, fmt.Errorf("%q is not 1 to 3 digits", s)
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

func (c code) String() string {
	return string(c.class) + "." + strconv.Itoa(c.subject) + "." + strconv.Itoa(c.detail)
}

// entry is a compiled code entry or rule: what a Result is made from.
type entry struct {
	name     string // e.g. "rfc3463:X.1.1", "o365:5.7.606-649", "text:mailboxfull"
	code     string // the code as written in the catalog; empty for rules
	title    string
	reason   string
	class    string // empty: derive from the reason and the code
	owner    string
	advice   string
	explain  map[string]string
	strength int     // codes only
	when     []int32 // phrase ids; any one must match
	command  string  // the SMTP command the reply must have answered, or ""
	provider string
	generic  bool // rules only: see ruleEntry.Generic
	// hostsOnly: see codeEntry.HostsOnly.
	hostsOnly bool
}

// codeKey indexes code entries: provider, class, subject.
type codeKey struct {
	provider string
	class    byte
	subject  int
}

// codeSlot is one entry for a detail number or range.
type codeSlot struct {
	lo, hi int
	e      *entry
}

// catalog is the compiled, immutable catalog.
type catalog struct {
	reasons   map[string]*entry
	codes     map[codeKey][]codeSlot // slots with "when" first, then exact, then ranges
	providers []providerEntry        // host suffixes lower-cased
	rules     []*entry               // in decreasing priority
	phraseTo  []int32                // by phrase id: rank in rules of the rule it belongs to, or -1
	commands  []string               // by phrase id: the command a phrase reveals, or ""
	provOf    []int8                 // by phrase id: index into providers of the provider it names, or -1
	matcher   *phrase.Matcher
	phrases   []string // by phrase id, normalized
	replies   map[string]*entry
	fallbacks map[string]*entry // by provider name
	// hostMissing decides "<host name> does not exist" (see hostDoesNotExist).
	hostMissing *entry
	all         []*entry // every code entry, in catalog order, for explain
	// providerCodes has, by class and subject (provider ""), a bit per
	// index into providers of those with entries for them, so that a
	// lookup tries only the providers that may answer.
	providerCodes map[codeKey]uint64
}

// loadCatalog parses and validates the catalog text together with the
// embedded lexicon files.
func loadCatalog(text string) (*catalog, error) {
	lex, err := lexiconSources(lexiconFS)
	if err != nil {
		return nil, err
	}
	return compileCatalog(text, lex)
}

// lexiconSources reads the lexicon files of fsys (lexicon/*.toml) in name
// order, the order in which they are merged.
func lexiconSources(fsys fs.FS) ([]source, error) {
	names, err := fs.Glob(fsys, "lexicon/*.toml")
	if err != nil {
		return nil, fmt.Errorf("lexicon: %v", err)
	}
	sort.Strings(names)
	var srcs []source
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", n, err)
		}
		srcs = append(srcs, source{name: n, text: string(b)})
	}
	return srcs, nil
}

// parseLexicon decodes one lexicon file and checks that its phrases are
// written the way they are matched.
func parseLexicon(s source) (*lexiconFile, error) {
	var lf lexiconFile
	md, err := toml.Decode(s.text, &lf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		switch und[0].String() {
		case "reason", "reply":
			return nil, fmt.Errorf("%s: [[%s]] entries belong in catalog.toml", s.name, und[0])
		}
		return nil, fmt.Errorf("%s: unknown key %s", s.name, und[0])
	}
	for _, p := range lf.Providers {
		for _, ph := range p.Phrases {
			if err := checkWritten(ph); err != nil {
				return nil, fmt.Errorf("%s: provider %q: %v", s.name, p.Name, err)
			}
		}
	}
	for i, c := range lf.Codes {
		for _, ph := range c.When {
			if err := checkWritten(ph); err != nil {
				return nil, fmt.Errorf("%s: code #%d (%s): %v", s.name, i+1, c.Code, err)
			}
		}
	}
	for _, r := range lf.Rules {
		for _, ph := range r.Phrases {
			if err := checkWritten(ph); err != nil {
				return nil, fmt.Errorf("%s: rule %q: %v", s.name, r.Name, err)
			}
		}
	}
	return &lf, nil
}

// checkWritten requires a lexicon phrase to be written as it is matched:
// in lower case, in every script, with single spaces and none at either
// end. The matcher folds ASCII case only, so a phrase with a capital
// outside ASCII would match that capital alone.
func checkWritten(p string) error {
	n, err := phrase.Normalize(p)
	if err != nil {
		return err
	}
	if want := strings.ToLower(n); p != want {
		return fmt.Errorf("phrase %q must be written %q: lower case, single spaces", p, want)
	}
	return nil
}

// capitalized returns p with its first letter in upper case when that
// letter is outside ASCII and has an upper-case form, else "". The matcher
// folds ASCII case only; with this variant a phrase that opens a sentence
// ("Почтовый ящик ...", "Échec ...") matches too.
func capitalized(p string) string {
	r, size := utf8.DecodeRuneInString(p)
	if r < utf8.RuneSelf {
		return ""
	}
	u := unicode.ToUpper(r)
	if u == r {
		return ""
	}
	return string(u) + p[size:]
}

// numbered gives the n entries of one kind in file their origins.
func numbered(file string, n int) []origin {
	o := make([]origin, n)
	for i := range o {
		o[i] = origin{file: file, n: i + 1}
	}
	return o
}

// compileCatalog parses and validates the catalog text and the lexicon
// files lex, merged after it in the order given, and compiles them.
func compileCatalog(text string, lex []source) (*catalog, error) {
	var f catalogFile
	md, err := toml.Decode(text, &f)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("catalog: unknown key %s", und[0])
	}
	provFrom := numbered("catalog", len(f.Providers))
	codeFrom := numbered("catalog", len(f.Codes))
	ruleFrom := numbered("catalog", len(f.Rules))
	for _, s := range lex {
		lf, err := parseLexicon(s)
		if err != nil {
			return nil, err
		}
		provFrom = append(provFrom, numbered(s.name, len(lf.Providers))...)
		codeFrom = append(codeFrom, numbered(s.name, len(lf.Codes))...)
		ruleFrom = append(ruleFrom, numbered(s.name, len(lf.Rules))...)
		f.Providers = append(f.Providers, lf.Providers...)
		f.Codes = append(f.Codes, lf.Codes...)
		f.Rules = append(f.Rules, lf.Rules...)
	}
	cat := &catalog{reasons: map[string]*entry{}, codes: map[codeKey][]codeSlot{}, fallbacks: map[string]*entry{}}

	known := map[string]bool{}
	for _, r := range reasonNames {
		known[r] = true
	}
	for i, r := range f.Reasons {
		if !known[r.Name] {
			return nil, fmt.Errorf("catalog: reason #%d: unknown reason %q", i+1, r.Name)
		}
		if cat.reasons[r.Name] != nil {
			return nil, fmt.Errorf("catalog: reason %q defined twice", r.Name)
		}
		if !record.ValidClass(r.Class) {
			return nil, fmt.Errorf("catalog: reason %q: invalid class %q", r.Name, r.Class)
		}
		if r.Owner != "" && !validOwner(r.Owner) {
			return nil, fmt.Errorf("catalog: reason %q: invalid owner %q", r.Name, r.Owner)
		}
		if !validAdvice(r.Advice) {
			return nil, fmt.Errorf("catalog: reason %q: invalid advice %q", r.Name, r.Advice)
		}
		if err := checkExplain(r.Explain); err != nil {
			return nil, fmt.Errorf("catalog: reason %q: %v", r.Name, err)
		}
		if r.Class == record.ClassHard && !hardReason(r.Name) {
			return nil, fmt.Errorf("catalog: reason %q cannot be hard: the address itself is fine", r.Name)
		}
		cat.reasons[r.Name] = &entry{name: "reason:" + r.Name, reason: r.Name, class: r.Class,
			owner: r.Owner, advice: r.Advice, explain: r.Explain}
	}
	for _, r := range reasonNames {
		if cat.reasons[r] == nil {
			return nil, fmt.Errorf("catalog: reason %q has no entry", r)
		}
	}

	cat.hostMissing = &entry{name: "text:host-does-not-exist", reason: "hostunknown",
		explain: cat.reasons["hostunknown"].explain, strength: strengthStandard}

	if len(f.Providers) > 64 {
		return nil, fmt.Errorf("catalog: %d providers, at most 64 are supported", len(f.Providers))
	}
	providers := map[string]bool{}
	for i, p := range f.Providers {
		from := provFrom[i].file
		if p.Name == "" || providers[p.Name] {
			return nil, fmt.Errorf("%s: provider %q: empty or defined twice", from, p.Name)
		}
		providers[p.Name] = true
		hosts := make([]string, len(p.Hosts))
		for i, h := range p.Hosts {
			if h == "" || strings.ToLower(h) != h {
				return nil, fmt.Errorf("%s: provider %q: host %q must be lower case and not empty", from, p.Name, h)
			}
			hosts[i] = h
		}
		cat.providers = append(cat.providers, providerEntry{Name: p.Name, Hosts: hosts})
		if p.Fallback != "" {
			if cat.reasons[p.Fallback] == nil {
				return nil, fmt.Errorf("%s: provider %q: unknown fallback reason %q", from, p.Name, p.Fallback)
			}
			if err := checkExplain(p.Explain); err != nil {
				return nil, fmt.Errorf("%s: provider %q: fallback: %v", from, p.Name, err)
			}
			cat.fallbacks[p.Name] = &entry{name: p.Name + ":notice", reason: p.Fallback, explain: p.Explain,
				strength: strengthProvider, provider: p.Name}
		} else if len(p.Explain) > 0 {
			return nil, fmt.Errorf("%s: provider %q: explain without fallback", from, p.Name)
		}
	}

	// Phrases: one id per distinct normalized phrase.
	var phrases []string
	phraseID := map[string]int32{}
	intern := func(p string) (int32, error) {
		n, err := phrase.Normalize(p)
		if err != nil {
			return 0, err
		}
		if id, ok := phraseID[n]; ok {
			return id, nil
		}
		id := int32(len(phrases))
		phrases = append(phrases, n)
		phraseID[n] = id
		return id, nil
	}

	var provPhrases [][]int32
	for i, p := range f.Providers {
		var ids []int32
		for _, ph := range p.Phrases {
			id, err := intern(ph)
			if err != nil {
				return nil, fmt.Errorf("%s: provider %q: %v", provFrom[i].file, p.Name, err)
			}
			ids = append(ids, id)
		}
		provPhrases = append(provPhrases, ids)
	}

	names := map[string]bool{}
	for i := range f.Codes {
		c := &f.Codes[i]
		e, err := cat.compileCode(c, providers, intern)
		if err != nil {
			return nil, fmt.Errorf("%s: code #%d (%s): %v", codeFrom[i].file, codeFrom[i].n, c.Code, err)
		}
		if names[e.name] {
			return nil, fmt.Errorf("%s: code #%d: entry %s defined twice", codeFrom[i].file, codeFrom[i].n, e.name)
		}
		names[e.name] = true
		cat.all = append(cat.all, e)
	}
	for k, slots := range cat.codes {
		// Entries with "when" phrases or a command first (the more
		// specific), then exact details, then narrower ranges; stable
		// keeps catalog order.
		sort.SliceStable(slots, func(i, j int) bool {
			a, b := slots[i], slots[j]
			if sa, sb := qualifiers(a.e), qualifiers(b.e); sa != sb {
				return sa > sb
			}
			return a.hi-a.lo < b.hi-b.lo
		})
		cat.codes[k] = slots
	}

	type ruleAt struct {
		e        *entry
		priority int
		phrases  []int32
		command  string
		from     string
	}
	var rules []ruleAt
	ruleFile := map[string]string{} // rule name → the file that has it
	for i, r := range f.Rules {
		from := ruleFrom[i].file
		if r.Name == "" {
			return nil, fmt.Errorf("%s: rule #%d has no name", from, ruleFrom[i].n)
		}
		if first, ok := ruleFile[r.Name]; ok {
			return nil, fmt.Errorf("%s: rule %q: name used twice (also in %s)", from, r.Name, first)
		}
		ruleFile[r.Name] = from
		if len(r.Phrases) == 0 {
			return nil, fmt.Errorf("%s: rule %q has no phrases", from, r.Name)
		}
		ra := ruleAt{priority: r.Priority, from: from}
		switch {
		case r.Command != "":
			if r.Reason != "" || r.Command != "MAIL" && r.Command != "RCPT" && r.Command != "DATA" {
				return nil, fmt.Errorf("%s: rule %q: command must be MAIL, RCPT or DATA and stand alone", from, r.Name)
			}
			ra.command = r.Command
		default:
			if !known[r.Reason] {
				return nil, fmt.Errorf("%s: rule %q: unknown reason %q", from, r.Name, r.Reason)
			}
			if r.Priority < 1 || r.Priority > 100 {
				return nil, fmt.Errorf("%s: rule %q: priority %d not in 1..100", from, r.Name, r.Priority)
			}
			if r.Owner != "" && !validOwner(r.Owner) {
				return nil, fmt.Errorf("%s: rule %q: invalid owner %q", from, r.Name, r.Owner)
			}
			if r.Class != "" && (!record.ValidClass(r.Class) || r.Class == record.ClassHard && !hardReason(r.Reason)) {
				return nil, fmt.Errorf("%s: rule %q: invalid class %q for reason %q", from, r.Name, r.Class, r.Reason)
			}
			if len(r.Explain) > 0 {
				if err := checkExplain(r.Explain); err != nil {
					return nil, fmt.Errorf("%s: rule %q: %v", from, r.Name, err)
				}
			}
			if r.Provider != "" && !providers[r.Provider] {
				return nil, fmt.Errorf("%s: rule %q: unknown provider %q", from, r.Name, r.Provider)
			}
			if r.Generic && r.Reason != "userunknown" {
				return nil, fmt.Errorf("%s: rule %q: only userunknown rules can be generic", from, r.Name)
			}
			ra.e = &entry{name: "text:" + r.Name, reason: r.Reason, class: r.Class, owner: r.Owner, explain: r.Explain,
				generic: r.Generic, provider: r.Provider}
		}
		seen := map[int32]bool{}
		for _, p := range r.Phrases {
			id, err := intern(p)
			if err != nil {
				return nil, fmt.Errorf("%s: rule %q: %v", from, r.Name, err)
			}
			if seen[id] {
				return nil, fmt.Errorf("%s: rule %q: phrase %q listed twice", from, r.Name, p)
			}
			seen[id] = true
			ra.phrases = append(ra.phrases, id)
			if c := capitalized(phrases[id]); c != "" {
				if id, err = intern(c); err == nil && !seen[id] {
					seen[id] = true
					ra.phrases = append(ra.phrases, id)
				}
			}
		}
		rules = append(rules, ra)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].priority > rules[j].priority })

	cat.phraseTo = make([]int32, len(phrases))
	cat.commands = make([]string, len(phrases))
	for i := range cat.phraseTo {
		cat.phraseTo[i] = -1
	}
	cat.provOf = make([]int8, len(phrases))
	for i := range cat.provOf {
		cat.provOf[i] = -1
	}
	for pi, ids := range provPhrases {
		for _, id := range ids {
			cat.provOf[id] = int8(pi)
		}
	}
	ruleCount := make([]int, len(phrases))
	for _, r := range rules {
		for _, id := range r.phrases {
			ruleCount[id]++
		}
	}
	for _, r := range rules {
		if r.e != nil && r.e.provider != "" {
			for _, id := range r.phrases {
				if ruleCount[id] > 1 {
					return nil, fmt.Errorf("%s: rule %q: phrase %q is in another rule too", r.from, strings.TrimPrefix(r.e.name, "text:"), phrases[id])
				}
			}
		}
	}
	for _, r := range rules {
		if r.command != "" {
			for _, id := range r.phrases {
				cat.commands[id] = r.command
			}
			continue
		}
		rank := int32(len(cat.rules))
		cat.rules = append(cat.rules, r.e)
		for _, id := range r.phrases {
			// A phrase in two rules belongs to the first, higher one.
			if cat.phraseTo[id] < 0 {
				cat.phraseTo[id] = rank
			}
		}
		r.e.strength = r.priority
	}
	cat.replies = map[string]*entry{}
	for _, r := range f.Replies {
		if len(r.Code) != 3 || r.Code[0] < '2' || r.Code[0] > '5' || cat.replies[r.Code] != nil {
			return nil, fmt.Errorf("catalog: reply code %q: want three digits, once", r.Code)
		}
		re := cat.reasons[r.Reason]
		if re == nil {
			return nil, fmt.Errorf("catalog: reply code %s: unknown reason %q", r.Code, r.Reason)
		}
		cat.replies[r.Code] = &entry{name: "reply:" + r.Code, code: r.Code, title: "SMTP reply " + r.Code,
			reason: r.Reason, explain: re.explain}
	}
	cat.providerCodes = map[codeKey]uint64{}
	for i, p := range cat.providers {
		for k := range cat.codes {
			if k.provider == p.Name {
				cat.providerCodes[codeKey{class: k.class, subject: k.subject}] |= 1 << uint(i)
			}
		}
	}
	cat.phrases = phrases
	if cat.matcher, err = phrase.Compile(phrases, phrase.Options{FoldSpace: true}); err != nil {
		return nil, fmt.Errorf("catalog: %v", err)
	}
	return cat, nil
}

// qualifiers counts the conditions beyond the code an entry has: a "when"
// phrase, a command. The more an entry has, the earlier it is tried.
func qualifiers(e *entry) int {
	n := 0
	if len(e.when) > 0 {
		n++
	}
	if e.command != "" {
		n++
	}
	return n
}

func checkExplain(m map[string]string) error {
	if strings.TrimSpace(m["en"]) == "" || strings.TrimSpace(m["nl"]) == "" {
		return fmt.Errorf("explanation needs en and nl text")
	}
	for lang, t := range m {
		if len(lang) != 2 || strings.ToLower(lang) != lang {
			return fmt.Errorf("explanation language %q is not a two-letter code", lang)
		}
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("explanation in %q is empty", lang)
		}
	}
	return nil
}

func (cat *catalog) compileCode(c *codeEntry, providers map[string]bool, intern func(string) (int32, error)) (*entry, error) {
	if c.Provider != "" && !providers[c.Provider] {
		return nil, fmt.Errorf("unknown provider %q", c.Provider)
	}
	base, hiText, isRange := strings.Cut(c.Code, "-")
	parsed, err := parseCode(base, c.Provider == "")
	if err != nil {
		return nil, err
	}
	lo, hi := parsed.detail, parsed.detail
	if isRange {
		if hi, err = codeNumber(hiText); err != nil || hi <= lo {
			return nil, fmt.Errorf("range %q: the upper end must be a number above %d", c.Code, lo)
		}
	}
	if cat.reasons[c.Reason] == nil {
		return nil, fmt.Errorf("unknown reason %q", c.Reason)
	}
	if c.Class != "" && !record.ValidClass(c.Class) {
		return nil, fmt.Errorf("invalid class %q", c.Class)
	}
	if c.Class == record.ClassHard && !hardReason(c.Reason) {
		return nil, fmt.Errorf("class hard with reason %q: the address itself is fine", c.Reason)
	}
	if c.Owner != "" && !validOwner(c.Owner) {
		return nil, fmt.Errorf("invalid owner %q", c.Owner)
	}
	if c.Advice != "" && !validAdvice(c.Advice) {
		return nil, fmt.Errorf("invalid advice %q", c.Advice)
	}
	if err := checkExplain(c.Explain); err != nil {
		return nil, err
	}
	if c.Title == "" {
		return nil, fmt.Errorf("no title")
	}
	prov := c.Provider
	if prov == "" {
		prov = "std"
	}
	switch c.Command {
	case "", "MAIL", "RCPT", "DATA":
	default:
		return nil, fmt.Errorf("command %q: want MAIL, RCPT or DATA", c.Command)
	}
	e := &entry{name: prov + ":" + c.Code, code: c.Code, title: c.Title, reason: c.Reason,
		class: c.Class, owner: c.Owner, advice: c.Advice, explain: c.Explain, provider: c.Provider, command: c.Command,
		hostsOnly: c.HostsOnly}
	if c.HostsOnly && c.Provider == "" {
		return nil, fmt.Errorf("hosts_only needs a provider")
	}
	switch {
	case c.Weak:
		e.strength = strengthWeak
	case c.Provider != "":
		e.strength = strengthProvider
	default:
		e.strength = strengthStandard
	}
	if c.Command != "" {
		e.name += "/" + strings.ToLower(c.Command)
	}
	if len(c.When) > 0 {
		e.name += "/" + c.When[0]
		for _, p := range c.When {
			id, err := intern(p)
			if err != nil {
				return nil, err
			}
			e.when = append(e.when, id)
		}
	}
	k := codeKey{provider: c.Provider, class: parsed.class, subject: parsed.subject}
	cat.codes[k] = append(cat.codes[k], codeSlot{lo: lo, hi: hi, e: e})
	return e, nil
}

// lookup finds the entry for status among provider's codes ("" for the
// standard registry), given the command the reply answered and the phrases
// found in the text. Entries with "when" phrases apply only if one of them
// was found, entries with a command only to a reply to that command.
func (cat *catalog) lookup(provider string, c code, command string, found *phrase.Set) *entry {
	for _, class := range [2]byte{c.class, 'X'} {
		for _, s := range cat.codes[codeKey{provider, class, c.subject}] {
			if c.detail < s.lo || c.detail > s.hi || s.e.command != "" && s.e.command != command {
				continue
			}
			if len(s.e.when) > 0 {
				if found == nil || !anyFound(found, s.e.when) {
					continue
				}
			}
			return s.e
		}
	}
	return nil
}

func anyFound(found *phrase.Set, ids []int32) bool {
	for _, id := range ids {
		if found.Has(id) {
			return true
		}
	}
	return false
}
