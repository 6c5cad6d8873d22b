#!/usr/bin/env bash
# Builds the desk's rich-text editor (editor/src, ProseMirror) into the one
# minified file the binary embeds: crates/masthead-web/admin/editor.js.
# `cargo build` never runs this, so building Masthead needs no Node; run it
# after changing editor/src or editor/package-lock.json, and commit the result.
#
#   scripts/build-editor.sh          rebuild the committed bundle
#   scripts/build-editor.sh --check  rebuild into a temporary file and fail if it
#                                    differs from the committed one (CI: the
#                                    committed bundle is what the lockfile builds)
#
# Packages come from editor/package-lock.json (npm ci: exact versions and
# integrity hashes); esbuild's output depends only on its version and inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/crates/masthead-web/admin/editor.js"
check=0
[ "${1:-}" = "--check" ] && check=1

cd editor
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.package-lock.json; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# The Markdown round trip's own tests (Node's test runner, no browser).
node --test test/ >/dev/null 2>&1 || { node --test test/; echo "build-editor: editor/test failed" >&2; exit 1; }

target="$out"
if [ "$check" -eq 1 ]; then
  target=$(mktemp --suffix=.js)
  trap 'rm -f "$target"' EXIT
fi
# The banner names the sources; no timestamps or paths, so the bytes depend
# only on editor/src and the locked packages.
node_modules/.bin/esbuild src/main.js --bundle --minify --format=iife --target=es2020 \
  --legal-comments=none --charset=utf8 --log-level=warning \
  --banner:js="/* Masthead desk editor: built by scripts/build-editor.sh from editor/src with ProseMirror and markdown-it (MIT licensed). Do not edit. */" \
  --outfile="$target"

size=$(wc -c <"$target")
gz=$(gzip -9 -n -c "$target" | wc -c)
if command -v brotli >/dev/null 2>&1; then br=$(brotli -c -q 11 "$target" | wc -c); else br="?"; fi
echo "editor bundle: $size bytes, gzip -9 $gz bytes, brotli -q 11 $br bytes"
if [ "$gz" -gt 256000 ]; then
  echo "build-editor: the bundle is over 250 KB compressed ($gz bytes gzipped)" >&2
  exit 1
fi

if [ "$check" -eq 1 ]; then
  if ! cmp -s "$target" "$out"; then
    echo "build-editor --check: crates/masthead-web/admin/editor.js differs from what editor/package-lock.json and editor/src build." >&2
    echo "Run scripts/build-editor.sh and commit the result." >&2
    exit 1
  fi
  echo "editor bundle matches its sources and lockfile"
fi
