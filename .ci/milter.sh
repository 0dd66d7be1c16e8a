#!/usr/bin/env bash
# milter.sh - end to end of milter mode: a private Postfix with
# smtpd_milters pointing at `rebound serve` ([milter] listen, action
# discard), its store a private PostgreSQL cluster; a small SMTP client
# sends through Postfix:
#   1. a DSN to the bounce domain: stored once, with its record, as Postfix
#      received it; discarded (not delivered to the bounce mailbox);
#   2. a DSN to the bounce domain and another domain: stored, the bounce
#      recipient removed, delivered to the other only;
#   3. a message to another domain: delivered untouched, nothing stored;
#   4. the store stopped: the client gets rebound's 451 4.3.0;
#   5. rebound stopped: the client gets a 4xx (milter_default_action).
# Prints PASS/FAIL lines; exits non-zero on any FAIL.
# Needs root (apt-get install postfix, postfix master, PostgreSQL as postgres).
# env: REBOUND_BIN: a built rebound to use instead of building ./cmd/rebound.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "milter.sh: must run as root" >&2; exit 2; }
export PATH=$PATH:/usr/local/go/bin
log() { printf '[milter.sh %4ss] %s\n' "$SECONDS" "$*" >&2; }

# ---- Postfix, installed without starting a system instance ---------------------------
if ! command -v postfix >/dev/null 2>&1; then
	log "installing postfix"
	export DEBIAN_FRONTEND=noninteractive
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	RCD_ADDED=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		RCD_ADDED=1
	fi
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends postfix >/dev/null
	[ $RCD_ADDED = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rebound-milter.XXXXXX")
chmod 755 "$WORK" # postfix and nobody must traverse it
PF=$WORK/pf
SERVE_PID=""
PG_DIR=""
cleanup() {
	local rc=$?
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill "$SERVE_PID"
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	if [ -f "$PF/spool/pid/master.pid" ]; then
		postfix -c "$PF/etc" stop >/dev/null 2>&1 || postfix -c "$PF/etc" abort >/dev/null 2>&1 || true
	fi
	[ -z "$PG_DIR" ] || "$ROOT/.ci/postgres.sh" stop "$PG_DIR" 2>/dev/null || true
	if [ $rc = 0 ]; then rm -rf "$WORK"; else echo "milter.sh: work dir kept: $WORK" >&2; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
free_port() { # first free port from $1
	local p=$1
	while ! port_free "$p"; do p=$((p + 1)); done
	echo "$p"
}
wait_port() { # port seconds
	local i
	for i in $(seq $(($2 * 10))); do port_free "$1" || return 0; sleep 0.1; done
	return 1
}

FAILS=0
check() { # what, then a command
	local what=$1
	shift
	if "$@"; then echo "PASS $what"; else echo "FAIL $what"; FAILS=$((FAILS + 1)); fi
}

# ---- PostgreSQL store ------------------------------------------------------------------
eval "$("$ROOT/.ci/postgres.sh" start)"
PG_DIR=$REBOUND_PG_DIR
DB=$REBOUND_TEST_POSTGRES
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
sql() { "$PGBIN/psql" -X -q -At "$DB" -c "$1"; }

# ---- rebound serve ---------------------------------------------------------------------
REBOUND=${REBOUND_BIN:-}
if [ -z "$REBOUND" ]; then
	log "building rebound"
	(cd "$ROOT" && go build -o "$WORK/rebound" ./cmd/rebound)
	REBOUND=$WORK/rebound
fi
SMTP_PORT=$(free_port 2640)
MILTER_PORT=$(free_port $((SMTP_PORT + 1)))
PF_PORT=$(free_port $((MILTER_PORT + 1)))
cat >"$WORK/rebound.toml" <<TOML
domains = ["bounces.test"]
log_level = "info"
[listener]
listen = "127.0.0.1:$SMTP_PORT"
hostname = "rebound-milter.test"
[store]
url = "$DB"
[milter]
listen = "127.0.0.1:$MILTER_PORT"
action = "discard"
TOML
"$REBOUND" serve --config "$WORK/rebound.toml" --api-listen "" 2>"$WORK/serve.log" &
SERVE_PID=$!
if ! wait_port "$MILTER_PORT" 20; then
	echo "FAIL rebound serve listens for the milter on 127.0.0.1:$MILTER_PORT"
	cat "$WORK/serve.log" >&2
	exit 1
fi
log "rebound serve (pid $SERVE_PID): SMTP $SMTP_PORT, milter $MILTER_PORT"

# ---- private Postfix: own config, queue and log; maildirs for both domains ---------------
mkdir -p "$PF/etc" "$PF/spool" "$WORK/vmail"
chown nobody:nogroup "$WORK/vmail"
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $WORK
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.milter.test
mydomain = milter.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
alias_maps =
alias_database =
virtual_mailbox_domains = bounces.test, other.test
virtual_mailbox_base = $WORK/vmail
virtual_mailbox_maps = texthash:\$config_directory/mailboxes
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_milters = inet:127.0.0.1:$MILTER_PORT
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 5s
queue_run_delay = 5s
biff = no
EOF
cat >"$PF/etc/mailboxes" <<EOF
bounce@bounces.test bounces/
bob@other.test other/
EOF
cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n  -  n  60   1  pickup
cleanup   unix  n  -  n  -    0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
rewrite   unix  -  -  n  -    -  trivial-rewrite
bounce    unix  -  -  n  -    0  bounce
defer     unix  -  -  n  -    0  bounce
trace     unix  -  -  n  -    0  bounce
verify    unix  -  -  n  -    1  verify
proxymap  unix  -  -  n  -    -  proxymap
showq     unix  n  -  n  -    -  showq
error     unix  -  -  n  -    -  error
retry     unix  -  -  n  -    -  error
discard   unix  -  -  n  -    -  discard
virtual   unix  -  n  n  -    -  virtual
anvil     unix  -  -  n  -    1  anvil
scache    unix  -  -  n  -    1  scache
postlog   unix-dgram n - n  -    1  postlogd
EOF
# postfix(1) logs to syslog until postlogd runs: capture its errors with script(1)
if ! script -qec "postfix -c $PF/etc start" /dev/null >"$WORK/postfix-start.log" 2>&1; then
	cat "$WORK/postfix-start.log" >&2
	exit 1
fi
wait_port "$PF_PORT" 20 || { echo "FAIL postfix listens on $PF_PORT"; exit 1; }
log "postfix on 127.0.0.1:$PF_PORT"

# ---- messages ----------------------------------------------------------------------------
dsn() { # message-id: a DSN from a remote MTA, CRLF line endings, a folded field
	cat <<EOF | sed 's/$/\r/'
From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>
To: bounce@bounces.test
Subject:  Undelivered Mail Returned to Sender
Date: Wed, 4 Mar 2026 09:00:00 +0000
Message-ID: <$1@mx.remote.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="b-$1"

--b-$1
Content-Type: text/plain; charset=us-ascii

The message to gone-$1@dest.example could not be delivered.
.a line starting with a dot

--b-$1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.example

Final-Recipient: rfc822; gone-$1@dest.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone-$1@dest.example>: Recipient address rejected: User unknown

--b-$1
Content-Type: text/rfc822-headers

From: news@sender.example
To: gone-$1@dest.example
Subject: news
Message-ID: <news-$1@sender.example>

--b-$1--
EOF
}
dsn one >"$WORK/dsn1.eml"
dsn two >"$WORK/dsn2.eml"
dsn four >"$WORK/dsn4.eml"
dsn five >"$WORK/dsn5.eml"
printf 'From: alice@elsewhere.example\r\nTo: bob@other.test\r\nSubject: lunch\r\nMessage-ID: <lunch@elsewhere.example>\r\n\r\nNoon?\r\n' >"$WORK/plain.eml"

# send FROM RCPT[,RCPT] FILE: prints the final reply "CODE TEXT" of the
# transaction (a refused RCPT counts only when every one is refused).
send() {
	python3 - "$PF_PORT" "$@" <<'PY'
import smtplib, sys
port, frm, rcpts, path = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
data = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", int(port), timeout=60)
s.ehlo("client.milter.test")
code, msg = s.mail(frm)
if code != 250:
    print(code, msg.decode()); sys.exit()
ok = 0
for r in rcpts:
    code, msg = s.rcpt(r)
    if code == 250:
        ok += 1
    else:
        last = (code, msg)
if not ok:
    print(last[0], last[1].decode()); sys.exit()
code, msg = s.data(data)
print(code, msg.decode().replace("\n", " "))
s.quit()
PY
}
records() { "$REBOUND" bounces --json --db "$DB" | grep -c "\"recipient\":\"$1\"" || true; }
messages() { sql "select count(*) from messages"; }
mails() { find "$WORK/vmail/$1" -type f -path '*/new/*' 2>/dev/null | wc -l; }
wait_mail() { # mailbox count
	local i
	for i in $(seq 100); do [ "$(mails "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}
# stored_as_sent FILE: the stored raw message is FILE byte for byte (after
# the Received fields of the MTA, for one that shows them to its milters).
stored_as_sent() {
	local id
	id=$(sql "select id from messages order by id desc limit 1")
	sql "select encode(raw, 'base64') from messages where id = $id" | base64 -d >"$WORK/stored.deflate"
	python3 - "$WORK/stored.deflate" "$1" <<'PY'
import sys, re, zlib
# raw is stored DEFLATE-compressed (RFC 1951)
stored = zlib.decompress(open(sys.argv[1], "rb").read(), -15)
sent = open(sys.argv[2], "rb").read()
if not stored.endswith(sent):
    sys.exit("stored message does not end with the message sent")
prefix = stored[: len(stored) - len(sent)]
if not re.fullmatch(rb"(Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n)*", prefix):
    sys.exit("before the message sent: %r" % prefix)
PY
}
has_code() { case "$1" in "$2"*) return 0 ;; *) echo "  reply: $1" >&2; return 1 ;; esac; }

# ---- 1. a DSN to the bounce domain ----------------------------------------------------
R=$(send "" bounce@bounces.test "$WORK/dsn1.eml")
check "DSN through Postfix answered 250 ($R)" has_code "$R" 250
check "DSN record stored exactly once" test "$(records gone-one@dest.example)" = 1
check "DSN stored byte for byte as Postfix received it" stored_as_sent "$WORK/dsn1.eml"
check "DSN stored with source milter and its envelope" test \
	"$(sql "select source || ' ' || mail_from || ' ' || rcpt_to from messages order by id desc limit 1")" = 'milter  ["bounce@bounces.test"]'
sleep 1
check "DSN discarded: nothing in the bounce mailbox" test "$(mails bounces)" = 0

# ---- 2. a DSN to the bounce domain and another domain ---------------------------------
R=$(send "" bounce@bounces.test,bob@other.test "$WORK/dsn2.eml")
check "mixed DSN answered 250 ($R)" has_code "$R" 250
check "mixed DSN record stored exactly once" test "$(records gone-two@dest.example)" = 1
check "mixed DSN delivered to the other recipient" wait_mail other 1
check "mixed DSN: bounce recipient removed, not delivered to it" test "$(mails bounces)" = 0

# ---- 3. mail to another domain --------------------------------------------------------
BEFORE=$(messages)
R=$(send alice@elsewhere.example bob@other.test "$WORK/plain.eml")
check "other mail answered 250 ($R)" has_code "$R" 250
check "other mail delivered by Postfix" wait_mail other 2
check "other mail delivered untouched" bash -c "grep -l 'Message-ID: <lunch@elsewhere.example>' '$WORK'/vmail/other/new/* >/dev/null"
check "other mail not stored by rebound" test "$(messages)" = "$BEFORE"

# ---- 4. store down: rebound answers 451 --------------------------------------------------
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
R=$(send "" bounce@bounces.test "$WORK/dsn4.eml")
check "store down: DSN answered 451 4.3.0 by rebound ($R)" has_code "$R" "451 4.3.0 Temporary"
check "store down: nothing delivered to the bounce mailbox" test "$(mails bounces)" = 0

# ---- 5. rebound down: Postfix's milter_default_action tempfails --------------------------
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=""
R=$(send "" bounce@bounces.test "$WORK/dsn5.eml")
check "rebound down: DSN answered 4xx ($R)" has_code "$R" 4

if [ "$FAILS" -gt 0 ]; then
	echo "milter.sh: $FAILS failed" >&2
	cp "$PF/maillog" "$WORK/serve.log" "$WORK" 2>/dev/null || true
	exit 1
fi
echo "milter.sh: all passed in ${SECONDS}s"
