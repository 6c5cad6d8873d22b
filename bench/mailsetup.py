"""Shared by bench/mailkill.py and bench/mailsend.py: a fresh SQLite site
with N members subscribed to the default newsletter, the counting SMTP sink,
the server, and the Admin API call that publishes a post and e-mails it.
Standard library, plus aiosmtpd in the sink's process."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(binary, data, *args, stdin=None):
    out = subprocess.run([binary, "--data-dir", data, *args], capture_output=True, text=True,
                         input=stdin, env=dict(os.environ, MASTHEAD_LOG="warn"))
    if out.returncode != 0:
        raise SystemExit(f"masthead {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def prepare_site(binary, data):
    """A migrated, empty site with an owner (whose byline API posts get) and
    an Admin API key."""
    cli(binary, data, "migrate")
    cli(binary, data, "user", "add", "--email", "owner@bench.example", "--name", "Bench Owner",
        "--role", "owner", "--password-stdin", stdin="a long benchmark password\n")
    return cli(binary, data, "key", "create", "admin", "--name", "bench").strip()


def seed_members(data, n):
    """N members subscribed to the default newsletter, written straight into
    the migrated database (the site has no bulk import of its own yet)."""
    con = sqlite3.connect(os.path.join(data, "masthead.db"))
    nl = con.execute("SELECT id FROM newsletters WHERE slug = 'default-newsletter'").fetchone()[0]
    now = int(time.time() * 1000)
    start = con.execute("SELECT COALESCE(MAX(id), 0) FROM members").fetchone()[0] + 1
    rows = [(start + i, f"reader{i}@bench.example", f"reader{i}@bench.example",
             "paid" if i % 10 == 0 else "free", now) for i in range(n)]
    con.executemany("INSERT INTO members (id, email, email_key, status, source, created_at) "
                    "VALUES (?, ?, ?, ?, 'import', ?)", rows)
    con.executemany("INSERT INTO member_newsletters (member_id, newsletter_id, created_at) VALUES (?, ?, ?)",
                    [(r[0], nl, now) for r in rows])
    con.commit()
    con.close()
    return [r[1] for r in rows]


class Sink:
    """bench/smtp_counter.py in its own process."""

    def __init__(self, python, tmp):
        self.port = free_port()
        self.path = os.path.join(tmp, "received.txt")
        open(self.path, "w").close()
        self.proc = subprocess.Popen([python, os.path.join(HERE, "smtp_counter.py"), str(self.port), self.path],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP sink did not start (is aiosmtpd installed for "
                             f"{python}? scripts/test.sh installs it): {self.proc.stderr.read()}")

    def count(self):
        with open(self.path, "rb") as f:
            return sum(1 for _ in f)

    def received(self):
        counts = {}
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if line:
                    counts[line] = counts.get(line, 0) + 1
        return counts

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Server:
    def __init__(self, binary, data, port, smtp_port, log_path, env):
        self.args = [binary, "--data-dir", data, "serve", "--no-demo", "--addr", f"127.0.0.1:{port}",
                     "--smtp-url", f"smtp://127.0.0.1:{smtp_port}",
                     "--mail-from", "The Bench Gazette <news@bench.example>"]
        self.port, self.log_path = port, log_path
        self.env = dict(os.environ, MASTHEAD_LOG="warn", **env)
        self.proc = None

    def start(self, timeout=60):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=log, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"masthead exited with {self.proc.returncode}; see {self.log_path}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.02)
        raise SystemExit(f"masthead did not start within {timeout} s; see {self.log_path}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def peak_rss_kb(self):
        """VmHWM: the most resident memory the process has had."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None


def admin_token(key):
    kid, secret = key.split(":")
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps({"iat": now, "exp": now + 300, "aud": "/admin/"}).encode())
    sig = hmac.new(bytes.fromhex(secret), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


BODY = "".join(f"<p>Paragraph {i} of the benchmark edition: the harbour board met, the ferry "
               f"timetable changed, and <a href=\"/about/\">readers asked</a> what comes next.</p>"
               for i in range(12))


def publish_and_send(port, key, title):
    """Publishes a post through the Admin API and e-mails it to the default
    newsletter, as Ghost's `?newsletter=` does."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    doc = json.dumps({"posts": [{"title": title, "status": "published", "html": BODY}]})
    c.request("POST", "/ghost/api/admin/posts/?source=html&newsletter=default-newsletter",
              body=doc, headers={"Authorization": f"Ghost {admin_token(key)}",
                                 "Content-Type": "application/json"})
    res = c.getresponse()
    body = res.read()
    if res.status != 201:
        raise SystemExit(f"publishing and sending failed: HTTP {res.status} {body[:300]!r}")


def open_recipients(data):
    """Recipients queued or in flight, and those failed, read from the file."""
    con = sqlite3.connect(f"file:{os.path.join(data, 'masthead.db')}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute("SELECT "
                          "COUNT(*) FILTER (WHERE status IN ('pending', 'sending')), "
                          "COUNT(*) FILTER (WHERE status = 'failed'), "
                          "COUNT(*) FILTER (WHERE status = 'sent') FROM email_recipients").fetchone()
        return row
    finally:
        con.close()


def handed_over(data):
    """Recipients recorded as sent from a handover: the server was killed
    after writing the message's final dot, before recording the answer."""
    con = sqlite3.connect(f"file:{os.path.join(data, 'masthead.db')}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(
            "SELECT count(*) FROM email_recipients WHERE reply LIKE 'handed to the relay%'").fetchone()[0]
    finally:
        con.close()


def python_for_sink():
    return os.environ.get("MASTHEAD_TEST_PYTHON") or sys.executable
