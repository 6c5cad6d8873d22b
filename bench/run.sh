#!/usr/bin/env bash
# The benchmark, in one command: installs wrk and nginx if missing, builds the
# release binary, runs bench/run.py (pass --smoke for the short CI mode;
# --backend postgres or both to measure PostgreSQL too, on a throwaway cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/masthead/target}"
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}"
fi
profile=release
pg=no
prev=""
for a in "$@"; do
  [ "$a" = "--smoke" ] && profile=debug
  case "$prev $a" in
    "--backend postgres" | "--backend both" | *" --backend=postgres" | *" --backend=both") pg=yes ;;
  esac
  prev=$a
done
# PostgreSQL runs use MASTHEAD_BENCH_DATABASE_URL, or a throwaway cluster
# started here (scripts/pg.sh) and deleted on exit.
if [ "$pg" = yes ] && [ -z "${MASTHEAD_BENCH_DATABASE_URL:-}" ]; then
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
  pg_start
  trap pg_stop EXIT
  export MASTHEAD_BENCH_DATABASE_URL="$MASTHEAD_TEST_DATABASE_URL"
fi
if [ "$profile" = release ]; then
  cargo build --release --quiet --bin masthead
else
  cargo build --quiet --bin masthead
fi
python3 bench/run.py --binary "$CARGO_TARGET_DIR/$profile/masthead" "$@"
