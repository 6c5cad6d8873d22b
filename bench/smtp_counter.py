#!/usr/bin/env python3
"""An SMTP sink for the mail benchmarks: a real SMTP server (aiosmtpd) that
accepts every message and appends each envelope recipient to a file, one a
line, as the message is accepted (so the file says what the relay took,
whatever happens to the sender).

    python bench/smtp_counter.py PORT RECIPIENTS_FILE

Prints "ready" once listening on 127.0.0.1:PORT. Needs aiosmtpd (the test
venv has it: MASTHEAD_TEST_PYTHON).
"""

import asyncio
import sys

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self, path):
        # Line-buffered: each accepted recipient is written before the reply.
        self.out = open(path, "a", buffering=1)

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            self.out.write(rcpt + "\n")
        return "250 2.0.0 Ok: queued"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Counter(path), hostname="127.0.0.1", port=port,
                            data_size_limit=10 * 1024 * 1024)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
