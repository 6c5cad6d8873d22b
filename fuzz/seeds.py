#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/seeds/<target>/.

The seeds are real inputs from the project: the Ghost export fixture, the demo
posts' Markdown, the NQL unit tests' filters, tokens made like the Admin API
clients make them, and small images in each upload format (made with Pillow,
which only this script needs: `pip install pillow`). scripts/fuzz.sh --seed
runs this and then minimises seeds plus findings into fuzz/corpus/<target>/.
"""

import base64
import hashlib
import hmac
import io
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds"


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def rust_strings(text):
    """String literals of Rust source, escapes resolved (the common ones)."""
    out = []
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', text):
        s = m.group(1)
        s = re.sub(r"\\u\{([0-9a-fA-F]+)\}", lambda u: chr(int(u.group(1), 16)), s)
        s = s.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
        out.append(s)
    return out


def cursor():
    for i, c in enumerate(["1764438000000.42", "0.1", "9223372036854775807.9223372036854775807",
                           "1.02", "-1.2", "1764438000000", ""]):
        write("cursor", f"seed-{i}", c)


def search():
    # First byte: 0 = a query, 1 = a result cursor, 2 = a highlighted snippet.
    queries = ['ferry', '"city council" counc* -parking', 'title:x AND (NEAR OR "a"" b") * ^col',
               '--a* -"-b" "c*"', 'NEAR(a b, 3)', '{title dek}: x', 'é́ ﬁ 👍 \u202eharbour', '"unclosed phrase',
               ' '.join(f'w{i}' for i in range(17)), 'x' * 201, 'a\0b\x01c']
    for i, q in enumerate(queries):
        write("search", f"query-{i}", b"\0" + q.encode())
    for i, c in enumerate(["bebd2c927d1759ae.1882607878128271365.9223372036854775807.1883068412707471388",
                           "0000000000000000.-5.9.0", "7ff0000000000000.1.5.2", "0000000000000000.1.5.5"]):
        write("search", f"cursor-{i}", b"\1" + c.encode())
    for i, h in enumerate(["<b>\x02x&y\x03</b> \x03\x02\"", "\x02\x02open", "plain 'text' & more"]):
        write("search", f"snippet-{i}", b"\2" + h.encode())


def nql():
    src = (ROOT / "crates/masthead-nql/src/tests.rs").read_text()
    seen = set()
    for s in rust_strings(src):
        if ":" in s and len(s) < 300 and s not in seen and "{" not in s:
            seen.add(s)
    for i, s in enumerate(sorted(seen)):
        write("nql", f"test-{i:03}", s)
    for i, s in enumerate(["tag:news+published_at:>now-30d", "status:published,featured:true",
                           "(tag:a,tag:b)+author:-[x,y]", "published_at:>now-4294967295y",
                           "published_at:<now", "title:~'it\\'s'"]):
        write("nql", f"extra-{i}", s)


def ghost_export():
    data = json.loads((ROOT / "crates/masthead/tests/fixtures/ghost-5-export.json").read_text())
    db = data["db"][0]["data"] if "db" in data else data
    return db["posts"]


def ghost_body():
    # First byte picks the format: 0 HTML, 1 Lexical, 2 Mobiledoc.
    for p in ghost_export():
        for sel, key in ((0, "html"), (1, "lexical"), (2, "mobiledoc")):
            if p.get(key):
                write("ghost_body", f"{p['slug']}-{key}", bytes([sel]) + p[key].encode())
    render = (ROOT / "crates/masthead-render/src/ghost_body.rs").read_text()
    # The unit tests' documents, rebuilt as JSON.
    lexical = {"root": {"type": "root", "children": [
        {"type": "heading", "tag": "h2", "children": [{"type": "text", "text": "Tides", "format": 0}]},
        {"type": "paragraph", "children": [
            {"type": "text", "text": "High ", "format": 0},
            {"type": "text", "text": "water", "format": 127},
            {"type": "linebreak"},
            {"type": "link", "url": "https://example.org/t",
             "children": [{"type": "text", "text": "table", "format": 2}]}]},
        {"type": "quote", "children": [{"type": "text", "text": "Keep off", "format": 0}]},
        {"type": "list", "listType": "number", "children": [
            {"type": "listitem", "children": [{"type": "text", "text": "one", "format": 0}]}]},
        {"type": "image", "src": "https://example.org/a.jpg", "altText": "A wave", "caption": "Spray"},
        {"type": "markdown", "markdown": "**bold** move"},
        {"type": "html", "html": "<p>raw <script>x</script></p>"},
        {"type": "codeblock", "code": "<b>"},
        {"type": "embed", "url": "https://example.org/v"},
        {"type": "horizontalrule"}, {"type": "paywall"}]}}
    write("ghost_body", "unit-lexical", b"\x01" + json.dumps(lexical).encode())
    mobiledoc = {
        "version": "0.3.1", "atoms": [["soft-return", "", {}]],
        "markups": [["strong"], ["a", ["href", "https://example.org"]]],
        "cards": [["hr", {}], ["html", {"html": "<p>card</p>"}], ["gallery", {}],
                  ["markdown", {"markdown": "# x"}], ["image", {"src": "/a.png", "caption": "c"}],
                  ["code", {"code": "<x>"}], ["bookmark", {"url": "https://e.example"}]],
        "sections": [[1, "h2", [[0, [], 0, "Title"]]],
                     [1, "p", [[0, [0], 1, "Bold"], [0, [], 0, " and "], [1, [], 0, 0],
                               [0, [1], 1, "link"]]],
                     [2, "/img.png"], [3, "ul", [[[0, [], 0, "item"]]]],
                     [10, 0], [10, 1], [10, 2], [10, 3], [10, 4], [10, 5], [10, 6], [10, 99]]}
    write("ghost_body", "unit-mobiledoc", b"\x02" + json.dumps(mobiledoc).encode())
    assert "lexical_to_html" in render
    write("ghost_body", "xss-html", b"\x00<p onclick=x>a</p><script>y</script>"
          b"<a href=\"javascript:z\">l</a><img src=x onerror=w><svg><style>s</style></svg>")


def markdown():
    for f in sorted((ROOT / "crates/masthead/demo/posts").glob("*.md")):
        text = f.read_text()
        # The body follows the front matter; keep the first few KB of each.
        write("markdown", f.stem, text[:4096])
    write("markdown", "xss", "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
          "[x](javascript:alert(1))\n\n<iframe src=https://evil.example></iframe>\n\n"
          "| a | b |\n|---|---|\n| 1 | 2 |\n\nfoot[^1]\n\n[^1]: note\n\n~~gone~~ \"smart\"\n")


def jwt():
    secret = bytes.fromhex("00112233445566778899aabbccddeeff" * 2)
    kid = "0123456789abcdef01234567"

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    def token(header, claims):
        signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
        return signing + "." + b64(sig)

    h = {"alg": "HS256", "typ": "JWT", "kid": kid}
    now = 1_780_000_000
    for i, claims in enumerate([{"iat": now, "exp": now + 300, "aud": "/admin/"},
                                {"iat": now, "exp": now + 300, "aud": "/v5/admin/"},
                                {"iat": now, "exp": now + 300, "aud": ["/canary/admin/"]},
                                {"iat": now - 9000, "exp": now - 8800, "aud": "/admin/"},
                                {"iat": 1, "exp": 2}]):
        write("jwt", f"token-{i}", b"\x00" + token(h, claims).encode())
        write("jwt", f"signed-{i}", b"\x01" + json.dumps(h).encode() + b"\x00"
              + json.dumps(claims).encode())
    write("jwt", "alg-none", b"\x00" + token({"alg": "none", "kid": kid}, {"iat": 1}).encode())


def upload():
    try:
        from PIL import Image
    except ImportError:
        print("Pillow is missing: no image seeds (pip install pillow)")
        return
    img = Image.new("RGB", (24, 16))
    for x in range(24):
        for y in range(16):
            img.putpixel((x, y), (x * 10, y * 15, 128))
    rgba = img.convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    shots = [
        ("jpeg", img, "JPEG", {"quality": 80}),
        ("jpeg-progressive", img, "JPEG", {"quality": 60, "progressive": True}),
        ("jpeg-gray", img.convert("L"), "JPEG", {}),
        ("png", img, "PNG", {}),
        ("png-rgba", rgba, "PNG", {}),
        ("png-palette", img.convert("P"), "PNG", {}),
        ("png-interlaced", img, "PNG", {"interlace": 1}),
        ("png-16bit", img.convert("I;16"), "PNG", {}),
        ("gif", img.convert("P"), "GIF", {}),
        ("webp-lossy", img, "WEBP", {"quality": 70}),
        ("webp-lossless", rgba, "WEBP", {"lossless": True}),
    ]
    for name, im, fmt, opts in shots:
        buf = io.BytesIO()
        im.save(buf, fmt, **opts)
        write("upload", name, buf.getvalue())
    # EXIF orientation 6 (turn 90°), as phones write it.
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    write("upload", "jpeg-exif-rotated", buf.getvalue())
    # An animated GIF: two frames.
    frames = [img.convert("P"), img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    write("upload", "gif-animated", buf.getvalue())
    # An animated WebP.
    buf = io.BytesIO()
    frames2 = [img, img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    frames2[0].save(buf, "WEBP", save_all=True, append_images=frames2[1:], duration=100)
    write("upload", "webp-animated", buf.getvalue())


if __name__ == "__main__":
    for target in (cursor, search, nql, ghost_body, markdown, jwt, upload):
        target()
    for d in sorted(OUT.iterdir()):
        print(d.name, len(list(d.iterdir())))
