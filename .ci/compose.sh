#!/usr/bin/env bash
# Checks the compose files: each must pass "docker compose config" (the
# Compose file is valid, every build context and env file is found) with the
# secrets of compose.env.example, and define the services it documents. No
# Docker engine is needed. Installs Debian's docker-compose package when
# neither "docker compose" nor "docker-compose" is there (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "compose.sh: $*" >&2; }

compose=()
if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif docker-compose version >/dev/null 2>&1; then
	compose=(docker-compose)
else
	log "installing docker-compose from the Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
	compose=(docker-compose)
fi
log "using $("${compose[@]}" version 2>/dev/null | head -n 1)"

# A throwaway copy of the example, so that a compose.env of the tree (real
# secrets) is neither needed nor read.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp compose.env.example "$tmp/compose.env"
export REBOUND_COMPOSE_ENV="$tmp/compose.env"

fail=0
# check FILE SERVICES...: FILE is valid and defines exactly SERVICES.
check() {
	local file=$1
	shift
	local want got
	want=$(printf '%s\n' "$@" | sort)
	if ! "${compose[@]}" -f "$file" config -q; then
		log "FAIL: $file: docker compose config"
		fail=1
		return
	fi
	if ! got=$("${compose[@]}" -f "$file" config --services | sort); then
		log "FAIL: $file: docker compose config --services"
		fail=1
		return
	fi
	if [ "$got" != "$want" ]; then
		log "FAIL: $file: services are $(echo $got), want $(echo $want)"
		fail=1
		return
	fi
	# The secrets reach the containers through the env file only.
	if grep -nE 'PASSWORD *[:=] *[^$ ]|change-me' "$file"; then
		log "FAIL: $file: a secret is written in the compose file"
		fail=1
		return
	fi
	log "ok: $file"
}

check docker-compose.yml postgres rebound postfix
check docker-compose.sqlite.yml rebound postfix

exit "$fail"
