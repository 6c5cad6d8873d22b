"""Checks a newsletter e-mail as a mail client would read it.

    python check_email.py MESSAGE.eml

The message (as tests/smtp/sink.py stores it: an RCPT-TO line, then the raw
message) must be multipart/alternative with a text/plain and a text/html
part, and the HTML must parse with no error at all in html5lib's strict
mode (a real HTML5 parser). Prints "ok", or the problems and exits 1.
"""

import email
import email.policy
import sys

import html5lib


def main():
    raw = open(sys.argv[1], "rb").read()
    if raw.startswith(b"RCPT-TO:"):
        raw = raw.split(b"\n", 1)[1]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    problems = []
    if msg.get_content_type() != "multipart/alternative":
        problems.append(f"content type {msg.get_content_type()}, not multipart/alternative")
    parts = {p.get_content_type(): p for p in msg.walk() if not p.is_multipart()}
    for kind in ("text/plain", "text/html"):
        if kind not in parts:
            problems.append(f"no {kind} part")
    if "text/html" in parts:
        html = parts["text/html"].get_content()
        try:
            html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
        except Exception as e:  # html5lib raises ParseError at the first error
            problems.append(f"HTML parse error: {e}")
    if problems:
        print("; ".join(problems))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
