// The editor's Markdown round trip, in Node (no browser needed): run by
// scripts/build-editor.sh before it bundles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBody, serializeBody, blockToMarkdown, figureHtml } from "../src/markdown.js";
import { schema } from "../src/schema.js";
import { embedProvider } from "../src/embed.js";

const unchanged = (src) => {
  const { doc, base } = parseBody(src);
  assert.equal(serializeBody(doc, base), src.replace(/\r\n?/g, "\n"));
  return doc;
};

test("bodies written by hand come back byte for byte", () => {
  for (const src of [
    "",
    "\n",
    "One paragraph without a newline",
    "Setext\n======\n\nA *b* _c_ __d__ **e**\nwrapped line  \nhard break\n\n\n\nfour newlines above\n",
    "* one\n* two\n\n* loose\n\n1) a\n2) b\n\n---\n\n***\n",
    "| a | b |\n|---|--:|\n| 1 | 2 |\n\nA note.[^1]\n\n[^1]: The note.\n",
    "[ref][r] link\n\n[r]: https://example.org \"T\"\n",
    "<div class=\"x\">\nhtml block\n</div>\n\nSome <sub>inline</sub> html.\n",
    "   indented paragraph\n\n    code block\n\n```js\nfenced\n```\n",
    "> quote\ncontinued lazily\n\n> - list in quote\n",
    "<aside class=\"callout\">\n\n## Facts\n\n- one\n\n</aside>\n\n<blockquote class=\"pullquote\">\n\nSaid.\n\n</blockquote>\n",
    "<aside class=\"callout\">\nno blank line\n</aside>\n\n<aside class=\"callout\">\n\nnever closed\n",
    "<!--members-only-->\n\n<https://www.youtube.com/watch?v=dQw4w9WgXcQ>\n\n<https://evil.example/x>\n",
    figureHtml({ src: "/media/abc/640.jpg", alt: "A \"b\" <c> & d", caption: "Cap", credit: "Ann / Agency", width: "640", height: "480" }) + "\n",
    "Windows\r\nline endings\r\n",
    "trailing spaces   \n\n\n",
  ]) unchanged(src);
});

test("the editor's blocks parse to their nodes", () => {
  const doc = unchanged("<aside class=\"callout\">\n\n## Facts\n\n- one\n\n</aside>\n\n<blockquote class=\"pullquote\">\n\nSaid.\n\n</blockquote>\n\n<!--members-only-->\n\n<!--support-->\n\n<https://youtu.be/dQw4w9WgXcQ>\n\n" +
    figureHtml({ src: "/media/abc/640.jpg", alt: "Alt", caption: "Cap", credit: "Cred" }) + "\n\n| a |\n|---|\n| 1 |\n");
  assert.deepEqual(doc.content.content.map((n) => n.type.name), ["callout", "pullquote", "paywall", "support", "embed", "figure", "raw"]);
  const fig = doc.child(5);
  assert.equal(fig.attrs.caption, "Cap");
  assert.equal(fig.attrs.credit, "Cred");
});

test("an edit rewrites only the edited block", () => {
  const src = "Title\n=====\n\n* keep\n* me\n\nEdit _me_.\n\n\nLast.\n";
  const { doc, base } = parseBody(src);
  const para = doc.child(2);
  const pos = doc.child(0).nodeSize + doc.child(1).nodeSize;
  const edited = doc.replace(pos, pos + para.nodeSize,
    new (doc.slice(0).constructor)(schema.node("doc", null, [schema.node("paragraph", null, [schema.text("Edited.")])]).content, 0, 0));
  // Untouched neighbours keep their text; the separators around a rewritten
  // block are one blank line.
  assert.equal(serializeBody(edited, base), "Title\n=====\n\n* keep\n* me\n\nEdited.\n\nLast.\n");
  const appended = edited.copy(edited.content.append(schema.node("doc", null, [schema.node("heading", { level: 2 }, [schema.text("New")])]).content));
  assert.equal(serializeBody(appended, base), "Title\n=====\n\n* keep\n* me\n\nEdited.\n\nLast.\n\n## New\n");
});

test("new blocks are written as the site renders them", () => {
  const n = schema.nodes;
  assert.equal(blockToMarkdown(n.bullet_list.create(null, [n.list_item.create(null, n.paragraph.create(null, schema.text("a")))])), "- a");
  assert.equal(blockToMarkdown(n.pullquote.create(null, n.paragraph.create(null, schema.text("Q")))), "<blockquote class=\"pullquote\">\n\nQ\n\n</blockquote>");
  assert.equal(blockToMarkdown(n.embed.create({ url: "https://vimeo.com/1" })), "<https://vimeo.com/1>");
  assert.equal(blockToMarkdown(n.paywall.create()), "<!--members-only-->");
  assert.equal(blockToMarkdown(n.support.create()), "<!--support-->");
  assert.equal(blockToMarkdown(n.figure.create({ src: "/media/k/640.png", alt: "x", caption: "", credit: "" })), "<figure><img src=\"/media/k/640.png\" alt=\"x\"></figure>");
});

test("embeds follow the site's allow-list", () => {
  assert.equal(embedProvider("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1"), "YouTube");
  assert.equal(embedProvider("https://vimeo.com/76979871"), "Vimeo");
  for (const bad of ["https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "javascript:alert(1)", "https://vimeo.com/abc", "https://www.youtube.com/watch?v=short"]) {
    assert.equal(embedProvider(bad), null, bad);
  }
});
