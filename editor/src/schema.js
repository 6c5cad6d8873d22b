// The story body's document model. Every node here has a Markdown form
// (markdown.js) that the site's renderer (masthead-render) prints as the
// same structure; `raw` keeps any Markdown the editor cannot represent, as
// written, so nothing is ever rewritten behind the author's back.
import { Schema } from "prosemirror-model";

// Links pasted or typed may only point where the site's sanitiser lets them.
export function safeHref(href) {
  const h = (href || "").trim();
  if (/^(https?:|mailto:|tel:)/i.test(h) || /^[/#?]/.test(h)) return h;
  if (/^[a-z0-9.-]+\.[a-z]{2,}(\/|$)/i.test(h)) return "https://" + h;
  return null;
}

function figureAttrs(dom) {
  const img = dom.querySelector("img[src]");
  if (!img) return false;
  const cap = dom.querySelector("figcaption");
  let caption = "", credit = "";
  if (cap) {
    const c = cap.querySelector(".credit");
    credit = c ? c.textContent.trim() : "";
    const copy = cap.cloneNode(true);
    copy.querySelectorAll(".credit").forEach((n) => n.remove());
    caption = copy.textContent.trim();
  }
  return {
    src: img.getAttribute("src"),
    alt: img.getAttribute("alt") || "",
    width: img.getAttribute("width") || "",
    height: img.getAttribute("height") || "",
    caption,
    credit,
  };
}

export const schema = new Schema({
  nodes: {
    doc: { content: "block+" },
    paragraph: {
      group: "block",
      content: "inline*",
      parseDOM: [{ tag: "p" }],
      toDOM: () => ["p", 0],
    },
    heading: {
      group: "block",
      content: "inline*",
      attrs: { level: { default: 2 } },
      defining: true,
      parseDOM: [1, 2, 3, 4, 5, 6].map((level) => ({ tag: "h" + level, attrs: { level } })),
      toDOM: (n) => ["h" + n.attrs.level, 0],
    },
    blockquote: {
      group: "block",
      content: "block+",
      defining: true,
      parseDOM: [{ tag: "blockquote" }],
      toDOM: () => ["blockquote", 0],
    },
    pullquote: {
      group: "block",
      content: "paragraph+",
      defining: true,
      parseDOM: [{ tag: "blockquote.pullquote", priority: 60 }],
      toDOM: () => ["blockquote", { class: "pullquote" }, 0],
    },
    callout: {
      group: "block",
      content: "(paragraph | heading | bullet_list | ordered_list)+",
      defining: true,
      parseDOM: [{ tag: "aside.callout" }],
      toDOM: () => ["aside", { class: "callout" }, 0],
    },
    horizontal_rule: {
      group: "block",
      parseDOM: [{ tag: "hr" }],
      toDOM: () => ["hr"],
    },
    code_block: {
      group: "block",
      content: "text*",
      marks: "",
      code: true,
      defining: true,
      attrs: { params: { default: "" } },
      parseDOM: [{ tag: "pre", preserveWhitespace: "full" }],
      toDOM: () => ["pre", ["code", 0]],
    },
    bullet_list: {
      group: "block",
      content: "list_item+",
      attrs: { tight: { default: true } },
      parseDOM: [{ tag: "ul" }],
      toDOM: () => ["ul", 0],
    },
    ordered_list: {
      group: "block",
      content: "list_item+",
      attrs: { order: { default: 1 }, tight: { default: true } },
      parseDOM: [{
        tag: "ol",
        getAttrs: (d) => ({ order: d.hasAttribute("start") ? Number(d.getAttribute("start")) || 1 : 1 }),
      }],
      toDOM: (n) => ["ol", n.attrs.order === 1 ? {} : { start: n.attrs.order }, 0],
    },
    list_item: {
      content: "paragraph block*",
      defining: true,
      parseDOM: [{ tag: "li" }],
      toDOM: () => ["li", 0],
    },
    // An image from the media library with its words; printed as <figure>.
    figure: {
      group: "block",
      atom: true,
      draggable: true,
      attrs: {
        src: {}, alt: { default: "" }, width: { default: "" }, height: { default: "" },
        caption: { default: "" }, credit: { default: "" },
      },
      parseDOM: [{ tag: "figure", getAttrs: figureAttrs }],
      toDOM: (n) => {
        const img = ["img", { src: n.attrs.src, alt: n.attrs.alt }];
        const words = [];
        if (n.attrs.caption) words.push(n.attrs.caption);
        if (n.attrs.credit) words.push(" ", ["span", { class: "credit" }, n.attrs.credit]);
        if (!n.attrs.alt) words.push(" ", ["span", { class: "pm-warn" }, "(no alt text yet: double-click to add it)"]);
        return ["figure", { class: "pm-figure", title: "Double-click or press Enter to edit the image's words" }, img, ["figcaption", ...words]];
      },
    },
    // A YouTube or Vimeo page; the site shows its player.
    embed: {
      group: "block",
      atom: true,
      attrs: { url: {} },
      toDOM: (n) => ["div", { class: "pm-embed", "data-url": n.attrs.url }, "Video: " + n.attrs.url],
    },
    // Where members-only stories stop for everyone else.
    paywall: {
      group: "block",
      atom: true,
      toDOM: () => ["div", { class: "pm-paywall" }, "Members only below this line"],
    },
    // A box asking readers to give, with the site's suggested amounts.
    support: {
      group: "block",
      atom: true,
      toDOM: () => ["div", { class: "pm-support" }, "Support box: the site's suggested donation amounts"],
    },
    // Markdown kept as written (tables, footnotes, HTML the editor does not model).
    raw: {
      group: "block",
      content: "text*",
      marks: "",
      code: true,
      defining: true,
      toDOM: () => ["pre", { class: "pm-raw", title: "Kept as Markdown: edit the text directly" }, ["code", 0]],
    },
    text: { group: "inline" },
    image: {
      inline: true,
      group: "inline",
      draggable: true,
      attrs: { src: {}, alt: { default: null }, title: { default: null } },
      parseDOM: [{
        tag: "img[src]",
        getAttrs: (d) => ({ src: d.getAttribute("src"), alt: d.getAttribute("alt"), title: d.getAttribute("title") }),
      }],
      toDOM: (n) => ["img", { src: n.attrs.src, alt: n.attrs.alt || "", title: n.attrs.title }],
    },
    hard_break: {
      inline: true,
      group: "inline",
      selectable: false,
      parseDOM: [{ tag: "br" }],
      toDOM: () => ["br"],
    },
  },
  marks: {
    em: {
      parseDOM: [
        { tag: "i" }, { tag: "em" }, { style: "font-style=italic" },
        { style: "font-style=normal", clearMark: (m) => m.type.name === "em" },
      ],
      toDOM: () => ["em", 0],
    },
    strong: {
      parseDOM: [
        { tag: "strong" },
        // Google Docs wraps a whole paste in <b style="font-weight:normal">.
        { tag: "b", getAttrs: (n) => n.style.fontWeight !== "normal" && null },
        { style: "font-weight=400", clearMark: (m) => m.type.name === "strong" },
        { style: "font-weight", getAttrs: (v) => /^(bold(er)?|[5-9]\d{2,})$/.test(v) && null },
      ],
      toDOM: () => ["strong", 0],
    },
    link: {
      attrs: { href: {}, title: { default: null } },
      inclusive: false,
      parseDOM: [{
        tag: "a[href]",
        getAttrs: (d) => {
          const href = safeHref(d.getAttribute("href"));
          return href ? { href, title: d.getAttribute("title") } : false;
        },
      }],
      toDOM: (m) => ["a", { href: m.attrs.href, title: m.attrs.title, rel: "noopener" }, 0],
    },
    code: {
      parseDOM: [{ tag: "code" }],
      toDOM: () => ["code", 0],
    },
  },
});
