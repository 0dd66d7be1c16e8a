#!/usr/bin/env bash
# browser.sh - the dashboard in a real browser: Debian's Chromium, headless,
# driven by the browser tests of package dashboard against `rebound serve`
# on seeded SQLite stores:
#   1. the overview's chart and its data table show the seeded counts; a
#      search by address and by Message-ID, raw messages as text, a
#      suppression lifted with a note, no write controls for a read-only
#      token; the first load under 300 KB;
#   2. the overview drawn within 1 s of navigation over a million records
#      (REBOUND_BROWSER_RECORDS; seeding them through the store's Save
#      takes about four minutes).
# Screenshots go to $REBOUND_ARTIFACTS/screenshots (default
# dashboard/artifacts/screenshots), printed at the end.
# Needs root to install Chromium when it is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin
log() { printf '[browser.sh %4ss] %s\n' "$SECONDS" "$*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
	[ "$(id -u)" = 0 ] || { echo "browser.sh: no /usr/bin/chromium, and not root to install it" >&2; exit 2; }
	log "installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
log "$(/usr/bin/chromium --version 2>/dev/null || echo chromium)"

export REBOUND_BROWSER=required
export REBOUND_BROWSER_RECORDS=${REBOUND_BROWSER_RECORDS:-1000000}
export REBOUND_ARTIFACTS=${REBOUND_ARTIFACTS:-$ROOT/dashboard/artifacts}
cd "$ROOT"
exec go test -count=1 -timeout 25m -v -run 'TestBrowser' ./dashboard
