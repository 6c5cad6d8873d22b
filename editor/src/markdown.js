// Markdown <-> document, without loss.
//
// The stored body is Markdown, rendered by the site (pulldown-cmark). The
// editor cuts it into top-level blocks and keeps each block's exact source.
// A block the editor has not touched is written back byte for byte (nodes
// are immutable, so "not touched" is "the same node object"); an edited or
// new block is written by the serialiser. A block the editor cannot model
// faithfully (tables, footnotes, inline HTML...) becomes a `raw` block that
// shows and keeps its Markdown as written.
import MarkdownIt from "markdown-it";
import { MarkdownParser, MarkdownSerializer, defaultMarkdownSerializer } from "prosemirror-markdown";
import { schema } from "./schema.js";
import { embedProvider } from "./embed.js";

const md = new MarkdownIt("default", { html: true, linkify: false, typographer: false });

function listIsTight(tokens, i) {
  while (++i < tokens.length) if (tokens[i].type !== "list_item_open") return tokens[i].hidden;
  return false;
}

const parser = new MarkdownParser(schema, md, {
  blockquote: { block: "blockquote" },
  paragraph: { block: "paragraph" },
  list_item: { block: "list_item" },
  bullet_list: { block: "bullet_list", getAttrs: (_, tokens, i) => ({ tight: listIsTight(tokens, i) }) },
  ordered_list: {
    block: "ordered_list",
    getAttrs: (tok, tokens, i) => ({ order: Number(tok.attrGet("start")) || 1, tight: listIsTight(tokens, i) }),
  },
  heading: { block: "heading", getAttrs: (tok) => ({ level: Number(tok.tag.slice(1)) }) },
  code_block: { block: "code_block", noCloseToken: true },
  fence: { block: "code_block", getAttrs: (tok) => ({ params: tok.info || "" }), noCloseToken: true },
  hr: { node: "horizontal_rule" },
  image: {
    node: "image",
    getAttrs: (tok) => ({
      src: tok.attrGet("src"),
      title: tok.attrGet("title") || null,
      alt: (tok.children[0] && tok.children[0].content) || null,
    }),
  },
  hardbreak: { node: "hard_break" },
  em: { mark: "em" },
  strong: { mark: "strong" },
  link: { mark: "link", getAttrs: (tok) => ({ href: tok.attrGet("href"), title: tok.attrGet("title") || null }) },
  code_inline: { mark: "code", noCloseToken: true },
});

// --- how the editor's own blocks are written -----------------------------

export const PAYWALL = "<!--members-only-->";
export const SUPPORT = "<!--support-->";

function escAttr(s) {
  return String(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
function escText(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\s*\n\s*/g, " ");
}
function unesc(s) {
  return s.replace(/&quot;/g, "\"").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// One line of HTML: a Markdown HTML block ends at a blank line, and this has none.
export function figureHtml(a) {
  let size = "";
  if (/^\d+$/.test(String(a.width)) && /^\d+$/.test(String(a.height))) size = ` width="${a.width}" height="${a.height}"`;
  let html = `<figure><img src="${escAttr(a.src)}" alt="${escAttr(a.alt || "")}"${size}>`;
  if (a.caption || a.credit) {
    html += "<figcaption>" + escText(a.caption || "");
    if (a.credit) html += `${a.caption ? " " : ""}<span class="credit">${escText(a.credit)}</span>`;
    html += "</figcaption>";
  }
  return html + "</figure>";
}

const FIGURE = /^<figure><img src="([^"<>]*)" alt="([^"<>]*)"(?: width="(\d+)" height="(\d+)")?>(?:<figcaption>([^<>]*?)(?: ?<span class="credit">([^<>]*)<\/span>)?<\/figcaption>)?<\/figure>$/;

function parseFigure(text) {
  const m = FIGURE.exec(text.trim());
  if (!m) return null;
  return schema.nodes.figure.create({
    src: unesc(m[1]), alt: unesc(m[2]), width: m[3] || "", height: m[4] || "",
    caption: unesc(m[5] || "").trim(), credit: unesc(m[6] || "").trim(),
  });
}

function wrapper(tag, cls) {
  return (state, node) => {
    state.write(`<${tag} class="${cls}">`);
    state.closeBlock(node);
    state.renderContent(node);
    state.write(`</${tag}>`);
    state.closeBlock(node);
  };
}

const serializer = new MarkdownSerializer({
  ...defaultMarkdownSerializer.nodes,
  // "-" bullets, as the desk's Markdown help and most bodies have them.
  bullet_list(state, node) { state.renderList(node, "  ", () => "- "); },
  pullquote: wrapper("blockquote", "pullquote"),
  callout: wrapper("aside", "callout"),
  figure(state, node) { state.write(figureHtml(node.attrs)); state.closeBlock(node); },
  embed(state, node) { state.write(`<${node.attrs.url}>`); state.closeBlock(node); },
  paywall(state, node) { state.write(PAYWALL); state.closeBlock(node); },
  support(state, node) { state.write(SUPPORT); state.closeBlock(node); },
  raw(state, node) { state.text(node.textContent, false); state.closeBlock(node); },
}, defaultMarkdownSerializer.marks);

/// One block (any node) as Markdown, with no trailing newline.
export function blockToMarkdown(node) {
  return serializer.serialize(schema.node("doc", null, [node])).replace(/\s+$/, "");
}

// --- cutting the stored Markdown into blocks ------------------------------

// Openers of the editor's wrapper blocks, and their closers.
const WRAPPERS = [
  { open: /^<blockquote class="pullquote">\s*$/, close: /^<\/blockquote>\s*$/, type: "pullquote" },
  { open: /^<aside class="callout">\s*$/, close: /^<\/aside>\s*$/, type: "callout" },
];

function rawNode(text) {
  return schema.nodes.raw.create(null, text ? schema.text(text) : null);
}

function renders(text, env) {
  try { return md.render(text, { ...env }); } catch (_) { return null; }
}

// The editor's node for one top-level block's source, or a raw block.
function nodeFor(text, kind, env) {
  let node = null;
  try {
    if (/\[\^[^\]]*\]/.test(text)) {
      node = null; // footnotes: pulldown-cmark has them, markdown-it does not
    } else if (kind === "html") {
      if (text.trim() === PAYWALL) node = schema.nodes.paywall.create();
      else if (text.trim() === SUPPORT) node = schema.nodes.support.create();
      else node = parseFigure(text);
    } else if (kind) {
      const inner = text.split("\n").slice(1, -1).join("\n");
      const doc = parser.parse(inner, { ...env });
      node = schema.nodes[kind].createChecked(null, doc.content);
    } else {
      const auto = /^<(https?:\/\/[^\s<>]+)>$/.exec(text.trim());
      if (auto && embedProvider(auto[1])) {
        node = schema.nodes.embed.create({ url: auto[1] });
      } else {
        const doc = parser.parse(text, { ...env });
        node = doc.childCount === 1 ? doc.firstChild : null;
      }
    }
  } catch (_) {
    node = null;
  }
  if (!node) return rawNode(text);
  const again = blockToMarkdown(node);
  if (again === text) return node;
  const a = renders(again, env);
  return a !== null && a === renders(text, env) ? node : rawNode(text);
}

/// Parses a body. Returns the document and what is needed to write it back.
export function parseBody(source) {
  const src = source.replace(/\r\n?/g, "\n");
  const env = {};
  let tokens;
  try { tokens = md.parse(src, env); } catch (_) { tokens = []; }
  const lineStart = [0];
  for (let i = 0; i < src.length; i++) if (src[i] === "\n") lineStart.push(i + 1);
  const offset = (line) => (line < lineStart.length ? lineStart[line] : src.length);
  // The end of the last line of a block, before its newline.
  const endOf = (line) => {
    const next = offset(line);
    return next > 0 && src[next - 1] === "\n" && line < lineStart.length ? next - 1 : next;
  };
  const ranges = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.level !== 0 || t.nesting === -1 || !t.map) continue;
    let kind = t.type === "html_block" ? "html" : null;
    let to = t.map[1];
    if (t.type === "html_block") {
      const w = WRAPPERS.find((x) => x.open.test(t.content));
      if (w) {
        for (let j = i + 1; j < tokens.length; j++) {
          const c = tokens[j];
          if (c.level === 0 && c.type === "html_block" && c.map) {
            if (w.close.test(c.content)) { kind = w.type; to = c.map[1]; i = j; }
            break;
          }
        }
        if (kind === "html") {
          // An opener without its closer: keep it as written.
          kind = "rawhtml";
        }
      }
    }
    // Blank lines markdown-it counts into a list belong to the gap after it.
    const from = offset(t.map[0]);
    let end = endOf(to);
    while (end > from && src[end - 1] === "\n") end--;
    ranges.push({ from, to: end, kind });
  }
  const blocks = [];
  const nodes = [];
  const origin = new WeakMap();
  let prevEnd = 0;
  for (const r of ranges) {
    const text = src.slice(r.from, r.to);
    const node = r.kind === "rawhtml" ? rawNode(text) : nodeFor(text, r.kind, env);
    blocks.push({ text, gapBefore: src.slice(prevEnd, r.from) });
    origin.set(node, nodes.length);
    nodes.push(node);
    prevEnd = r.to;
  }
  const leading = blocks.length ? blocks[0].gapBefore : "";
  const trailing = src.slice(prevEnd);
  if (!nodes.length) nodes.push(schema.nodes.paragraph.create());
  const doc = schema.node("doc", null, nodes);
  return { doc, base: { blocks, origin, leading, trailing, source: src } };
}

function isEmptyParagraph(node) {
  return node.type === schema.nodes.paragraph && node.content.size === 0;
}

/// Writes a document back: untouched blocks as they were, the rest anew.
export function serializeBody(doc, base) {
  let out = "";
  let prev = null; // index of the previous original block, or -1 for a new one
  let first = true;
  doc.forEach((child) => {
    const idx = base.origin.get(child);
    if (idx === undefined && isEmptyParagraph(child)) return;
    if (first) {
      out += idx === 0 ? base.leading : "";
    } else {
      out += idx !== undefined && prev !== null && idx === prev + 1 ? base.blocks[idx].gapBefore : "\n\n";
    }
    out += idx !== undefined ? base.blocks[idx].text : blockToMarkdown(child);
    prev = idx === undefined ? -1 : idx;
    first = false;
  });
  if (first) return base.blocks.length ? "" : base.trailing;
  // The original ending (usually one newline) when the last block is the last
  // original one; otherwise one newline.
  const lastOriginal = prev === base.blocks.length - 1;
  return out + (lastOriginal ? base.trailing : "\n");
}
