"""A real SMTP server for tests: stores every message it receives as a file.

    python sink.py PORT OUTDIR

Prints "ready" once listening on 127.0.0.1:PORT. Each message is written to
OUTDIR/<n>.eml (with the envelope's RCPT TO on the first line, then the raw
message), so tests read exactly what a mail client would get.
"""

import asyncio
import os
import sys

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        tmp = os.path.join(self.outdir, f".{self.n}.tmp")
        with open(tmp, "wb") as f:
            f.write(("RCPT-TO: " + ",".join(envelope.rcpt_tos) + "\n").encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.outdir, f"{self.n}.eml"))
        return "250 Message accepted"


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    controller = Controller(Store(outdir), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
