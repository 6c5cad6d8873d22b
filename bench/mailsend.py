#!/usr/bin/env python3
"""Newsletter sending speed (issue 10, item 9): one post e-mailed to N
subscribed members through a local SMTP sink, and the sink measured alone.

  bench/mailsend.py                       # 100,000 recipients, the release build
  bench/mailsend.py --members 5000        # a smoke run
  bench/mailsend.py --sink-only           # only the sink's own capacity

The site is a fresh SQLite site (bench/mailsetup.py) whose members are all
subscribed to the default newsletter; the post is published and e-mailed
through the Admin API (`?newsletter=`). The sink is a real SMTP server
(aiosmtpd, bench/smtp_counter.py, its own process) that records each
accepted recipient.

Reports: time from the publishing call to the last message accepted by the
sink ("handed to the relay"), messages per second, the server's peak RSS
(VmHWM), and then the sink alone: Python clients (4 processes, one SMTP
connection each, as many as the server's lanes) blasting the same number of
messages of the same size, to show which side is the bottleneck. Targets:
100,000 handed over within 3 minutes, peak RSS under 150 MB.

Run it with the Python that has aiosmtpd (MASTHEAD_TEST_PYTHON). Do not run
the 100,000 version on a machine other work is timing.
"""

import argparse
import multiprocessing
import os
import shutil
import smtplib
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailsetup as ms  # noqa: E402

CLIENTS = 4


def blast(port, n, size, who):
    body = ("x" * 76 + "\r\n") * (size // 78)
    msg = (f"From: bench@bench.example\r\nTo: r@bench.example\r\nSubject: sink alone\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}")
    with smtplib.SMTP("127.0.0.1", port) as s:
        for i in range(n):
            s.sendmail("bench@bench.example", [f"alone{who}-{i}@bench.example"], msg)


def sink_alone(python, tmp, n, size):
    sink = ms.Sink(python, tmp)
    try:
        per = n // CLIENTS
        started = time.monotonic()
        procs = [multiprocessing.Process(target=blast, args=(sink.port, per, size, w)) for w in range(CLIENTS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.monotonic() - started
        got = sink.count()
        return got, elapsed
    finally:
        sink.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--binary", default=None, help="default: $CARGO_TARGET_DIR/release/masthead")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--sink-only", action="store_true")
    ap.add_argument("--save", action="store_true", help="also write bench/results/mailsend-<stamp>.md")
    args = ap.parse_args()
    python = ms.python_for_sink()
    tmp = tempfile.mkdtemp(prefix="masthead-mailsend-")
    lines = []

    def say(s):
        print(s, flush=True)
        lines.append(s)

    try:
        # About the size of the benchmark edition as the server sends it.
        size = 10_000
        if not args.sink_only:
            target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ms.ROOT, "target"))
            binary = args.binary or os.path.join(target, "release", "masthead")
            if not os.path.exists(binary):
                raise SystemExit(f"{binary} does not exist; cargo build --release --bin masthead, or pass --binary")
            data = os.path.join(tmp, "data")
            key = ms.prepare_site(binary, data)
            t = time.monotonic()
            ms.seed_members(data, args.members)
            say(f"mail send: {args.members} subscribed members seeded in {time.monotonic() - t:.1f} s; {binary}")
            sink = ms.Sink(python, tmp)
            server = ms.Server(binary, data, ms.free_port(), sink.port, os.path.join(tmp, "server.log"),
                               {"MASTHEAD_MAIL_CONNECTIONS": str(args.connections)})
            server.start()
            try:
                started = time.monotonic()
                ms.publish_and_send(server.port, key, "The benchmark edition")
                created = time.monotonic() - started
                last, last_t = 0, time.monotonic()
                while True:
                    got = sink.count()
                    if got != last:
                        last, last_t = got, time.monotonic()
                    if got >= args.members:
                        break
                    if time.monotonic() - last_t > 60:
                        raise SystemExit(f"no progress for 60 s at {got} of {args.members}; see {tmp}/server.log")
                    time.sleep(0.05)
                elapsed = time.monotonic() - started
                rss = server.peak_rss_kb()
                queued, failed, sent = ms.open_recipients(data)
                say(f"server: {args.members} messages handed to the relay in {elapsed:.1f} s "
                    f"({args.members / elapsed:.0f}/s; the send was created, recipients snapshotted, "
                    f"in {created:.2f} s); peak RSS {rss / 1024:.0f} MB; "
                    f"{sent} recorded sent, {failed} failed, {queued} left; {args.connections} connections")
                ok_time = elapsed < 180
                ok_rss = rss is not None and rss < 150 * 1024
                say(f"targets: under 3 minutes {'yes' if ok_time else 'NO'}; peak RSS under 150 MB "
                    f"{'yes' if ok_rss else 'NO'}")
            finally:
                server.stop()
                sink.stop()
        got, elapsed = sink_alone(python, tmp, args.members, size)
        say(f"sink alone: {got} messages from {CLIENTS} Python clients in {elapsed:.1f} s ({got / elapsed:.0f}/s)")
        if args.save:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = os.path.join(ms.HERE, "results", f"mailsend-{stamp}.md")
            with open(path, "w") as f:
                f.write("# Newsletter send benchmark\n\n```\n" + "\n".join(lines) + "\n```\n")
            print(f"saved {path}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
