"""A real SMTP server for tests: stores every message it receives as a file.

    python sink.py PORT OUTDIR [REFUSED,ADDRESSES]

Prints "ready" once listening on 127.0.0.1:PORT. Each message is written to
OUTDIR/<n>.eml (with the envelope's RCPT TO on the first line, then the raw
message), so tests read exactly what a mail client would get. Recipients in
the optional comma-separated list are refused for good (550 5.1.1), as a
mail server refuses an address that does not exist; one written `~address`
is refused for now (451 4.2.0) the first time only, as by a greylisting
server.
"""

import asyncio
import os
import sys

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, outdir, refused=()):
        self.outdir = outdir
        self.refused = {a.lower() for a in refused if not a.startswith("~")}
        self.later = {a[1:].lower() for a in refused if a.startswith("~")}
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.lower() in self.later:
            self.later.discard(address.lower())
            return "451 4.2.0 <%s>: greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

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
    refused = [a for a in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if a]
    os.makedirs(outdir, exist_ok=True)
    controller = Controller(Store(outdir, refused), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
