#!/usr/bin/env bash
# gen-dsn-more.sh - more MTA families for the replies matrix: OpenSMTPD bounces one
# message per row of a replies table through loopback fakes that give each row's
# reply, and its DSNs are captured as DIR/<mta>-<id>.eml, the layout that
# ../shared/mta/gen-dsn.sh --replies gives for Postfix and Exim.
#
# usage: gen-dsn-more.sh --replies FILE --capture DIR [--timeout SEC] [--keep] HOST:PORT
#   HOST:PORT       loopback address where a capture server takes the DSNs
#   --replies FILE  TSV with a header line and the columns id rcpt stage reply (see
#                   gen-dsn.sh --help); row N's fake remote listens on 127.0.1.N:REPLY_PORT
#                   (rows 251.. on 127.0.2.x) and answers `reply` at RCPT TO or after DATA
#   --capture DIR   DSNs are saved as DIR/opensmtpd-<id>.eml, matched to their row by the
#                   failed recipient they report; a report whose action is not "failed"
#                   gets that action as a suffix (-delayed), as gen-dsn.sh names them
#   --timeout SEC   most seconds to wait for the DSNs (default 90)
#   --keep          keep the run dir (config, logs)
# OpenSMTPD conflicts with Postfix as the system MTA: its .deb is unpacked into the cache,
# not installed, and smtpd runs in a mount and UTS namespace of its own, where its
# compiled-in paths (/var/spool/smtpd, /run/smtpd.sock, /var/lib/opensmtpd/empty), its
# host name, /etc/hosts and /etc/resolv.conf are the run dir's. Every row address is routed only to its own
# fake (match ... rcpt-to); the sender domain dsn-sink.test to HOST:PORT; anything else is
# refused at RCPT TO, so nothing leaves loopback. A 4xx row expires after 20 s.
# env: BASE (default ${TMPDIR:-/tmp}/rebound-mta) holds the cache and run dirs;
#      OSMTPD_PORT (2800): OpenSMTPD's listener; REPLY_PORT (2545): port of the fakes;
#      DNS_ADDR (127.0.0.154): the fake DNS (NXDOMAIN for everything) smtpd is given;
#      REBOUND_SHARED (default: ../shared beside the repository), for gen-dsn.sh's mtakit.
# Needs root (apt-get, users opensmtpd and opensmtpq, namespaces).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${REBOUND_SHARED:-$ROOT/../shared}
BASE=${BASE:-${TMPDIR:-/tmp}/rebound-mta}
OSMTPD_PORT=${OSMTPD_PORT:-2800}
REPLY_PORT=${REPLY_PORT:-2545}
DNS_ADDR=${DNS_ADDR:-127.0.0.154}
TIMEOUT=90
KEEP=0
REPLIES=""
CAPTURE=""
TARGET=""
while [ $# -gt 0 ]; do
  case "$1" in
    --replies) REPLIES=$2; shift 2 ;;
    --capture) CAPTURE=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^# Needs root/p' "$0"; exit 0 ;;
    *) TARGET=$1; shift ;;
  esac
done
[ -n "$TARGET" ] && [ -n "$REPLIES" ] && [ -n "$CAPTURE" ] ||
  { echo "usage: $0 --replies FILE --capture DIR HOST:PORT" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 2; }
T_IP=${TARGET%:*}; T_PORT=${TARGET##*:}
case "$T_IP" in 127.*) ;; *) echo "target $TARGET is not a loopback IPv4 address" >&2; exit 2 ;; esac
log() { printf '[gen-dsn-more %4ss] %s\n' "$SECONDS" "$*" >&2; }
port_free() { ! timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# ---- rows: "N<TAB>id<TAB>rcpt<TAB>stage<TAB>fake-ip<TAB>reply" (gen-dsn.sh checks the table) ----
ROWS=$(awk -F'\t' '
  { sub(/\r$/, "") }
  FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  /^[ \t]*$/ || /^#/ { next }
  { n++; printf "%d\t%s\t%s\t%s\t127.0.%d.%d\t%s\n", n, $col["id"], tolower($col["rcpt"]),
      tolower($col["stage"]), 1 + int((n - 1) / 250), 1 + (n - 1) % 250, $col["reply"] }
' "$REPLIES")
[ -n "$ROWS" ] || { echo "$REPLIES: no rows" >&2; exit 2; }

# ---- OpenSMTPD from its .deb, unpacked; its libraries installed --------------------------------
OS_ROOT=$BASE/cache/opensmtpd-root
if [ ! -x "$OS_ROOT/usr/sbin/smtpd" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show opensmtpd >/dev/null 2>&1 || apt-get update -q >/dev/null
  NEED=()
  for l in $(apt-cache depends opensmtpd | awk '/Depends: lib/{print $2}'); do
    dpkg -s "$l" >/dev/null 2>&1 || NEED+=("$l")
  done
  if [ ${#NEED[@]} -gt 0 ]; then log "installing: ${NEED[*]}"; apt-get install -y -q --no-install-recommends "${NEED[@]}" >/dev/null; fi
  log "unpacking opensmtpd (not installed as a package)"
  rm -rf "$BASE/cache/opensmtpd-deb" "$OS_ROOT"; mkdir -p "$BASE/cache/opensmtpd-deb" "$OS_ROOT"
  (cd "$BASE/cache/opensmtpd-deb" && apt-get download -q opensmtpd >/dev/null 2>&1)
  dpkg-deb -x "$BASE"/cache/opensmtpd-deb/opensmtpd_*.deb "$OS_ROOT"
fi
for u in opensmtpd opensmtpq; do  # the compiled-in privilege-separation users of Debian's build
  getent passwd $u >/dev/null ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $u
done

# ---- mtakit (capture server, fakes, client, DSN mapper) from gen-dsn.sh ---------------------------
GEN=$SHARED/mta/gen-dsn.sh
[ -f "$GEN" ] || { echo "$GEN not found" >&2; exit 1; }
SRC=$BASE/more/src; MTAKIT=$BASE/more/bin/mtakit
mkdir -p "$SRC" "$BASE/more/bin"
{ sed -n '/^write_mtakit_source() {$/,/^GOEOF$/p' "$GEN"; echo '}'; echo write_mtakit_source; } | bash > "$SRC/mtakit.go.new"
cmp -s "$SRC/mtakit.go.new" "$SRC/mtakit.go" || mv "$SRC/mtakit.go.new" "$SRC/mtakit.go"
rm -f "$SRC/mtakit.go.new"
[ -f "$SRC/go.mod" ] || printf 'module mtakit\n\ngo 1.21\n' > "$SRC/go.mod"
if [ ! -x "$MTAKIT" ] || [ "$SRC/mtakit.go" -nt "$MTAKIT" ]; then
  command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
  log "building mtakit"; (cd "$SRC" && go build -o "$MTAKIT" .)
fi

# ---- run dir; everything started is recorded and stopped by pid -----------------------------------
mkdir -p "$BASE"; chmod 755 "$BASE"
RUN=$(mktemp -d "$BASE/more.XXXXXX"); chmod 755 "$RUN"
printf '%s\n' "$ROWS" > "$RUN/rows.tsv"
awk -F'\t' '{print $3 "\t" $2}' "$RUN/rows.tsv" > "$RUN/rcpt-ids"
: > "$RUN/pids"
SUMMARY=""
stop_all() {
  local rc=$? p
  for p in $(cat "$RUN/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $KEEP = 0 ] && [ $rc = 0 ]; then rm -rf "$RUN"; else log "run dir kept: $RUN"; fi
  [ -z "$SUMMARY" ] || log "$SUMMARY"
  exit $rc
}
trap stop_all EXIT
trap 'exit 130' INT TERM
start_bg() {  # log-name command...
  local n=$1; shift
  "$@" > "$RUN/$n.log" 2>&1 &
  echo $! >> "$RUN/pids"
}

port_free "$T_IP" "$T_PORT" || { echo "$TARGET is busy" >&2; exit 1; }
port_free 127.0.0.1 "$OSMTPD_PORT" || { echo "127.0.0.1:$OSMTPD_PORT is busy" >&2; exit 1; }
mkdir -p "$RUN/cap" "$CAPTURE"
rm -f "$CAPTURE"/opensmtpd-*.eml
start_bg capture "$MTAKIT" capture -listen "$TARGET" -dir "$RUN/cap" -greet dsn-sink.test
while IFS=$'\t' read -r -u 3 n id rcpt stage ip reply; do
  port_free "$ip" "$REPLY_PORT" || { echo "$ip:$REPLY_PORT (fake for row $id) is busy" >&2; exit 1; }
  start_bg "fake-r$n" "$MTAKIT" fake -listen "$ip:$REPLY_PORT" -greet "mx$n.replies.test" "-$stage" "$reply"
done 3< "$RUN/rows.tsv"

# ---- OpenSMTPD: its config, and the namespace it runs in --------------------------------------------
OS=$RUN/os; mkdir -p "$OS/spool" "$OS/run" "$OS/varlib/opensmtpd/empty"
HOSTNAME_OS=mta-opensmtpd.local.test
{ grep -v "$HOSTNAME_OS" /etc/hosts; echo "127.0.0.1 $HOSTNAME_OS"; } > "$OS/hosts"
# smtpd looks up its clients' names: a fake DNS on loopback answers NXDOMAIN at once, so
# no query leaves the machine and no session waits for a resolver timeout
printf 'nameserver %s\noptions attempts:1 timeout:1\n' "$DNS_ADDR" > "$OS/resolv.conf"
start_bg fakedns "$MTAKIT" fakedns -listen "$DNS_ADDR:53"
{
  echo "# a 4xx row expires (and bounces) after 20 s; no delay warnings before that"
  echo "queue ttl 20s"
  echo "bounce warn-interval 1d"
  echo "listen on 127.0.0.1 port $OSMTPD_PORT hostname $HOSTNAME_OS"
  echo "action \"sink\" relay host smtp+notls://$T_IP:$T_PORT helo $HOSTNAME_OS"
  echo "match from local for domain \"dsn-sink.test\" action \"sink\""
  awk -F'\t' -v port="$REPLY_PORT" -v helo="$HOSTNAME_OS" '{
    printf "action \"r%d\" relay host smtp+notls://%s:%s helo %s\n", $1, $5, port, helo
    printf "match from local for rcpt-to \"%s\" action \"r%d\"\n", $3, $1 }' "$RUN/rows.tsv"
} > "$OS/smtpd.conf"
chmod 644 "$OS/smtpd.conf"
SMTPD=$OS_ROOT/usr/sbin/smtpd
"$SMTPD" -n -f "$OS/smtpd.conf" > "$RUN/configtest.log" 2>&1 ||
  { cat "$RUN/configtest.log" >&2; echo "opensmtpd rejects $OS/smtpd.conf" >&2; exit 1; }
# private mounts over the compiled-in paths, seen by smtpd only
start_bg opensmtpd unshare --mount --uts --propagation private sh -c "
  hostname $HOSTNAME_OS
  mount --bind $OS/hosts /etc/hosts
  mount --bind $OS/resolv.conf /etc/resolv.conf
  mount --bind $OS/spool /var/spool
  mount --bind $OS/run /run
  mount --bind $OS/varlib /var/lib
  exec $SMTPD -d -f $OS/smtpd.conf"
SMTPD_PID=$(tail -n1 "$RUN/pids")
for _ in $(seq 50); do port_free 127.0.0.1 "$OSMTPD_PORT" || break; sleep 0.2; done
port_free 127.0.0.1 "$OSMTPD_PORT" && { log "opensmtpd did not start"; cat "$RUN/opensmtpd.log" >&2; exit 1; }
last_ip=$(tail -n1 "$RUN/rows.tsv" | cut -f5)
for _ in $(seq 50); do port_free "$last_ip" "$REPLY_PORT" || break; sleep 0.2; done
log "opensmtpd on 127.0.0.1:$OSMTPD_PORT (pid $SMTPD_PID), $(wc -l < "$RUN/rows.tsv") reply fakes on 127.0.x.y:$REPLY_PORT, DSNs to $TARGET"

# ---- one message per row, then wait for one report per row ---------------------------------------------
nrows=$(wc -l < "$RUN/rows.tsv")
# A few submissions at a time: OpenSMTPD drops sessions when hundreds
# arrive at once, and each session takes a while.
SENDS=()
while IFS=$'\t' read -r -u 3 n id rcpt stage ip reply; do
  if [ ${#SENDS[@]} -ge 8 ]; then wait "${SENDS[0]}" || true; SENDS=("${SENDS[@]:1}"); fi
  { "$MTAKIT" send -server "127.0.0.1:$OSMTPD_PORT" -from sender@dsn-sink.test -to "$rcpt" \
      -envid "opensmtpd-$id" -subject "opensmtpd-$id" -notify FAILURE -ret HDRS </dev/null ||
      log "submit opensmtpd-$id failed"; } &
  SENDS+=($!)
done 3< "$RUN/rows.tsv"
wait_sends() { local p; for p in $(jobs -pr); do grep -qx "$p" "$RUN/pids" || wait "$p" || true; done; }
wait_sends
log "submitted $nrows messages; waiting up to ${TIMEOUT}s for their reports"
deadline=$((SECONDS + TIMEOUT))
while [ "$(ls "$RUN/cap" | wc -l)" -lt "$nrows" ] && [ $SECONDS -lt $deadline ]; do sleep 1; done
sleep 1

# ---- name the reports <mta>-<id>[-<action>].eml by the failed recipient they report --------------------
shopt -s nullglob; caps=("$RUN"/cap/*.eml); shopt -u nullglob
[ ${#caps[@]} = 0 ] || "$MTAKIT" dsnmap -rows "$RUN/rcpt-ids" "${caps[@]}" > "$RUN/dsnmap.tsv"
got=0; delayed=0
while IFS=$'\t' read -r -u 3 f mta action id rcpt src envid; do
  [ "$mta" = opensmtpd ] || mta=unknown
  if [ "$id" = - ]; then name=$mta-unmatched-$(basename "$f" .eml)
  else name=$mta-$id; [ "$action" = failed ] || name=$name-${action/#-/noaction}; fi
  case "$name" in *-delayed) delayed=$((delayed + 1)) ;; opensmtpd-*) got=$((got + 1)) ;; esac
  i=2; base=$name; while [ -e "$CAPTURE/$name.eml" ]; do name=$base-$i; i=$((i + 1)); done
  cp "$f" "$CAPTURE/$name.eml"
done 3< <(cat "$RUN/dsnmap.tsv" 2>/dev/null)
missing=$(while IFS=$'\t' read -r n id rest; do
  [ -e "$CAPTURE/opensmtpd-$id.eml" ] || compgen -G "$CAPTURE/opensmtpd-$id-*.eml" >/dev/null || printf ' %s' "$id"
done < "$RUN/rows.tsv")
# every delivery attempt of a row address must have gone to that row's fake
offroute=$(awk -F'\t' 'FNR == NR { ip[$3] = $5; next }
  / mta delivery / && match($0, / to=<[^>]*>/) { a = tolower(substr($0, RSTART + 5, RLENGTH - 6))
    if (!(a in ip)) next
    if (index($0, " relay=\"" ip[a] " (") == 0) { bad++; print "[gen-dsn-more] OFF-ROUTE: " $0 > "/dev/stderr" } }
  END { print bad + 0 }' "$RUN/rows.tsv" "$RUN/opensmtpd.log")
SUMMARY="opensmtpd: $nrows rows; failure reports $got, other reports (expired 4xx rows: OpenSMTPD reports them as delayed) $delayed; rows without a report:${missing:- none}; off-route attempts: $offroute"
