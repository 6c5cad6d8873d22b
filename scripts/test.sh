#!/usr/bin/env bash
# Runs Masthead's whole test suite: unit, property and integration tests
# (cargo), then the real-browser, HTML-validity and accessibility suite.
# Then the crash-safety run (10 SIGKILLs), the newsletter kill test (3
# SIGKILLs during a send, bench/mailkill.py), the fuzzing smoke and the
# deployment checks (deploy/check.sh: systemd units, container file, nginx).
# First the editor bundle check (scripts/build-editor.sh --check: the committed
# admin/editor.js is what its lockfile builds).
# Installs what the tests need first, idempotently: Debian chromium and a Java
# runtime (for the Nu Html Checker), wrk and nginx (benchmark smoke run),
# Python's aiosmtpd (a real SMTP server for mail tests), moto (a real S3 API
# server for the media-store tests), feedparser and extruct
# (feed and JSON-LD readers for the feed tests), and the pinned npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Reuse compiled dependencies across clones unless told otherwise.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/masthead/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*"; }

# --- system packages -------------------------------------------------------
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
if [ ${#need[@]} -gt 0 ]; then
  step "installing system packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}"
fi

# --- Python tools in a venv: a real SMTP server for the mail tests (aiosmtpd)
# and a real HTML5 parser for the newsletter e-mails (html5lib),
# the feed and JSON-LD readers for the feed tests (feedparser, extruct), an S3
# API server for the media-store tests (moto), a Stripe-API server for the
# payment tests (localstripe) and Stripe's own library to sign the events
# localstripe cannot send (stripe) --------------------------------------------
venv="$HOME/.cache/masthead/venv"
if ! "$venv/bin/python" -c "import aiosmtpd, feedparser, extruct, html5lib, moto.server, localstripe, stripe" >/dev/null 2>&1; then
  step "installing aiosmtpd, feedparser, extruct, html5lib, moto, localstripe and stripe for the mail, feed, S3 and payment tests"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "aiosmtpd==1.4.6" "feedparser==6.0.14" "extruct==0.18.0" "html5lib==1.1" "moto[server]==5.2.5" \
    "localstripe==1.15.10" "stripe==16.1.0"
fi
export MASTHEAD_TEST_PYTHON="$venv/bin/python"

# --- npm packages: the browser suite, and Ghost's client libraries ----------
for dir in tests/browser tests/api; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json" 2>/dev/null; then
    step "installing npm packages in $dir (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  fi
done

# --- the desk's editor bundle: what editor/package-lock.json and editor/src
# build must be the committed crates/masthead-web/admin/editor.js ------------
step "editor bundle: rebuilt from its lockfile, compared with the committed one"
editor_status=0
mkdir -p "$CARGO_TARGET_DIR"
./scripts/build-editor.sh --check 2>&1 | tee "$CARGO_TARGET_DIR/editor-bundle.log" || editor_status=1
editor_summary=$(grep -E '^editor bundle: [0-9]' "$CARGO_TARGET_DIR/editor-bundle.log" | tail -1 || true)

# --- PostgreSQL: the one in MASTHEAD_TEST_DATABASE_URL, or a private
# throwaway cluster (scripts/pg.sh: Debian's server, installed if missing, a
# temp data dir, a free port on 127.0.0.1), stopped and deleted on exit ------
if [ -z "${MASTHEAD_TEST_DATABASE_URL:-}" ]; then
  step "starting a throwaway PostgreSQL cluster (scripts/pg.sh)"
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
  pg_start
  trap pg_stop EXIT
fi
export MASTHEAD_TEST_DATABASE_URL
# The site suite on PostgreSQL makes and drops its databases with psql.
if ! command -v psql >/dev/null 2>&1; then
  step "installing psql (postgresql-client)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 postgresql-client >/dev/null
fi

# --- Rust -------------------------------------------------------------------
mkdir -p "$CARGO_TARGET_DIR"
rust_status=0
step "cargo fmt --check and clippy"
cargo fmt --all -- --check || { echo "cargo fmt: run 'cargo fmt --all'"; rust_status=1; }
cargo clippy --quiet --all-targets -- -D warnings || rust_status=1

# The workspace run includes crates/masthead/tests/instances.rs: three servers
# on one PostgreSQL database (MASTHEAD_TEST_DATABASE_URL, set above).
step "cargo: unit, property and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$CARGO_TARGET_DIR/rust-tests.log" || rust_status=1
  rust_summary=$(grep -E '^ +Summary' "$CARGO_TARGET_DIR/rust-tests.log" | tail -1 | sed 's/^ *//')
else
  cargo test --workspace --no-fail-fast 2>&1 | tee "$CARGO_TARGET_DIR/rust-tests.log" || rust_status=1
  rust_summary=$(grep -E '^test result' "$CARGO_TARGET_DIR/rust-tests.log" |
    awk '{p+=$4; f+=$6} END {printf "%d passed, %d failed", p, f}')
fi

# --- the site suite again, every server on PostgreSQL ------------------------
# Each test's data directory gets its own fresh database in the cluster above
# (crates/masthead/tests/site.rs, `mod pg`), dropped when the test ends.
step "cargo: the integration (site) suite on PostgreSQL"
pg_site_status=0
if cargo nextest --version >/dev/null 2>&1; then
  MASTHEAD_TEST_BACKEND=postgres cargo nextest run -p masthead --test site --no-fail-fast 2>&1 |
    tee "$CARGO_TARGET_DIR/site-pg-tests.log" || pg_site_status=1
  pg_site_summary=$(grep -E '^ +Summary' "$CARGO_TARGET_DIR/site-pg-tests.log" | tail -1 | sed 's/^ *//')
else
  MASTHEAD_TEST_BACKEND=postgres cargo test -p masthead --test site --no-fail-fast 2>&1 |
    tee "$CARGO_TARGET_DIR/site-pg-tests.log" || pg_site_status=1
  pg_site_summary=$(grep -E '^test result' "$CARGO_TARGET_DIR/site-pg-tests.log" |
    awk '{p+=$4; f+=$6} END {printf "%d passed, %d failed", p, f}')
fi

# --- browser ----------------------------------------------------------------
step "browser: Show More, join, live updates, Nu Html Checker, axe-core"
mkdir -p "$CARGO_TARGET_DIR"
cargo build --quiet --bin masthead
browser_status=0
MASTHEAD_BIN="$CARGO_TARGET_DIR/debug/masthead" node tests/browser/run.js 2>&1 |
  tee "$CARGO_TARGET_DIR/browser-tests.log" || browser_status=$?
browser_summary=$(grep -E '^browser tests:' "$CARGO_TARGET_DIR/browser-tests.log" | tail -1 || true)

# The same browser suite with its server on a fresh PostgreSQL database (the
# binary reads MASTHEAD_DATABASE_URL; run.js passes its environment on).
step "browser, on PostgreSQL"
browser_pg_status=0
browser_pg_db="browser_$$"
browser_pg_url="${MASTHEAD_TEST_DATABASE_URL%/*}/$browser_pg_db"
if psql -X -q -v ON_ERROR_STOP=1 -d "$MASTHEAD_TEST_DATABASE_URL" -c "CREATE DATABASE $browser_pg_db"; then
  MASTHEAD_DATABASE_URL="$browser_pg_url" MASTHEAD_BIN="$CARGO_TARGET_DIR/debug/masthead" \
    node tests/browser/run.js 2>&1 | tee "$CARGO_TARGET_DIR/browser-pg-tests.log" || browser_pg_status=$?
  sleep 1
  psql -X -q -d "$MASTHEAD_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $browser_pg_db" ||
    echo "test.sh: could not drop $browser_pg_db (the cluster is thrown away anyway)"
else
  browser_pg_status=1
fi
browser_pg_summary=$(grep -E '^browser tests:' "$CARGO_TARGET_DIR/browser-pg-tests.log" 2>/dev/null | tail -1 || true)

# --- benchmark smoke ------------------------------------------------------------
step "benchmark smoke: every page under load, zero errors, no lost joins (speed is not judged)"
bench_status=0
./bench/run.sh --smoke 2>&1 | tee "$CARGO_TARGET_DIR/bench-smoke.log" || bench_status=$?
bench_summary=$(grep -E '^(benchmark:|FAILED)' "$CARGO_TARGET_DIR/bench-smoke.log" | tail -1 || true)

# --- crash safety: SIGKILL under writes, short version (bench/crash.py) ------
step "crash safety: 10 SIGKILLs under writes, every acknowledged write checked"
crash_status=0
python3 bench/crash.py --kills 10 --binary "$CARGO_TARGET_DIR/debug/masthead" 2>&1 |
  tee "$CARGO_TARGET_DIR/crash.log" || crash_status=$?
crash_summary=$(grep -E '^(crash test: ok|FAILED)' "$CARGO_TARGET_DIR/crash.log" | tail -1 || true)

# --- newsletter sends survive SIGKILL, short version (bench/mailkill.py) -----
step "mail kill test: 3 SIGKILLs during a 1,000-recipient send, every recipient counted at a real SMTP server"
mailkill_status=0
"$MASTHEAD_TEST_PYTHON" bench/mailkill.py --kills 3 --members 1000 \
  --binary "$CARGO_TARGET_DIR/debug/masthead" 2>&1 |
  tee "$CARGO_TARGET_DIR/mailkill.log" || mailkill_status=$?
mailkill_summary=$(grep -E '^(mail kill test: ok|FAILED)' "$CARGO_TARGET_DIR/mailkill.log" | tail -1 || true)

# --- fuzzing smoke: every cargo-fuzz target builds and replays its corpus ----
step "fuzz smoke: build each target, replay its corpus and regressions, mutate 5 s"
fuzz_status=0
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  step "installing cargo-fuzz (once)"
  cargo install cargo-fuzz --locked --quiet || fuzz_status=1
fi
[ "$fuzz_status" -ne 0 ] || ./scripts/fuzz.sh --smoke 2>&1 | tee "$CARGO_TARGET_DIR/fuzz-smoke.log" || fuzz_status=$?
fuzz_summary="fuzz smoke: $([ "$fuzz_status" -eq 0 ] && echo "every target ran clean" || echo FAILED)"

# --- deployment: the systemd units, the container file, nginx in front (deploy/)
step "deployment: systemd-analyze verify, hadolint, nginx in front of a real server"
deploy_status=0
./deploy/check.sh 2>&1 | tee "$CARGO_TARGET_DIR/deploy-check.log" || deploy_status=$?
deploy_summary=$(grep -E '^deploy: [0-9]+ passed' "$CARGO_TARGET_DIR/deploy-check.log" | tail -1 || true)

step "summary"
echo "${editor_summary:-editor bundle: no summary (the build did not finish)}$([ "$editor_status" -eq 0 ] || echo ", FAILED: differs from the committed file or did not build")"
echo "rust: ${rust_summary:-no summary (build failed?)}"
echo "site suite on PostgreSQL: ${pg_site_summary:-no summary (build failed?)}"
echo "${browser_summary:-browser tests: no summary (the suite did not finish)}"
echo "on PostgreSQL, ${browser_pg_summary:-browser tests: no summary (the suite did not finish)}"
echo "${bench_summary:-benchmark: no summary (the smoke run did not finish)}"
echo "crash: ${crash_summary:-no summary (the crash run did not finish)}"
echo "mail: ${mailkill_summary:-no summary (the mail kill run did not finish)}"
echo "$fuzz_summary"
echo "${deploy_summary:-deploy: no summary (the check did not finish)}"
if [ "$editor_status" -ne 0 ] || [ "$rust_status" -ne 0 ] || [ "$pg_site_status" -ne 0 ] || [ "$browser_status" -ne 0 ] ||
   [ "$browser_pg_status" -ne 0 ] || [ "$bench_status" -ne 0 ] ||
   [ "$crash_status" -ne 0 ] || [ "$mailkill_status" -ne 0 ] || [ "$fuzz_status" -ne 0 ] || [ "$deploy_status" -ne 0 ]; then
  echo "FAILED"
  exit 1
fi
echo "all tests passed"
