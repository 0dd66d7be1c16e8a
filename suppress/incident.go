package suppress

import (
	"strings"
	"time"

	"github.com/rebound-mail/rebound/record"
)

// providers maps the host names of large mailbox providers' inbound servers
// to the provider's name, so that blocks for the many domains a provider
// hosts form one incident. Suffixes are matched on a label boundary.
var providers = []struct{ suffix, name string }{
	{"protection.outlook.com", "outlook.com"},
	{"outlook.com", "outlook.com"},
	{"hotmail.com", "outlook.com"},
	{"google.com", "gmail.com"},
	{"googlemail.com", "gmail.com"},
	{"yahoodns.net", "yahoo.com"},
	{"yahoo.com", "yahoo.com"},
	{"icloud.com", "icloud.com"},
	{"me.com", "icloud.com"},
	{"mail.ru", "mail.ru"},
	{"yandex.net", "yandex.ru"},
	{"pphosted.com", "proofpoint"},
	{"mimecast.com", "mimecast"},
	{"messagelabs.com", "messagelabs"},
	{"barracudanetworks.com", "barracuda"},
}

// IncidentKey tells which incident a record feeds: its destination (the
// provider behind the remote MTA when known, else the recipient's domain)
// and its code (enhanced status, else SMTP reply code, else reason). ok is
// false for records that are not blocks.
func IncidentKey(rec *record.Record) (domain, code string, ok bool) {
	if rec.Class != record.ClassBlock {
		return "", "", false
	}
	domain = Provider(rec.RemoteMTA)
	if domain == "" {
		domain = RecipientDomain(rec.Recipient)
	}
	if domain == "" {
		domain = "unknown"
	}
	switch {
	case rec.Status != "":
		code = rec.Status
	case rec.SMTPCode != "":
		code = rec.SMTPCode
	default:
		code = rec.Reason
	}
	return domain, code, true
}

// Provider names the mailbox provider that runs host, or "" when it is not
// one of the known ones.
func Provider(host string) string {
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if i := strings.IndexByte(host, ' '); i >= 0 {
		host = host[:i] // "mx.example.net [192.0.2.1]": keep the name
	}
	for _, p := range providers {
		if host == p.suffix || strings.HasSuffix(host, "."+p.suffix) {
			return p.name
		}
	}
	return ""
}

// RecipientDomain is the domain of addr in normal form (see
// NormalizeAddress), or "" when addr is not an address.
func RecipientDomain(addr string) string {
	addr, err := NormalizeAddress(addr)
	if err != nil {
		return ""
	}
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// IncidentOpen reports whether an incident whose last block was at lastSeen
// is still open at now: it closes once the blocks have stopped for
// IncidentQuiet.
func (p Policy) IncidentOpen(lastSeen, now time.Time) bool {
	p = p.WithDefaults()
	return now.Sub(lastSeen) < p.IncidentQuiet
}
