package dsn

import "strings"

// autoReplyPhrases make up the subjects of vacation notices and other
// automatic replies wherever they appear; lower case.
var autoReplyPhrases = []string{
	"out of office", "out of the office", "automatic reply", "autoreply", "auto-reply", "auto reply",
	"auto response", "autoresponse", "auto-response", "abwesenheitsnotiz", "automatische antwort",
	"réponse automatique", "reponse automatique", "automatisch antwoord", "afwezigheidsbericht",
	"risposta automatica", "respuesta automática", "resposta automática", "automatyczna odpowiedź",
	"自動応答", "自動返信",
}

// autoReplyPrefixes start such subjects; alone in a subject they may mean
// something else ("Your vacation booking").
var autoReplyPrefixes = []string{"auto:", "vacation", "away:", "on vacation", "i am away", "afwezig"}

// bounceSubjects appear in the subjects of delivery failures, which also
// carry Auto-Submitted and must not pass for auto-replies.
var bounceSubjects = []string{
	"undeliver", "delivery status", "delivery fail", "delivery notification", "failure notice",
	"returned mail", "mail delivery", "non remis", "unzustellbar", "nicht zustellbar",
	"could not be delivered", "not delivered", "delivery problem", "rejected", "returned to sender",
	"onbestelbaar", "warning: message", "delayed mail",
}

// bounceSenders are local parts of the addresses delivery failures come
// from.
var bounceSenders = []string{"mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "mailerdaemon"}

// isAutoReply reports whether a message that is not a bounce is an
// automatic reply (RFC 3834): marked so by Auto-Submitted: auto-replied
// (section 5), by the X-Autoreply family or Precedence: auto_reply, or
// titled like one.
func isAutoReply(h header, subject, from string) bool {
	lf := strings.ToLower(from)
	for _, s := range bounceSenders {
		if strings.Contains(lf, s) {
			return false
		}
	}
	ls := strings.ToLower(subject)
	for _, s := range bounceSubjects {
		if strings.Contains(ls, s) {
			return false
		}
	}
	if strings.HasPrefix(strings.ToLower(h.text("Auto-Submitted")), "auto-replied") {
		return true
	}
	if h.get("X-Autoreply") != nil || h.get("X-Autorespond") != nil || h.get("X-Autoresponder") != nil {
		return true
	}
	if p := strings.ToLower(h.text("Precedence")); p == "auto_reply" {
		return true
	}
	for _, s := range autoReplyPhrases {
		if strings.Contains(ls, s) {
			return true
		}
	}
	for _, s := range autoReplyPrefixes {
		if strings.HasPrefix(ls, s) {
			return true
		}
	}
	return false
}

// isUnsubscribeRequest reports whether the message is a one-click
// unsubscribe request a mail client sends on the user's behalf, such as
// Apple Mail's, marked by X-Apple-Unsubscribe: true. It is a complaint of
// type opt-out from the sender of the message.
func isUnsubscribeRequest(h header) bool {
	return strings.EqualFold(h.text("X-Apple-Unsubscribe"), "true")
}

// isNotice reports whether a message that is not MIME-structured as a
// report comes from mail software reporting on delivery: sent by a
// mailer daemon or postmaster, or titled like a delivery failure, and not
// a person's reply (which may quote a report).
func isNotice(h header, subject, from string) bool {
	ls := strings.ToLower(subject)
	if h.get("In-Reply-To") != nil || strings.HasPrefix(ls, "re:") {
		return false
	}
	lf := strings.ToLower(from)
	for _, s := range bounceSenders {
		if strings.Contains(lf, s) {
			return true
		}
	}
	for _, s := range bounceSubjects {
		if strings.Contains(ls, s) {
			return true
		}
	}
	return false
}
