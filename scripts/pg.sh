#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for Masthead's tests: Debian's
# server (installed if missing), a fresh data directory under /tmp, a free
# port on 127.0.0.1 only, its Unix socket inside that directory, a role and a
# database. Nothing of the machine's own clusters is used or touched.
#
#   scripts/pg.sh start        start one; prints the `export` lines to use it
#   scripts/pg.sh stop DIR     stop the cluster in DIR and delete DIR
#   scripts/pg.sh install      only install the server if it is missing
#
# Or source it and call pg_start / pg_stop: pg_start exports
# MASTHEAD_TEST_DATABASE_URL (postgres://masthead:…@127.0.0.1:PORT/masthead,
# a role that may create databases, so tests make their own) and
# MASTHEAD_PG_DIR; pg_stop stops that cluster and removes its directory.
# scripts/test.sh does this when MASTHEAD_TEST_DATABASE_URL is not set.
#
# The cluster trades durability for speed (fsync off): it lives for one test
# run and is deleted after.

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

# Installs Debian's PostgreSQL server unless one is there. Debian's package
# would also create (and, where services may start, run) a default cluster on
# port 5432; we never use it, so tell it not to.
pg_install() {
  pg_bindir >/dev/null && return 0
  echo "pg.sh: installing Debian's PostgreSQL server" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    $sudo tee /etc/postgresql-common/createcluster.d/masthead-no-main.conf >/dev/null
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 postgresql >/dev/null
  pg_bindir >/dev/null || { echo "pg.sh: no initdb/pg_ctl after installing postgresql" >&2; return 1; }
}

# Runs a command as the cluster's owner: the `postgres` account when we are
# root (the server refuses to run as root), else ourselves.
_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

_pg_free_port() {
  local py=python3
  [ -x /usr/bin/python3 ] && py=/usr/bin/python3
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
  pg_install || return 1
  local bin dir port password attempt started=""
  bin=$(pg_bindir)
  dir=$(mktemp -d /tmp/masthead-pg.XXXXXX) || return 1
  chmod 700 "$dir"
  mkdir "$dir/sock"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$dir"
  if ! _pg_as_owner "$bin/initdb" --pgdata="$dir/data" --username=postgres \
      --encoding=UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
      --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
    echo "pg.sh: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    return 1
  fi
  # A port free now may be taken before the server binds it: try a few.
  for attempt in 1 2 3 4 5; do
    port=$(_pg_free_port) || break
    if _pg_as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" \
        --wait --timeout=60 --silent start \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock -c fsync=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null 2>&1; then
      started=1
      break
    fi
  done
  if [ -z "$started" ]; then
    echo "pg.sh: the server did not start; its log:" >&2
    cat "$dir/server.log" >&2 2>/dev/null
    rm -rf "$dir"
    return 1
  fi
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  if ! _pg_as_owner "$bin/psql" --quiet --no-psqlrc -v ON_ERROR_STOP=1 \
      --host="$dir/sock" --port="$port" --username=postgres --dbname=postgres \
      -c "CREATE ROLE masthead LOGIN CREATEDB PASSWORD '$password'" \
      -c "CREATE DATABASE masthead OWNER masthead" >/dev/null; then
    echo "pg.sh: could not create the role and database" >&2
    pg_stop "$dir"
    return 1
  fi
  export MASTHEAD_PG_DIR="$dir"
  export MASTHEAD_TEST_DATABASE_URL="postgres://masthead:$password@127.0.0.1:$port/masthead"
  echo "pg.sh: PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir" >&2
}

# Stops the cluster in DIR (default: $MASTHEAD_PG_DIR) and deletes DIR.
# Safe to call twice, or for a directory that is already gone.
pg_stop() {
  local dir="${1:-${MASTHEAD_PG_DIR:-}}" bin
  [ -n "$dir" ] || return 0
  case "$dir" in
    /tmp/masthead-pg.*) ;;
    *) echo "pg.sh: refusing to remove $dir (not a pg.sh cluster)" >&2; return 1 ;;
  esac
  if [ -f "$dir/data/postmaster.pid" ] && bin=$(pg_bindir); then
    _pg_as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait --timeout=60 --silent stop \
      >/dev/null 2>&1 ||
      _pg_as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate --wait --silent stop \
        >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  if [ "$dir" = "${MASTHEAD_PG_DIR:-}" ]; then
    unset MASTHEAD_PG_DIR
  fi
}

# Run as a program (not sourced).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    install) pg_install ;;
    start)
      pg_start
      echo "export MASTHEAD_PG_DIR=$MASTHEAD_PG_DIR"
      echo "export MASTHEAD_TEST_DATABASE_URL=$MASTHEAD_TEST_DATABASE_URL"
      echo "# stop and delete it with: $0 stop $MASTHEAD_PG_DIR" >&2
      ;;
    stop)
      [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
      pg_stop "$2"
      ;;
    *)
      echo "usage: $0 start | stop DIR | install" >&2
      exit 2
      ;;
  esac
fi
