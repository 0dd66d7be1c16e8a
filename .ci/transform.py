#!/usr/bin/env python3
"""transform.py - derive from real DSNs the forms real bounce mail takes on its way.

Usage: transform.py [--variant NAME[,NAME...]] SRC OUT

SRC is a DSN file or a folder of *.eml DSNs. For every DSN NAME.eml and every
variant V, OUT/V/NAME.V.eml is written. Each variant still reports the same
failed recipient with the same reply, so it keeps the DSN's expected verdict.

Variants:
  text-only     Only the human-readable text part of the report stays: it becomes
                the whole body, with its own Content-Type and transfer encoding,
                under the DSN's top-level headers (From, To, Subject, Date, ...).
                The machine-readable parts (message/delivery-status, the returned
                headers or message) are gone, as when a ticket system or a
                forwarding rule keeps only the first text part.
  fwd-attach    A person forwards the DSN as an attachment: a new multipart/mixed
                message from a helpdesk address, Subject "Fwd: ...", with a short
                text part (its signature names the person's own address) and the
                whole DSN as a message/rfc822 part.
  reply-quoted  A person replies to the DSN: a text/plain message whose body is a
                short note, then "On <date>, <DSN sender> wrote:" and the DSN's
                human-readable text quoted line by line with "> ".
  fwd-inline    A person forwards the DSN inline, the way Gmail does: a note, a
                "---------- Forwarded message ---------" block with From, Date,
                Subject and To lines, then the DSN's human-readable text.
  base64        The DSN with every text/* part (the human-readable text, the
                returned headers, the text of a returned message) re-encoded as
                base64; everything else is left as it is.
  qp            The same, with quoted-printable.
  lf            Every CRLF line ending made LF, as a Unix mailbox or maildir
                stores the message.
  crlf          Every line ending made CRLF, as SMTP carries the message. A DSN
                that already ends every line with CRLF comes out unchanged.

The helpdesk person's address (From of the wrappers, To of the reply) is never
the failed recipient: the expected recipient stays the one the DSN reports.
Messages built here end their lines with CRLF, as when received by SMTP.
Exit status 1 when some DSN could not be transformed (e.g. it has no text part);
the others are still written.
"""
import argparse
import datetime
import email
import email.base64mime
import email.policy
import email.quoprimime
import email.utils
import os
import sys
from email.message import EmailMessage

# New parts are made with the default policy and CRLF line endings. DSNs are read,
# and everything is written, with a policy that never refolds a header or a
# delivery-status field taken from the source: what comes from the DSN stays byte
# for byte as the MTA wrote it.
POLICY = email.policy.SMTP
SOURCE = email.policy.SMTP.clone(max_line_length=0, refold_source="none")
VARIANTS = ["text-only", "fwd-attach", "reply-quoted", "fwd-inline", "base64", "qp", "lf", "crlf"]

# The person who forwards or replies, and the team they write to.
HELPDESK = "Pat Morgan <pat.morgan@helpdesk.example>"
TEAM = "Mail Operations <mail-ops@helpdesk.example>"
SIGNATURE = "-- \nPat Morgan | Customer Helpdesk\npat.morgan@helpdesk.example | +1 555 0142\n"

# Headers that describe a message's content: they go with the body, not with the envelope.
CONTENT_HEADERS = {"mime-version", "content-type", "content-transfer-encoding",
                   "content-description", "content-disposition", "content-id"}
# Headers the capture server adds to each saved message; a person forwarding the
# DSN never sees them.
CAPTURE_PREFIX = "x-capture-"


class NoText(Exception):
    pass


def parse(raw):
    return email.message_from_bytes(raw, policy=SOURCE)


def to_bytes(msg):
    return msg.as_bytes(policy=SOURCE)


def report_text_part(msg):
    """The DSN's human-readable text: its first text/plain part outside any
    returned message (RFC 3462 section 1: the first part of a multipart/report),
    or the body of a DSN that is plain text itself."""
    def first(part):
        if part.get_content_maintype() == "message":
            return None  # the returned message or the delivery-status fields
        if part.is_multipart():
            for sub in part.iter_parts():
                found = first(sub)
                if found is not None:
                    return found
            return None
        if part.get_content_type() == "text/plain":
            return part
        return None
    part = first(msg)
    if part is None:
        raise NoText("no text/plain part outside the returned message")
    return part


def text_of(part):
    """Decoded text of a text part, with LF line endings."""
    text = part.get_content()
    return text.replace("\r\n", "\n")


def set_text(msg, text):
    """The body as a person's mail client sends it: plain text, not re-encoded
    (lines up to RFC 5322's 998 characters), so only the wrapping is new here."""
    msg.set_content(text, cte="7bit" if text.isascii() else "8bit")


def later(msg, minutes):
    """A date some minutes after the DSN's own Date (deterministic, unlike now())."""
    try:
        d = email.utils.parsedate_to_datetime(str(msg["Date"]))
    except (TypeError, ValueError):
        d = None
    if d is None:
        d = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    return d + datetime.timedelta(minutes=minutes)


def wrapper(msg, stem, subject_prefix, minutes):
    """A new message from the helpdesk person about the DSN."""
    out = EmailMessage(policy=POLICY)
    out["From"] = HELPDESK
    out["To"] = TEAM
    out["Subject"] = subject_prefix + str(msg.get("Subject", "")).strip()
    out["Date"] = email.utils.format_datetime(later(msg, minutes))
    out["Message-ID"] = f"<{subject_prefix.strip(': ').lower()}.{stem}@helpdesk.example>"
    return out


def text_only(raw, stem):
    msg = parse(raw)
    part = report_text_part(msg)
    out = EmailMessage(policy=SOURCE)
    for k, v in msg.raw_items():  # the DSN's top-level headers, as they were
        if k.lower() not in CONTENT_HEADERS:
            out.set_raw(k, v)
    out["MIME-Version"] = "1.0"
    for k, v in part.raw_items():  # the text part's own Content-Type and encoding
        if k.lower() in CONTENT_HEADERS and k.lower() != "mime-version":
            out.set_raw(k, v)
    # The body as it was encoded, byte for byte: an 8bit UTF-8 text part
    # (Postfix writes one for SMTPUTF8 replies) must not go through a str.
    out.set_payload("")
    head = to_bytes(out).rstrip(b"\r\n") + b"\r\n\r\n"
    if part.get("Content-Transfer-Encoding", "7bit").strip().lower() in ("7bit", "8bit", "binary"):
        # identity encodings: the bytes as sent, also the 8bit bytes some
        # MTAs put in a part they call 7bit us-ascii (OpenSMTPD)
        body = part.get_payload(decode=True)
    else:
        body = part.get_payload().encode("ascii", "surrogateescape")
    return head + body


def fwd_attach(raw, stem):
    dsn = parse(raw)
    out = wrapper(dsn, stem, "Fwd: ", 41)
    set_text(out, "Hi team,\n\nthis came back when I wrote to a customer today, see the "
                    "attached message.\nCan you check whether the address is still good?\n\n"
                    + SIGNATURE)
    inner = parse(raw)
    for k in {k for k in inner.keys() if k.lower().startswith(CAPTURE_PREFIX)}:
        del inner[k]
    subject = str(dsn.get("Subject", "bounce")).strip() or "bounce"
    out.add_attachment(inner, filename=subject + ".eml")
    del out.get_payload()[-1]["MIME-Version"]  # added by add_attachment; parts do not carry it
    out.set_boundary(f"=_fwd_{stem}")
    return to_bytes(out)


def reply_quoted(raw, stem):
    dsn = parse(raw)
    text = text_of(report_text_part(dsn))
    out = wrapper(dsn, stem, "Re: ", 23)
    if dsn["Message-Id"]:
        out["In-Reply-To"] = str(dsn["Message-Id"]).strip()
        out["References"] = str(dsn["Message-Id"]).strip()
    date = later(dsn, 0).strftime("%a, %b %-d, %Y at %-I:%M %p")
    sender = email.utils.parseaddr(str(dsn.get("From", "")))[0] or "Mail Delivery System"
    quoted = "\n".join(("> " + line) if line.strip() else ">" for line in text.rstrip("\n").split("\n"))
    set_text(out, "Hi,\n\nI got the message below back. Is the address wrong, or is it on "
                    "our side?\n\n" + SIGNATURE + "\n"
                    f"On {date}, {sender} wrote:\n" + quoted + "\n")
    return to_bytes(out)


def fwd_inline(raw, stem):
    dsn = parse(raw)
    text = text_of(report_text_part(dsn))
    out = wrapper(dsn, stem, "Fwd: ", 37)
    date = later(dsn, 0).strftime("%a, %b %-d, %Y at %-I:%M %p")
    block = ("---------- Forwarded message ---------\n"
             f"From: {str(dsn.get('From', '')).strip()}\n"
             f"Date: {date}\n"
             f"Subject: {str(dsn.get('Subject', '')).strip()}\n"
             f"To: {str(dsn.get('To', '')).strip()}\n\n\n")
    set_text(out, "FYI, this bounced. Forwarding so you have the details.\n\n"
                    + SIGNATURE + "\n" + block + text)
    return to_bytes(out)


def text_parts(part):
    """Every text/* part, also inside a returned message/rfc822. Not the field
    groups of a message/delivery-status, which the email package holds as parts."""
    if part.get_content_type() in ("message/rfc822", "message/global") or part.is_multipart() \
            and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            yield from text_parts(sub)
    elif part.get_content_maintype() == "text":
        yield part


def reencode(raw, cte):
    msg = parse(raw)
    for part in text_parts(msg):
        data = part.get_payload(decode=True)  # bytes, the current transfer encoding undone
        if cte == "base64":  # RFC 2045 section 6.8, lines of 76 characters
            body = email.base64mime.body_encode(data, maxlinelen=76)
        else:  # RFC 2045 section 6.7; spaces stay literal except at the end of a line
            body = email.quoprimime.body_encode(data.decode("latin-1"), maxlinelen=76)
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = cte
        part.set_payload(body)
    return to_bytes(msg)


def line_endings(raw, eol):
    lf = raw.replace(b"\r\n", b"\n")
    return lf if eol == b"\n" else lf.replace(b"\n", b"\r\n")


TRANSFORMS = {
    "text-only": text_only,
    "fwd-attach": fwd_attach,
    "reply-quoted": reply_quoted,
    "fwd-inline": fwd_inline,
    "base64": lambda raw, stem: reencode(raw, "base64"),
    "qp": lambda raw, stem: reencode(raw, "quoted-printable"),
    "lf": lambda raw, stem: line_endings(raw, b"\n"),
    "crlf": lambda raw, stem: line_endings(raw, b"\r\n"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 usage=argparse.SUPPRESS)
    ap.add_argument("--variant", default=",".join(VARIANTS),
                    help="comma-separated variants to write (default: all)")
    ap.add_argument("src", help="a DSN file or a folder of *.eml DSNs")
    ap.add_argument("out", help="folder to write OUT/VARIANT/NAME.VARIANT.eml into")
    args = ap.parse_args()
    variants = [v.strip() for v in args.variant.split(",") if v.strip()]
    for v in variants:
        if v not in TRANSFORMS:
            ap.error(f"unknown variant {v!r} (known: {', '.join(VARIANTS)})")
    if os.path.isdir(args.src):
        files = sorted(os.path.join(args.src, n) for n in os.listdir(args.src) if n.endswith(".eml"))
    else:
        files = [args.src]
    failed = 0
    for v in variants:
        os.makedirs(os.path.join(args.out, v), exist_ok=True)
    for path in files:
        stem = os.path.basename(path)[:-len(".eml")] if path.endswith(".eml") else os.path.basename(path)
        with open(path, "rb") as f:
            raw = f.read()
        for v in variants:
            try:
                data = TRANSFORMS[v](raw, stem)
            except (NoText, ValueError, TypeError, LookupError) as e:
                print(f"transform: {path}: {v}: {e}", file=sys.stderr)
                failed += 1
                continue
            with open(os.path.join(args.out, v, f"{stem}.{v}.eml"), "wb") as f:
                f.write(data)
    print(f"transform: {len(files)} DSNs x {len(variants)} variants into {args.out}"
          + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
