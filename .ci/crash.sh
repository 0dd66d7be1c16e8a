#!/usr/bin/env bash
# crash.sh - crash safety and store failure, against the real SQLite store:
#  - TestCrashSafety: `rebound serve` is killed with SIGKILL in the middle of a
#    load run and restarted; every message answered 250 must be stored, and
#    none twice after the clients send everything again.
#  - TestStoreFailureDiskFull (root): the store's file system fills up mid-run;
#    clients must get 451 4.3.0, never a 5xx, and 250 again once there is room.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
exec go test -count=1 -v -run '^(TestCrashSafety|TestStoreFailureDiskFull)$' ./cmd/rebound
