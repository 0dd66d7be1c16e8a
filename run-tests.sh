#!/usr/bin/env bash
# run-tests.sh — the whole test suite: static checks, unit and conformance tests
# (SQLite and a private PostgreSQL cluster), the accuracy bars on the shared
# corpus, and end-to-end tests against real Postfix and Exim.
#
# Run it as root on Debian: it installs PostgreSQL and Postfix from Debian's
# packages when they are missing. Set REBOUND_SKIP_E2E=1 to skip the parts
# that need root (PostgreSQL cluster, real MTAs, crash test).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
SHARED=${REBOUND_SHARED:-$ROOT/../shared}
export PATH=$PATH:/usr/local/go/bin
passed=0; failed=0
step() {  # NAME CMD...: run one step, count it, keep going
  local name=$1; shift
  echo "=== step: $name"
  if "$@"; then passed=$((passed+1)); echo "=== ok: $name"
  else failed=$((failed+1)); echo "=== FAILED: $name"; fi
}

static_checks() {
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  [ -z "$unformatted" ] || { echo "gofmt needed: $unformatted"; return 1; }
  go vet ./...
}
step "go build" go build ./...
step "gofmt and go vet" static_checks

PG_STARTED=0
if [ "${REBOUND_SKIP_E2E:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
  if out=$(bash .ci/postgres.sh start); then
    eval "$out"; PG_STARTED=1
    echo "PostgreSQL test cluster: $REBOUND_TEST_POSTGRES"
  else
    echo "could not start a PostgreSQL test cluster"; failed=$((failed+1))
  fi
fi
stop_pg() { [ $PG_STARTED = 1 ] && bash .ci/postgres.sh stop >/dev/null 2>&1 || true; }
trap stop_pg EXIT

step "go test -race" go test -race -count=1 -timeout 20m ./...
# The abuse tests at full size (60 concurrent 10 MB messages against the
# data budget, an ordinary bounce beside maximum-recipient reports), without
# the race detector, whose overhead the latency bound does not allow for.
step "abuse at full size" env REBOUND_ABUSE_FULL=1 go test -count=1 -timeout 10m -run Abuse ./smtpd

corpus_bars() {
  [ -d "$SHARED/corpus/emails" ] || { echo "no corpus at $SHARED/corpus: skipped"; return 0; }
  local bin line
  bin=$(mktemp -d)/rebound
  go build -o "$bin" ./cmd/rebound
  line=$("$bin" parse --json "$SHARED/corpus/emails" "$SHARED/corpus/not-bounces" 2>/dev/null |
    python3 "$SHARED/corpus/score" | tail -n 1)
  echo "$line"
  python3 - "$line" <<'PY'
import re, sys
line = sys.argv[1]
# The corpus labels are one other project's conventions: the bars leave room
# for the rows where the verdict follows what the server said instead.
bars = {"recipient": 99.0, "status": 97.0, "replycode": 97.0, "reason": 95.0, "hard": 98.5}
ok = True
for field, bar in bars.items():
    m = re.search(field + r" \d+/\d+ \(([\d.]+)%\)", line)
    if not m or float(m.group(1)) < bar:
        print(f"{field}: below {bar}%"); ok = False
m = re.search(r"false bounces (\d+)", line)
if not m or int(m.group(1)) != 0:
    print("false bounces"); ok = False
sys.exit(0 if ok else 1)
PY
}
step "corpus accuracy bars" corpus_bars

if [ "${REBOUND_SKIP_E2E:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
  step "end to end with Postfix and Exim" bash .ci/e2e.sh
  step "replies matrix: real MTAs x provider replies x forwarding and encodings" bash .ci/matrix.sh
  step "crash safety" bash .ci/crash.sh
  step "milter with a real Postfix" bash .ci/milter.sh
  step "dashboard in headless Chromium" bash .ci/browser.sh
  step "docker compose config" bash .ci/compose.sh
fi

echo "run-tests: $passed passed, $failed failed"
[ $failed = 0 ]
