#!/usr/bin/env bash
# Builds Masthead's fuzz targets (fuzz/, cargo fuzz + libFuzzer) and runs each
# for a while, then prints per target: executions, CPU seconds, coverage and
# crashes. Exits non-zero if any target crashed. docs/fuzzing.md explains.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   fuzz (default 600 s each, all targets)
#   scripts/fuzz.sh --cpu SECONDS [TARGET...]           the same, counting CPU seconds, not wall
#                                                       seconds (on a busy machine)
#   scripts/fuzz.sh --smoke [TARGET...]                 CI: a quick build, replay the corpus, fuzz 5 s each
#   scripts/fuzz.sh --cmin [TARGET...]                  merge seeds and findings into fuzz/corpus/
#   scripts/fuzz.sh --list                              print the target names
#
# Environment:
#   MASTHEAD_FUZZ_TARGET_DIR  cargo target dir (default ~/.cache/masthead/target-fuzz);
#                             kept apart from the workspace's, whose flags differ
#   FUZZ_SANITIZER            address (default; none for --smoke) or none
#   CARGO_BUILD_JOBS          parallel compiler jobs (cargo's own variable)
#
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets cargo fuzz pass its nightly
# flags (-Zsanitizer, sanitizer coverage). Needs `cargo install cargo-fuzz --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${MASTHEAD_FUZZ_TARGET_DIR:-$HOME/.cache/masthead/target-fuzz}"
triple="$(rustc -vV | sed -n 's/^host: //p')"

all_targets=(cursor nql markdown ghost_body upload jwt search member_csv)

# Longest input each target is given: around each parser's own limit (so the
# limit itself is exercised), smaller where big inputs only slow the search.
max_len() {
  case "$1" in
    cursor) echo 64 ;;
    search) echo 512 ;;
    jwt) echo 4200 ;;
    nql) echo 8300 ;;
    markdown | ghost_body) echo 16384 ;;
    upload) echo 65536 ;;
    member_csv) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

mode=fuzz
seconds=600
cpu_budget=0
if [ "${1:-}" = --cpu ]; then
  cpu_budget=1
  shift
fi
case "${1:-}" in
  --smoke) mode=smoke; seconds=5; shift ;;
  --cmin) mode=cmin; shift ;;
  --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
  -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
  '' | *[!0-9]*) ;;
  *) seconds=$1; shift ;;
esac
targets=("$@")

if [ "$mode" = smoke ]; then
  # A smoke checks that every target builds and passes its corpus: an
  # unoptimised build without AddressSanitizer costs a quarter of the CPU of
  # the fuzzing build (docs/fuzzing.md has the figures), and Rust code's own
  # checks (bounds, overflow, debug assertions) stay on.
  sanitizer="${FUZZ_SANITIZER:-none}"
  build_flags=(--dev)
  bin_dir="$target_dir/$triple/debug"
else
  sanitizer="${FUZZ_SANITIZER:-address}"
  build_flags=()
  bin_dir="$target_dir/$triple/release"
fi
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "no fuzz target named $t (try --list)" >&2; exit 2; }
done

command -v cargo-fuzz >/dev/null 2>&1 || {
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 2
}

if [ "$mode" = smoke ]; then
  # The shared checks (fuzz/src/lib.rs) use only std: their own unit tests
  # build with plain rustc in a second.
  echo "== unit tests of fuzz/src/lib.rs"
  checks=$(mktemp)
  rustc --edition 2024 --test fuzz/src/lib.rs -o "$checks"
  "$checks" -q
  rm -f "$checks"
fi

build_start=$(date +%s)
echo "== building ${#targets[@]} fuzz target(s) (sanitizer: $sanitizer, target dir: $target_dir)"
(
  cd fuzz
  # One cargo invocation builds every target, sharing the dependencies.
  cargo fuzz build ${build_flags[@]+"${build_flags[@]}"} --sanitizer "$sanitizer" \
    --target-dir "$target_dir"
)
echo "   built in $(($(date +%s) - build_start)) s"

if [ "$mode" = cmin ]; then
  for t in "${targets[@]}"; do
    fresh="fuzz/work/cmin-$t"
    rm -rf "$fresh"
    mkdir -p "$fresh" "fuzz/corpus/$t"
    sources=("fuzz/corpus/$t")
    for d in "fuzz/seeds/$t" "fuzz/work/$t"; do
      [ -d "$d" ] && sources+=("$d")
    done
    # The smallest set that reaches every edge the inputs reach (hit counts
    # ignored): a few hundred files per target instead of thousands.
    "$bin_dir/$t" -merge=1 -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$t")" \
      -timeout=30 "$fresh" "${sources[@]}" \
      >"fuzz/work/cmin-$t.log" 2>&1 || { tail -20 "fuzz/work/cmin-$t.log"; exit 1; }
    rm -rf "fuzz/corpus/$t"
    mv "$fresh" "fuzz/corpus/$t"
    echo "$t: $(find "fuzz/corpus/$t" -type f | wc -l) inputs, $(du -sh --apparent-size "fuzz/corpus/$t" | cut -f1)"
  done
  exit 0
fi

crashed=0
summary=()
for t in "${targets[@]}"; do
  work="fuzz/work/$t"
  scratch="fuzz/work"
  if [ "$mode" = smoke ]; then
    # A smoke only replays and briefly mutates: keep what it finds, and its
    # logs, out of the way of a long run that may be going on.
    scratch=$(mktemp -d)
    work="$scratch/$t"
  fi
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts" "fuzz/corpus/$t"
  log="$scratch/$t.log"
  timing="$scratch/$t.time"
  args=(
    -max_len="$(max_len "$t")"
    -timeout=10
    -rss_limit_mb=2048
    -print_final_stats=1
    -artifact_prefix="$artifacts/"
  )
  [ -f "fuzz/dicts/$t.dict" ] && args+=(-dict="fuzz/dicts/$t.dict")
  # New inputs go to fuzz/work/<target>/; the committed corpus is only read,
  # and so are the inputs of past crashes, kept whole in fuzz/regressions/.
  corpora=("fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && corpora+=("fuzz/regressions/$t")
  echo "== $t: ${seconds} s$([ "$cpu_budget" = 1 ] && echo " of CPU time")"
  touch "$scratch/$t.start"
  : >"$log"
  status=0
  if [ "$cpu_budget" = 1 ]; then
    # One run, stopped with SIGINT once it has used its CPU seconds (read
    # from /proc), so a busy machine neither shortens the run nor makes it
    # replay its corpus over and over.
    "$bin_dir/$t" "${args[@]}" "$work" "${corpora[@]}" >>"$log" 2>&1 &
    pid=$!
    ticks=$(getconf CLK_TCK)
    cpu=0
    while kill -0 "$pid" 2>/dev/null; do
      stat=$(cat "/proc/$pid/stat" 2>/dev/null) || break
      # Fields 14 and 15 (user, system ticks), counted after the ")" that
      # ends the command name.
      cpu=$(awk -v t="$ticks" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / t }' <<<"$stat")
      if awk -v c="$cpu" -v s="$seconds" 'BEGIN { exit !(c >= s) }'; then
        kill -INT "$pid"
        break
      fi
      sleep 2
    done
    wait "$pid" || status=$?
    # libFuzzer's exit code when interrupted is 72: that is the normal end here.
    [ "$status" -eq 72 ] && status=0
  else
    /usr/bin/time -f '%U %S' -o "$timing" \
      "$bin_dir/$t" "${args[@]}" -max_total_time="$seconds" "$work" "${corpora[@]}" \
      >>"$log" 2>&1 || status=$?
    # GNU time puts "Command exited with non-zero status" first on failure.
    read -r user sys < <(tail -1 "$timing") || true
    cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.1f", u + s }')
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # The last status line, e.g. "#123 DONE cov: 456 ft: 789 corp: 12/3456b ...".
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashed=1
    crashes=$(find "$artifacts" -type f -newer "$scratch/$t.start" | wc -l)
    [ "$crashes" -gt 0 ] || crashes=1
    echo "   CRASH (exit $status); from $log:"
    grep -E -A12 '^(thread|==[0-9]+==ERROR|SUMMARY)' "$log" | head -40 | sed 's/^/   | /'
    echo "   replay: $bin_dir/$t $(ls -t "$artifacts" | head -1 | sed "s|^|$artifacts/|")"
  fi
  [ "$mode" = smoke ] && rm -rf "$scratch"
  summary+=("$(printf '%-11s %12s %9s %7s %8s %14s %7s' "$t" "${runs:-?}" "$cpu" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
done

echo
printf '%-11s %12s %9s %7s %8s %14s %7s\n' target runs cpu_s cov features corpus crashes
printf '%s\n' "${summary[@]}"
echo "(cov: code edges reached; features: libFuzzer's finer coverage signal; corpus: inputs/bytes in the last run)"
exit "$crashed"
