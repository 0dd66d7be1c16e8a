#!/usr/bin/env bash
# Runs a private PostgreSQL cluster for the tests of the PostgreSQL store:
# its own data directory in a temporary folder, listening on 127.0.0.1 on a
# free port, never touching a system cluster.
#
#   eval "$(.ci/postgres.sh start)"   # exports REBOUND_TEST_POSTGRES, REBOUND_PG_DIR
#   go test ./store/postgres/...
#   .ci/postgres.sh stop              # uses REBOUND_PG_DIR, or give the folder
#
# PostgreSQL is installed from the Debian packages when no server binaries are
# found (without creating the packages' default cluster).
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	fi
}

install_postgres() {
	log "installing PostgreSQL from the Debian packages"
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		# Only our private cluster is wanted, not the packages' "main".
		mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
}

# as_owner runs a command as the cluster owner: initdb and postgres refuse to
# run as root.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	local port i
	for i in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	log "no free port found"
	exit 1
}

start() {
	local bin dir port
	bin=$(bindir)
	if [ -z "$bin" ]; then
		install_postgres
		bin=$(bindir)
		[ -n "$bin" ] || { log "no initdb under /usr/lib/postgresql after install"; exit 1; }
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
	fi
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rebound-pg.XXXXXX")
	chmod 755 "$dir"
	[ "$(id -u)" -ne 0 ] || chown postgres "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U rebound -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	port=$(free_port)
	# fsync and synchronous_commit stay on: the tests measure durable saves.
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >&2 ||
		{ cat "$dir/server.log" >&2; exit 1; }
	as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U rebound rebound_test >&2
	echo "$port" >"$dir/port"
	log "cluster in $dir on 127.0.0.1:$port"
	echo "export REBOUND_PG_DIR=$dir"
	echo "export REBOUND_TEST_POSTGRES=postgres://rebound@127.0.0.1:$port/rebound_test?sslmode=disable"
}

stop() {
	local dir=${1:-${REBOUND_PG_DIR:-}} bin
	if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
		log "stop: no cluster folder (give it, or set REBOUND_PG_DIR)"
		exit 1
	fi
	case "$dir" in
	*/rebound-pg.*) ;;
	*) log "stop: $dir is not a folder made by this script"; exit 1 ;;
	esac
	bin=$(bindir)
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
	rm -rf "$dir"
	log "stopped and removed $dir"
}

case "${1:-}" in
start) start ;;
stop) shift; stop "$@" ;;
*) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
