#!/usr/bin/env bash
# e2e.sh - end to end with real MTAs: Postfix and Exim generate real DSNs
# (unknown user, unknown domain, remote 5.7.1, content rejection, mailbox
# full, connection refused, message too big, relayed, two recipients) and
# deliver them by SMTP to `rebound serve`; every one must be stored with the
# right recipient, action, status and class.
# Needs root (the MTA script installs and runs Postfix and Exim).
# env: REBOUND_SHARED (default: ../shared beside the repository)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${REBOUND_SHARED:-$ROOT/../shared}
GEN=$SHARED/mta/gen-dsn.sh
[ -f "$GEN" ] || { echo "e2e: $GEN not found" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "e2e: must run as root" >&2; exit 2; }
export PATH=$PATH:/usr/local/go/bin

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rebound-e2e.XXXXXX")
SERVE_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; fi
  if [ $rc = 0 ]; then rm -rf "$WORK"; else echo "e2e: work dir kept: $WORK" >&2; fi
  exit $rc
}
trap cleanup EXIT

port_free() { ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
free_port() {  # first free port from $1
  local p=$1
  while ! port_free "$p"; do p=$((p+1)); done
  echo "$p"
}

echo "e2e: building rebound"
(cd "$ROOT" && go build -o "$WORK/rebound" ./cmd/rebound)
PORT=$(free_port 2540)
MPORT=$(free_port 9425)
cat > "$WORK/rebound.toml" <<TOML
# gen-dsn.sh sends its test mail from sender@dsn-sink.test, so the DSNs
# come back to that domain.
domains = ["dsn-sink.test"]
metrics_listen = "127.0.0.1:$MPORT"
log_level = "info"
[listener]
listen = "127.0.0.1:$PORT"
hostname = "rebound-e2e.test"
[store]
url = "$WORK/e2e.db"
TOML
"$WORK/rebound" serve --config "$WORK/rebound.toml" --api-listen "" 2> "$WORK/serve.log" &
SERVE_PID=$!
for _ in $(seq 100); do port_free "$PORT" || break; sleep 0.1; done
port_free "$PORT" && { echo "e2e: rebound serve did not start"; cat "$WORK/serve.log"; exit 1; }
echo "e2e: rebound serve on 127.0.0.1:$PORT (pid $SERVE_PID), metrics on $MPORT"

MTA_LOGS=${BASE:-${TMPDIR:-/tmp}/rebound-mta}/logs   # where gen-dsn.sh leaves the MTA logs
rm -f "$MTA_LOGS/postfix.maillog" "$MTA_LOGS/exim.mainlog"
bash "$GEN" "127.0.0.1:$PORT"
# DSNs the MTAs handed to us (250), and any they failed to hand over.
PF_SENT=$(grep -c 'to=<sender@dsn-sink.test>.*status=sent' "$MTA_LOGS/postfix.maillog" || true)
PF_NOT=$(grep -cE 'to=<sender@dsn-sink.test>.*status=(deferred|bounced)' "$MTA_LOGS/postfix.maillog" || true)
EX_SENT=$(grep -c '=> sender@dsn-sink.test' "$MTA_LOGS/exim.mainlog" || true)
EX_NOT=$(grep -cE '(== |\*\* )sender@dsn-sink.test' "$MTA_LOGS/exim.mainlog" || true)
echo "e2e: MTAs delivered $PF_SENT (postfix) + $EX_SENT (exim) DSNs; not delivered: $PF_NOT + $EX_NOT"

METRICS=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MPORT; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3" || true)
echo "$METRICS" | grep -E '^rebound_smtp_messages_(received|stored|tempfailed|duplicate|unrecognized)_total' || true
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || { echo "e2e: rebound serve exited with $?"; cat "$WORK/serve.log"; exit 1; }
SERVE_PID=""

"$WORK/rebound" bounces --json --limit 0 --db "$WORK/e2e.db" > "$WORK/records.jsonl"
echo "e2e: $(wc -l < "$WORK/records.jsonl") records stored"
printf '%s\n' "$METRICS" > "$WORK/metrics.txt"
# The MTAs' DSNs concern messages nobody registered (POST /v1/sent) and came
# to no signed return path: under the default policy they suppress nobody.
"$WORK/rebound" suppressions list --json --db "$WORK/e2e.db" > "$WORK/suppressions.jsonl"

python3 - "$WORK/records.jsonl" "$WORK/metrics.txt" "$((PF_SENT + EX_SENT))" "$((PF_NOT + EX_NOT))" "$WORK/suppressions.jsonl" <<'PY'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
metrics = open(sys.argv[2]).read()
suppressions = [l for l in open(sys.argv[5]) if l.strip()]
delivered, undelivered = int(sys.argv[3]), int(sys.argv[4])
by_case = {}
for r in recs:
    by_case.setdefault(r.get("original_subject", ""), []).append(r)

# case, recipient, actions allowed, status pattern, class
# (the spec: unknown user -> hard, mailbox full -> soft/delayed,
#  remote 5.7.1 -> block, relayed -> delivered, two recipients -> two records)
expect = [
    ("unknown-user",    "nosuchuser@local.test",         {"failed"},                 r"5\.\d+\.\d+", "hard"),
    ("unknown-domain",  "someone@nosuch-domain.invalid", {"failed"},                 r"5\.\d+\.\d+", "hard"),
    ("remote-550",      "user@reject.test",              {"failed"},                 r"5\.7\.1",     "block"),
    ("remote-554-data", "user@spam.test",                {"failed"},                 r"5\.7\.1",     "block"),
    ("mailbox-full",    "user@full.test",                {"delayed", "failed"},      r"4\.2\.2",     "soft"),
    ("conn-refused",    "user@down.test",                {"failed"},                 r"[45]\.\d+\.\d+", "soft"),
    ("too-big",         "user@small.test",               {"failed"},                 r"5\.3\.4",     "block"),
    ("relayed",         "user@nodsn.test",               {"relayed", "delivered"},   r"2\.\d+\.\d+", "delivered"),
    ("multi-rcpt",      "nosuchuser2@local.test",        {"failed"},                 r"5\.\d+\.\d+", "hard"),
    ("multi-rcpt",      "user@reject.test",              {"failed"},                 r"5\.7\.1",     "block"),
]
exact_status = {("postfix", "unknown-user"): "5.1.1", ("postfix", "multi-rcpt", "nosuchuser2@local.test"): "5.1.1"}
fails = 0
def check(ok, what):
    global fails
    print(("PASS " if ok else "FAIL ") + what)
    if not ok:
        fails += 1

for mta in ("postfix", "exim"):
    for case, rcpt, actions, status_re, cls in expect:
        name = f"{mta}-{case}"
        got = [r for r in by_case.get(name, []) if r["recipient"].lower() == rcpt]
        if not got:
            check(False, f"{name}: no record for {rcpt} (records of this case: {[r['recipient'] for r in by_case.get(name, [])]})")
            continue
        for r in got:
            desc = f"{name} {rcpt}: action={r['action']} status={r['status']} reason={r['reason']} class={r['class']}"
            want_status = exact_status.get((mta, case)) or exact_status.get((mta, case, rcpt))
            ok_status = r["status"] == want_status if want_status else re.fullmatch(status_re, r["status"] or "") is not None
            check(r["action"] in actions and ok_status and r["class"] == cls,
                  desc + f"  (want action in {sorted(actions)}, status {want_status or status_re}, class {cls})")
        if case == "mailbox-full":
            check(any(r["action"] == "delayed" for r in got), f"{name}: a delay notice (action delayed) is stored")
    multi = by_case.get(f"{mta}-multi-rcpt", [])
    check(len(multi) == 2, f"{mta}-multi-rcpt: two recipients give two records (got {len(multi)})")
    for r in by_case.get(f"{mta}-unknown-user", []):
        check(bool(r.get("received_at")) and r.get("format") != "", f"{mta}-unknown-user: received_at and format set")

m = re.search(r"^rebound_smtp_messages_stored_total (\S+)", metrics, re.M)
stored = int(float(m.group(1))) if m else -1
check(delivered > 0 and stored == delivered, f"every DSN the MTAs delivered is stored ({stored} stored, {delivered} delivered)")
check(undelivered == 0, f"no DSN deferred or bounced by us ({undelivered})")
m = re.search(r"^rebound_smtp_messages_tempfailed_total (\S+)", metrics, re.M)
check(m is not None and float(m.group(1)) == 0, "no message answered 451 (store failures)")
m = re.search(r"^rebound_smtp_messages_unrecognized_total (\S+)", metrics, re.M)
check(m is not None and float(m.group(1)) == 0, "every DSN decoded (none unrecognized)")
check(recs and all(r.get("auth") == "none" and not r.get("authenticated") for r in recs),
      "every record of an unregistered, unsigned DSN has auth none")
check(not suppressions, f"unsigned DSNs of unregistered messages suppress nobody ({len(suppressions)} suppressions)")
print(f"e2e: {fails} failed checks")
sys.exit(1 if fails else 0)
PY
