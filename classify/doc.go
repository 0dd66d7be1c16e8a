// Package classify turns the evidence about one recipient of a bounce into
// a judgement: reason, class, fix owner, advice and a plain explanation.
//
// # Catalog
//
// Everything the package knows is data in catalog.toml, embedded in the
// binary and parsed once:
//
//   - reasons with their default class, fix owner, advice and explanation;
//   - enhanced status codes (RFC 3463 section 2: class.subject.detail): the
//     whole IANA "SMTP Enhanced Status Codes" registry, written with class X
//     so one entry serves 4.x.x and 5.x.x, and the codes of providers
//     (Office 365 / Exchange Online, Gmail, Yahoo/AOL, iCloud), including
//     ranges such as 5.7.606-649 as single entries;
//   - text rules: phrases of server replies, case-insensitive, compiled into
//     one Aho-Corasick automaton so a reply is read once whatever the number
//     of phrases;
//   - bare SMTP reply codes (RFC 5321 section 4.2.3) as a last resort.
//
// Lexicon files (lexicon/*.toml, embedded too) hold more phrases of server
// replies, one file per language or per family of providers and filters.
// They have rules, and providers and codes where they need them, but no
// reasons or bare reply codes; every check of the catalog applies to them,
// and their phrases must be written as they are matched: lower case, single
// spaces. They are merged after catalog.toml in file name order, into the
// one automaton, and their rules rank as any other: by priority, and at
// equal priority a catalog rule before a lexicon rule and an earlier file's
// before a later one's; a phrase in two rules belongs to the higher one. A
// lexicon rule has the priority of the catalog's English rule for the same
// cause, so a reply weighs the same against the status code in whatever
// language it is written. The matcher folds ASCII case only; a phrase that
// begins with a letter outside ASCII also matches with that letter
// capitalised, as at the start of a sentence.
//
// Explanations are maps from language to text; New picks one language.
//
// Result.Entry names what decided: "std:X.1.1" (the registry),
// "o365:5.7.606-649" (a provider's code or range), "o365:5.7.1/unable to
// relay" (a provider entry qualified by a phrase), "text:mailboxfull" (a
// text rule), "reply:550" (a bare reply code) or "reason:undefined" (no
// evidence beyond the report's kind or action).
//
// # Precedence
//
// The more specific evidence wins. In order:
//
//  1. The kind of report: an ARF complaint is feedback, an RFC 3834 reply is
//     vacation, whatever its codes.
//  2. Success: action delivered, relayed or expanded, or a 2.x.x status.
//  3. The status code and the text are weighed against each other. Each code
//     entry has a strength: 10 for codes too general to decide (X.0.0,
//     X.7.1, X.5.0, ...), 50 for a specific standard code, 70 for a
//     provider's own code, 90 for a provider entry whose "when" phrase also
//     matched (how the three meanings of Office 365's 5.7.1 are told apart).
//     Each text rule has a priority from 1 to 100; below 35 it is vague
//     ("refused", "blocked"). The text is in server words: mail addresses
//     in it read as "<@>", so that "mailbox <a@b> unavailable" matches the
//     phrase "mailbox <@> unavailable". The rule with the highest priority
//     among those that match is weighed against the code:
//     - when they agree on the reason, the code's entry is named, for its
//     more precise explanation, with high confidence;
//     - when one side is weak (a weak code, a vague phrase) the other
//     decides: "5.7.1 No such user!" is userunknown;
//     - when both are explicit, or neither is, and they disagree, the one
//     with the higher priority or strength decides, except that the verdict
//     is never hard when the other side says otherwise: "5.1.1 Message
//     refused due to recipient preferences" is filtered and "5.1.1 max
//     message size exceeded" is mesgtoobig, both with low confidence. A
//     false hard verdict suppresses a good address; a missed one costs a
//     retry.
//     So a "5.1.1 ... has sent to too many recipients this hour" is
//     speeding (a strong phrase beats a standard code), a "550 5.1.0 sender
//     rejected" is rejected (X.1.0 is weak), and "5.2.2 ... user unknown"
//     stays mailboxfull, with low confidence.
//     Confidence is low too when only a bare reply code, an unreadable
//     reply, or a provider's notice with nothing we know decided, and when a
//     hard verdict rests on a phrase any filter may write ("user unknown")
//     that did not answer RCPT TO. Result.Evidence names what decided and
//     what spoke against it.
//  4. A placeholder status (X.0.0 or none) is replaced by the enhanced code
//     found in the reply text, if any. With no reply text at all, the
//     reporting MTA's comment on the status ("4.0.0 (host name lookup
//     failure)") is read for phrases instead.
//  5. Code lookup order: the providers named by the remote host, the
//     reporting host, the recipient's domain or a phrase only their servers
//     write ("protection.outlook.com", "gsmtp"); then any provider's entry
//     whose "when" phrase matched, unless the entry is marked hosts_only
//     (KDDI's "550 <address>: User unknown" with a placeholder X.0.0 is an
//     unknown au address only when a host or the domain is KDDI's); then
//     the standard registry; then any provider's own code (a code such as
//     5.7.509 names its provider); then the standard entry for the subject
//     (X.s.0); then X.0.0. An entry may also name the SMTP command the
//     reply must have answered (docomo's "550 Unknown user" after DATA is
//     the recipient's filter refusing the sender). Text rules may belong to
//     a provider too; they count only when the input names it (Verizon's
//     gateway quoting "no such user here", Email Security.cloud's "542").
//  6. A local delivery program's failure (diagnostic type x-unix) is
//     mailererror unless a phrase or a specific code says more.
//  7. With no code and no phrase: a provider's own notice (a Google Groups
//     address refusing a post, in whatever language, is rejected); then the
//     SMTP reply code; then the action (a delay report with nothing clearer
//     than a general code is expired); then onhold if the server's reply is
//     there but says nothing we know, undefined if there is no reply or only
//     the notice's own preamble ("This is the mail system at host ...").
//  8. The SMTP command the reply answered, from the report (a transcript's
//     ">>> DATA" before the reply, "after RCPT TO") or from phrases such as
//     "in reply to end of DATA command". An unknown user answered to RCPT
//     TO outweighs a general mailbox code (X.2.0, X.2.1). An unknown user
//     answered to DATA is still an unknown user: large providers check
//     recipients after the message; the verdict is less sure when only a
//     generic phrase says so. A refusal of MAIL FROM is rejected (about the
//     sender); a bare "access denied" or a general X.7.1 there is rejected
//     too, while a phrase that names the security problem keeps it. A
//     refusal at the greeting or at EHLO, before any address was given, is
//     blocked (the client host was turned away) unless a phrase names why
//     (no PTR record: requireptr). "relay.example.net does not exist" names
//     a host: hostunknown. Japanese mobile carriers answer "550 : User
//     unknown", with no address, when the recipient's own filter refuses
//     the sender: filtered.
//     Explain weighs a person's query the same way: "5.7.1 user unknown"
//     alone means userunknown.
//
// # Classes
//
// The class follows the reason, with two corrections: notaccept is hard only
// when permanent (5xx), and a delayed report is always soft. Only
// userunknown, hostunknown, hasmoved and notaccept can be hard; a 5xx for a
// block list, DMARC, a rate limit or content is block, so the address is
// never suppressed for the sender's own problem.
package classify
