#!/usr/bin/env python3
"""Crash safety, proven: SIGKILL the server at random moments while it takes
writes, restart it, and check that every acknowledged write survived and that
nothing is half-written.

  bench/crash.py                      # 100 kills, the debug build
  bench/crash.py --kills 10           # the CI run
  bench/crash.py --binary "$CARGO_TARGET_DIR/release/masthead" --seed 7

While the server runs, writer threads talk to it over plain HTTP, as clients do:

  joins         POST /join/, each from its own X-Forwarded-For address (the
                server is started with --trusted-proxy 127.0.0.1): a pending
                sign-up, then confirmed by following the link of the e-mail
                the server wrote to its outbox (no --smtp-url);
  API posts     Admin API publishes with an admin key, each with two tags;
  desk posts    the editor: create a draft, then publish it;
  live entries  the desk's live console, on the demo's live roundup.

Webhooks for post.published and member.added point at a receiver in this
script. Before every other kill a post is scheduled 1.5 s ahead, so it falls
due while the server is down.

A write counts as acknowledged when the client got its success status (303,
201 or 200) back. After each kill, with the server down, a copy of the
database and its WAL (what the next start will open) is checked with Python's
sqlite3: PRAGMA integrity_check and foreign_key_check, every acknowledged
write present and whole (a post with its tags, bylines and listing times, a
desk publish with its revision), and the invariants in INVARIANTS. After each
restart, scheduled posts that fell due while it was down must be published and
their webhook delivered; at the end every acknowledged post and confirmation
must have reached the receiver (member.added comes with the confirmation).
An acknowledged join must be stored as a pending sign-up (or a member); its
e-mail is written after the commit, so a kill in between may lose the mail
(the request then expires unconfirmed), which is counted, not failed. Prints a summary; exits 1 on any failure.

Standard library only (Python 3.11).
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A post that fell due while the server was down must be published this soon
# after it answers again (the scheduler runs at start-up, then every second;
# under heavy write load its transaction queues behind the others').
PUBLISH_WITHIN_S = 10

# Each query counts rows that break a rule every committed transaction keeps.
# `:members_from` and `:entries_from` are the first ids this run created (the
# demo's seed writes some rows by other paths).
INVARIANTS = {
    "post without a byline":
        "SELECT COUNT(*) FROM posts p WHERE NOT EXISTS "
        "(SELECT 1 FROM post_authors a WHERE a.post_id = p.id)",
    "listing time of a tag row differs from its post's":
        "SELECT COUNT(*) FROM post_tags t JOIN posts p ON p.id = t.post_id "
        "WHERE t.published_at IS NOT (CASE WHEN p.status = 'published' AND p.kind <> 'page' "
        "THEN p.published_at END)",
    "listing time of a byline row differs from its post's":
        "SELECT COUNT(*) FROM post_authors a JOIN posts p ON p.id = a.post_id "
        "WHERE a.published_at IS NOT (CASE WHEN p.status = 'published' AND p.kind <> 'page' "
        "THEN p.published_at END)",
    "primary tag is not the first tag":
        "SELECT COUNT(*) FROM posts p WHERE p.primary_tag_id IS NOT "
        "(SELECT tag_id FROM post_tags t WHERE t.post_id = p.id ORDER BY position LIMIT 1)",
    "published post without a publication time":
        "SELECT COUNT(*) FROM posts WHERE status IN ('published', 'scheduled') AND published_at IS NULL",
    "live entry without its change-log row":
        "SELECT COUNT(*) FROM live_entries e WHERE e.id >= :entries_from AND NOT EXISTS "
        "(SELECT 1 FROM change_log c WHERE c.topic = 'live_entry' AND c.ref_id = e.id)",
    "live entry newer than its post's update time":
        "SELECT COUNT(*) FROM live_entries e JOIN posts p ON p.id = e.post_id "
        "WHERE e.id >= :entries_from AND p.updated_at < e.created_at",
    "member without its change-log row":
        "SELECT COUNT(*) FROM members m WHERE m.id >= :members_from AND NOT EXISTS "
        "(SELECT 1 FROM change_log c WHERE c.topic = 'member' AND c.ref_id = m.id)",
    "member without its queued webhook":
        "SELECT COUNT(*) FROM members m WHERE m.id >= :members_from AND NOT EXISTS "
        "(SELECT 1 FROM webhook_deliveries d WHERE d.event = 'member.added' AND d.subject_id = m.id)",
    "published post without its queued webhook":
        "SELECT COUNT(*) FROM posts p WHERE p.id >= :posts_from AND p.status = 'published' "
        "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
        "WHERE d.event = 'post.published' AND d.subject_id = p.id)",
    "post without its change-log row":
        "SELECT COUNT(*) FROM posts p WHERE p.id >= :posts_from AND NOT EXISTS "
        "(SELECT 1 FROM change_log c WHERE c.topic = 'post' AND c.post_id = p.id)",
}


def free_port():
    """A free port below the kernel's ephemeral range: while the server is down
    no other program's outgoing connection can take it, and our own probes
    cannot connect to themselves (a TCP self-connect needs the source port to
    equal the destination)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free port below the ephemeral range")


def admin_token(key):
    """A Ghost Admin API JWT for `id:secret`, valid five minutes."""
    kid, secret = key.split(":")
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps({"iat": now, "exp": now + 300, "aud": "/admin/"}).encode())
    sig = hmac.new(bytes.fromhex(secret), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


class Http:
    """One keep-alive connection that reconnects after any failure."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            res = self.conn.getresponse()
            data = res.read()
            return res.status, res.headers, data
        except Exception:
            self.conn.close()
            self.conn = None
            raise

    def form(self, path, fields, cookie=None, extra=None):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        headers.update(extra or {})
        return self.request("POST", path, urllib.parse.urlencode(fields), headers)


class Receiver:
    """A webhook receiver: records the slug or e-mail each delivery is about."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = set()
        self.members = set()
        self.count = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                event = self.headers.get("X-Masthead-Event", "")
                try:
                    doc = json.loads(body)
                    with outer.lock:
                        outer.count += 1
                        if event == "post.published":
                            outer.posts.add(doc["post"]["current"]["slug"])
                        elif event == "member.added":
                            outer.members.add(doc["member"]["current"]["email"].lower())
                except (ValueError, KeyError, TypeError):
                    pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def has_post(self, slug):
        with self.lock:
            return slug in self.posts

    def missing(self, slugs, emails):
        with self.lock:
            return ([s for s in slugs if s not in self.posts],
                    [e for e in emails if e not in self.members])


class Server:
    def __init__(self, binary, data, port, log_path):
        self.binary, self.data, self.port, self.log_path = binary, data, port, log_path
        self.proc = None

    def start(self, timeout=120):
        # Deliveries a killed server was sending are leased to it: another
        # server (or this one restarted) takes them over when the lease ends.
        # A 4 s lease (the default is 60 s) keeps the run short; the
        # receiver here answers at once, well inside a quarter of it.
        env = dict(os.environ, MASTHEAD_LOG="warn", MASTHEAD_WEBHOOK_RETRY_MS="200",
                   MASTHEAD_ALLOW_PRIVATE_WEBHOOKS="true", MASTHEAD_WEBHOOK_LEASE_MS="4000")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", self.data, "serve", "--addr", f"127.0.0.1:{self.port}",
             "--trusted-proxy", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"masthead exited with {self.proc.returncode}; see {self.log_path}:\n"
                                 + tail(self.log_path))
            # A fresh connection each time, with a short timeout, so one stuck
            # attempt cannot use up the whole wait.
            probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                probe.close()
            time.sleep(0.01)
        raise SystemExit(f"masthead did not answer /healthz within {timeout} s; {self.diagnose()}\n"
                         + tail(self.log_path))

    def diagnose(self):
        """What the process was doing, for a start that never finished."""
        pid = self.proc.pid
        parts = []
        try:
            with open(f"/proc/{pid}/status") as f:
                parts += [l.strip() for l in f if l.startswith(("State:", "Threads:", "VmRSS:"))]
            with open(f"/proc/{pid}/wchan") as f:
                parts.append("wchan: " + f.read().strip())
            for tid in sorted(os.listdir(f"/proc/{pid}/task"))[:40]:
                with open(f"/proc/{pid}/task/{tid}/comm") as c, open(f"/proc/{pid}/task/{tid}/wchan") as w:
                    parts.append(f"{c.read().strip()}:{w.read().strip()}")
        except OSError as e:
            parts.append(f"(/proc: {e})")
        try:
            out = subprocess.run(["ss", "-ltnp", f"sport = :{self.port}"], capture_output=True, text=True)
            parts.append("listening: " + " ".join(out.stdout.split()[5:]))
        except OSError:
            pass
        return "; ".join(parts)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cli(self, *args, stdin=None):
        out = subprocess.run([self.binary, "--data-dir", self.data, *args], input=stdin,
                             capture_output=True, text=True, env=dict(os.environ, MASTHEAD_LOG="warn"))
        if out.returncode != 0:
            raise SystemExit(f"masthead {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out.stdout


def tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")
    except OSError:
        return ""


class Ledger:
    """What the server acknowledged, and what it refused or failed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.joins = []          # e-mail addresses (lowercase): pending sign-ups
        self.confirmed = []      # e-mail addresses whose link was followed
        self.api_posts = []      # (slug, [tag slugs])
        self.desk_drafts = []    # post ids
        self.desk_posts = []     # (post id, title, slug)
        self.entries = []        # entry titles
        self.scheduled = []      # slugs
        self.sent = 0
        self.refused = 0         # 429/503: the server said no; not acknowledged
        self.unexpected = []     # any other status while it was up

    def add(self, kind, item):
        with self.lock:
            getattr(self, kind).append(item)

    def snapshot(self):
        with self.lock:
            return {k: list(getattr(self, k)) for k in
                    ("joins", "confirmed", "api_posts", "desk_drafts", "desk_posts", "entries",
                     "scheduled")}

    def note(self, status, what):
        with self.lock:
            if status in (429, 503):
                self.refused += 1
            else:
                self.unexpected.append(f"{what}: HTTP {status}")


class Outbox:
    """The server's outbox directory, indexed incrementally: the sign-in
    link of the newest message to each address."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.seen = set()
        self.links = {}

    def link_for(self, email, wait_s=3.0):
        deadline = time.monotonic() + wait_s
        while True:
            with self.lock:
                try:
                    names = os.listdir(self.path)
                except FileNotFoundError:
                    names = []
                for name in names:
                    if not name.endswith(".eml") or name in self.seen:
                        continue
                    self.seen.add(name)
                    with open(os.path.join(self.path, name), encoding="utf-8", errors="replace") as f:
                        text = f.read().replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
                    to = re.search(r"^To: (\S+)", text, re.M)
                    link = re.search(r"(https?://\S+/members/\?token=[0-9a-f]{64}&action=\w+)", text)
                    if to and link:
                        self.links[to.group(1).lower()] = link.group(1)
                found = self.links.get(email)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


class Writers:
    def __init__(self, port, key, cookie, csrf, live_id, ledger, run_tag, rng, outbox):
        self.outbox = outbox
        self.port, self.key, self.cookie, self.csrf = port, key, cookie, csrf
        self.live_id, self.ledger, self.tag, self.rng = live_id, ledger, run_tag, rng
        self.stop = threading.Event()
        self.up = threading.Event()  # set while the server is meant to be running
        self.threads = []
        self.n = 0
        self.n_lock = threading.Lock()

    def next(self):
        with self.n_lock:
            self.n += 1
            return self.n

    def start(self):
        for fn, pause in ((self.join, 0.05), (self.api_post, 0.1), (self.desk_post, 0.2),
                          (self.live_entry, 0.1)):
            t = threading.Thread(target=self.loop, args=(fn, pause), daemon=True)
            t.start()
            self.threads.append(t)

    def loop(self, fn, pause):
        http_ = Http(self.port)
        while not self.stop.is_set():
            self.up.wait(0.5)
            if not self.up.is_set():
                continue
            try:
                with self.ledger.lock:
                    self.ledger.sent += 1
                fn(http_)
            except (OSError, http.client.HTTPException):
                # The server died mid-request: not acknowledged, nothing to check.
                time.sleep(0.02)
            time.sleep(pause)

    def join(self, h):
        n = self.next()
        email = f"crash-{self.tag}-{n}@example.org"
        xff = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        status, _, _ = h.form("/join/", {"email": email}, extra={"X-Forwarded-For": xff})
        if status != 303:
            self.ledger.note(status, "join")
            return
        self.ledger.add("joins", email)
        link = self.outbox.link_for(email)
        if link is None:
            return  # killed before the mail was written: the request just expires
        status, _, _ = h.request("GET", urllib.parse.urlsplit(link)._replace(scheme="", netloc="").geturl())
        if status == 303:
            self.ledger.add("confirmed", email)
        elif status != 410:  # 410: confirmed already, by a retry before a kill
            self.ledger.note(status, "confirm")

    def api(self, h, doc):
        return h.request("POST", "/ghost/api/admin/posts/?source=html", json.dumps(doc),
                         {"Authorization": f"Ghost {admin_token(self.key)}",
                          "Content-Type": "application/json"})

    def api_post(self, h):
        n = self.next()
        slug = f"crash-{self.tag}-api-{n}"
        tags = ["crash", f"crash-batch-{n % 7}"]
        status, _, _ = self.api(h, {"posts": [{
            "title": f"Crash test story {n}", "slug": slug, "status": "published",
            "html": f"<p>Story {n} of the crash test.</p>", "tags": tags}]})
        if status == 201:
            self.ledger.add("api_posts", (slug, tags))
        else:
            self.ledger.note(status, "API publish")

    def schedule(self, h, due_s):
        n = self.next()
        slug = f"crash-{self.tag}-scheduled-{n}"
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due_s)) + f".{int(due_s * 1000) % 1000:03d}Z"
        status, _, body = self.api(h, {"posts": [{
            "title": f"Scheduled story {n}", "slug": slug, "status": "scheduled",
            "published_at": at, "html": "<p>Due while the server was down.</p>"}]})
        if status != 201:
            raise SystemExit(f"scheduling a post failed: HTTP {status} {body[:300]!r}")
        self.ledger.add("scheduled", slug)
        return slug

    def desk_post(self, h):
        n = self.next()
        title = f"Desk crash brief {self.tag} {n}"
        status, headers, _ = h.form("/admin/posts", {"kind": "brief", "title": title, "csrf": self.csrf},
                                    cookie=self.cookie)
        if status != 303:
            self.ledger.note(status, "desk create")
            return
        edit = headers.get("Location", "")
        post_id = int(edit.split("/")[3])
        self.ledger.add("desk_drafts", post_id)
        status, _, html = h.request("GET", edit, headers={"Cookie": self.cookie})
        if status != 200:
            self.ledger.note(status, "desk edit page")
            return
        html = html.decode()
        field = lambda name: html.split(f'name="{name}" value="', 1)[1].split('"', 1)[0]
        slug = f"crash-{self.tag}-desk-{n}"
        with self.ledger.lock:
            self.ledger.sent += 1
        status, _, _ = h.form(f"/admin/posts/{post_id}", {
            "version": field("version"), "title": title, "slug": slug,
            "authors": field("authors"), "body": f"Brief {n}, published from the desk.",
            "action": "publish", "csrf": self.csrf}, cookie=self.cookie)
        if status == 200:
            self.ledger.add("desk_posts", (post_id, title, slug))
        else:
            self.ledger.note(status, "desk publish")

    def live_entry(self, h):
        n = self.next()
        title = f"Crash entry {self.tag} {n}"
        status, _, _ = h.form(f"/admin/live/{self.live_id}/entries",
                              {"title": title, "body": f"Update {n}.", "csrf": self.csrf},
                              cookie=self.cookie)
        if status == 303:
            self.ledger.add("entries", title)
        else:
            self.ledger.note(status, "live entry")


def check_database(data, scratch, acked, marks):
    """Checks a copy of the database as the next start will find it. Returns
    (problems, half_written, lost)."""
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    for name in ("masthead.db", "masthead.db-wal"):
        src = os.path.join(data, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(scratch, name))
    con = sqlite3.connect(os.path.join(scratch, "masthead.db"))
    problems, half, lost = [], 0, 0
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
        if rows != ["ok"]:
            problems.append(f"integrity_check: {rows[:5]}")
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign_key_check: {len(fk)} rows, e.g. {fk[:3]}")
            half += len(fk)
        for name, sql in INVARIANTS.items():
            n = con.execute(sql, marks).fetchone()[0]
            if n:
                problems.append(f"{n} × {name}")
                half += n
        lost_here = check_acknowledged(con, acked)
        lost += sum(len(v) for v in lost_here.values())
        for what, items in lost_here.items():
            if items:
                problems.append(f"{len(items)} acknowledged {what} lost or incomplete, e.g. {items[:3]}")
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return problems, half, lost


def check_acknowledged(con, acked):
    con.execute("CREATE TEMP TABLE IF NOT EXISTS want (v TEXT PRIMARY KEY)")

    def absent(values, sql):
        con.execute("DELETE FROM want")
        con.executemany("INSERT OR IGNORE INTO want VALUES (?)", [(v,) for v in values])
        return [r[0] for r in con.execute(sql)]

    out = {}
    out["joins"] = absent(acked["joins"],
                          "SELECT v FROM want WHERE v NOT IN (SELECT email_key FROM member_requests "
                          "WHERE purpose = 'signup' UNION SELECT email_key FROM members)")
    out["confirmations"] = absent(acked["confirmed"],
                                  "SELECT v FROM want WHERE v NOT IN (SELECT email_key FROM members)")
    # An API post: published, with exactly its tags (in order) and a byline.
    tags_of = {}
    slugs = [s for s, _ in acked["api_posts"]]
    con.execute("DELETE FROM want")
    con.executemany("INSERT OR IGNORE INTO want VALUES (?)", [(s,) for s in slugs])
    for slug, status, tag_list, authors in con.execute(
            "SELECT p.slug, p.status, (SELECT group_concat(slug, ',') FROM "
            "  (SELECT t.slug FROM post_tags pt JOIN tags t ON t.id = pt.tag_id "
            "   WHERE pt.post_id = p.id ORDER BY pt.position)), "
            "  (SELECT COUNT(*) FROM post_authors a WHERE a.post_id = p.id) "
            "FROM posts p JOIN want w ON w.v = p.slug"):
        tags_of[slug] = (status, tag_list, authors)
    bad = []
    for slug, tags in acked["api_posts"]:
        got = tags_of.get(slug)
        if got is None or got[0] != "published" or got[1] != ",".join(tags) or got[2] < 1:
            bad.append((slug, got))
    out["API posts"] = bad
    out["scheduled posts"] = absent(
        acked["scheduled"],
        "SELECT v FROM want WHERE v NOT IN (SELECT slug FROM posts WHERE status IN ('scheduled', 'published'))")
    out["desk drafts"] = absent(
        [str(i) for i in acked["desk_drafts"]],
        "SELECT v FROM want WHERE CAST(v AS INTEGER) NOT IN (SELECT id FROM posts)")
    # A desk publish: published under its title, and its newest revision says so.
    bad = []
    for post_id, title, slug in acked["desk_posts"]:
        row = con.execute(
            "SELECT p.status, p.title, p.slug, r.status, r.title, r.slug FROM posts p LEFT JOIN post_revisions r "
            "ON r.id = (SELECT MAX(id) FROM post_revisions WHERE post_id = p.id) WHERE p.id = ?",
            (post_id,)).fetchone()
        if row is None or row != ("published", title, slug, "published", title, slug):
            bad.append((post_id, row))
    out["desk publishes"] = bad
    out["live entries"] = absent(acked["entries"],
                                 "SELECT v FROM want WHERE v NOT IN (SELECT title FROM live_entries)")
    return out


def sign_in(port, email, password):
    h = Http(port)
    status, headers, _ = h.form("/admin/signin", {"email": email, "password": password})
    cookie = None
    for k, v in headers.items():
        if k.lower() == "set-cookie" and "=" in v:
            cookie = v.split(";", 1)[0]
    if status not in (200, 303) or not cookie:
        raise SystemExit(f"signing in failed: HTTP {status}")
    status, _, html = h.request("GET", "/admin/", headers={"Cookie": cookie})
    csrf = html.decode().split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return cookie, csrf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--binary", default=None, help="default: $CARGO_TARGET_DIR/debug/masthead")
    ap.add_argument("--seed", type=int, default=None, help="random seed (printed, for a rerun)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--verbose", action="store_true", help="print each kill's timeline")
    ap.add_argument("--save", action="store_true", help="also write bench/results/crash-<stamp>.md")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = args.binary or os.path.join(target, "debug", "masthead")
    if not os.path.exists(binary):
        raise SystemExit(f"{binary} does not exist; build it (cargo build --bin masthead) or pass --binary")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="masthead-crash-")
    data = os.path.join(tmp, "data")
    load_start = loadavg()
    print(f"crash test: {args.kills} kills, seed {seed}, {binary}; load {load_start}", flush=True)

    receiver = Receiver()
    port = free_port()
    server = Server(binary, data, port, os.path.join(tmp, "server.log"))
    failures = []
    ok = False
    try:
        server.start()  # the first start seeds the demo newsroom
        server.cli("user", "add", "--email", "owner@crash.example", "--name", "Crash Owner",
                   "--role", "owner", "--password-stdin", stdin="a long crash-test password\n")
        key = server.cli("key", "create", "admin", "--name", "crash").strip()
        cookie, csrf = sign_in(port, "owner@crash.example", "a long crash-test password")
        h = Http(port)
        for event in ("post.published", "member.added"):
            status, _, body = h.form("/admin/integrations/webhooks",
                                     {"event": event, "target_url": receiver.url, "name": f"crash {event}",
                                      "csrf": csrf}, cookie=cookie)
            if status != 200:
                raise SystemExit(f"adding the {event} webhook failed: HTTP {status}")
        db = os.path.join(data, "masthead.db")
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        live = con.execute("SELECT id FROM posts WHERE kind = 'live' AND status = 'published' "
                           "ORDER BY id LIMIT 1").fetchone()
        marks = {name: con.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0]
                 for name, table in (("members_from", "members"), ("entries_from", "live_entries"),
                                     ("posts_from", "posts"))}
        con.close()
        if live is None:
            raise SystemExit("the demo newsroom has no published live post")
        # The rules must hold before the first kill, or they are not rules.
        server.stop()
        scratch = os.path.join(tmp, "check")
        problems, _, _ = check_database(data, scratch, Ledger().snapshot(), marks)
        if problems:
            raise SystemExit("the invariants do not hold on the fresh site: " + "; ".join(problems))
        server.start()

        ledger = Ledger()
        writers = Writers(port, key, cookie, csrf, live[0], ledger, f"{seed:x}", rng,
                          Outbox(os.path.join(data, "outbox")))
        writers.up.set()
        writers.start()
        pending = []  # scheduled posts that fell due while the server was down
        scheduled_ok = 0
        slowest_publish = 0.0
        half_total = 0
        lost_total = 0
        sched_http = Http(port)
        for i in range(1, args.kills + 1):
            time.sleep(rng.uniform(0.3, 2.0))
            due = None
            if i % 2 == 1:
                due = time.time() + 1.5
                slug = writers.schedule(Http(port), due)  # fresh: the server restarted since
                time.sleep(rng.uniform(0.0, 0.8))
            writers.up.clear()
            server.kill()
            problems, half, lost = check_database(data, scratch, ledger.snapshot(), marks)
            half_total += half
            lost_total += lost
            for p in problems:
                failures.append(f"kill {i}: {p}")
                print(f"  kill {i}: {p}", flush=True)
            if due is not None:
                time.sleep(max(0.0, due + 0.3 - time.time()))
                pending.append(slug)
            else:
                time.sleep(rng.uniform(0.05, 0.3))
            t_down = time.monotonic()
            server.start(timeout=60)
            writers.up.set()
            if args.verbose:
                print(f"  kill {i}: restarted in {time.monotonic() - t_down:.2f} s; "
                      f"{ledger.sent} sent so far; {receiver.count} deliveries", flush=True)
            # Scheduled posts that fell due while it was down are published at
            # start-up (their webhooks are checked with all the others at the end).
            restarted = time.monotonic()
            for slug in pending:
                while not published(sched_http, slug) and time.monotonic() < restarted + PUBLISH_WITHIN_S:
                    time.sleep(0.05)
                if published(sched_http, slug):
                    scheduled_ok += 1
                    slowest_publish = max(slowest_publish, time.monotonic() - restarted)
                else:
                    failures.append(f"kill {i}: scheduled post {slug} was not published within "
                                    f"{PUBLISH_WITHIN_S} s of the restart")
            pending = []
            if i % 10 == 0 or i == args.kills:
                snap = ledger.snapshot()
                print(f"  {i} kills: {sum(len(v) for v in snap.values())} acknowledged writes, "
                      f"{len(failures)} failures, {time.monotonic() - started:.0f} s", flush=True)

        # Quiet down, then everything acknowledged must reach the receiver. The
        # queue may hold a backlog: wait as long as it makes progress.
        writers.stop.set()
        for t in writers.threads:
            t.join(timeout=20)
        acked = ledger.snapshot()
        t_quiet = time.monotonic()
        last_progress, last_left = time.monotonic(), -1
        while True:
            post_slugs = ([s for s, _ in acked["api_posts"]] + [s for _, _, s in acked["desk_posts"]]
                          + acked["scheduled"])
            missing_posts, missing_members = receiver.missing(post_slugs, acked["confirmed"])
            if not missing_posts and not missing_members:
                break
            left = len(missing_posts) + len(missing_members)
            if left != last_left:
                last_progress, last_left = time.monotonic(), left
            if time.monotonic() - last_progress > 30:
                if missing_posts or missing_members:
                    failures.append(f"webhooks never delivered for {len(missing_posts)} posts "
                                    f"(e.g. {missing_posts[:3]}) and {len(missing_members)} members "
                                    f"(e.g. {missing_members[:3]})")
                break
            time.sleep(0.2)
        drain_s = time.monotonic() - t_quiet
        server.stop()
        problems, half, lost = check_database(data, scratch, acked, marks)
        half_total += half
        lost_total += lost
        failures += [f"final: {p}" for p in problems]
        if ledger.unexpected:
            failures.append(f"{len(ledger.unexpected)} unexpected responses, e.g. {ledger.unexpected[:5]}")

        n_acked = sum(len(v) for v in acked.values())
        summary = [
            f"crash test, seed {seed}: {args.kills} SIGKILLs in {time.monotonic() - started:.0f} s",
            f"  acknowledged writes verified: {n_acked} (joins {len(acked['joins'])}, of them confirmed "
            f"{len(acked['confirmed'])}, API posts "
            f"{len(acked['api_posts'])}, desk drafts {len(acked['desk_drafts'])}, desk publishes "
            f"{len(acked['desk_posts'])}, live entries {len(acked['entries'])}, scheduled "
            f"{len(acked['scheduled'])}) of {ledger.sent} requests sent; {ledger.refused} refused (429/503)",
            f"  lost writes: {lost_total}",
            f"  half-written records: {half_total}",
            f"  integrity_check: {'ok after every kill' if not any('integrity' in f for f in failures) else 'FAILED'}",
            f"  scheduled posts due while down, published after restart: {scheduled_ok} of "
            f"{len(acked['scheduled'])} (the slowest {slowest_publish:.2f} s after it answered); webhooks of every acknowledged post and confirmed join delivered: "
            f"{'yes' if not any('webhooks never' in f for f in failures) else 'NO'}",
            f"  webhook deliveries received: {receiver.count} (the backlog took {drain_s:.0f} s to drain "
            f"after the writers stopped)",
        ]
        print("\n".join(summary), flush=True)
        if args.save:
            save_summary(summary, failures, binary, load_start)
        if failures:
            print(f"FAILED ({len(failures)}):", *failures[:40], sep="\n  ")
        else:
            print("crash test: ok")
            ok = True
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        receiver.server.shutdown()
        if args.keep or not ok:
            print(f"data directory kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def save_summary(summary, failures, binary, load_start):
    import datetime
    import platform
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [f"### Crash test ({now:%Y-%m-%d %H:%M} UTC)", "",
             f"`bench/crash.py` against `{os.path.relpath(binary, ROOT) if binary.startswith(ROOT) else binary}`; "
             f"{os.cpu_count()} CPUs, {platform.platform()}; load average {load_start} at the start, "
             f"{loadavg()} at the end (other work shares the machine).", "", "```", *summary,
             "crash test: ok" if not failures else f"FAILED ({len(failures)})", *failures[:40], "```", ""]
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"crash-{now:%Y%m%d-%H%M}.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {path}")


def published(h, slug):
    try:
        return h.request("GET", f"/{slug}/")[0] == 200
    except (OSError, http.client.HTTPException):
        return False


if __name__ == "__main__":
    main()
