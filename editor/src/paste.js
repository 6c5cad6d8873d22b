// Pasted HTML from word processors and web pages, made plain before the
// schema reads it: the schema keeps only what it models (headings, lists,
// quotes, bold, italic, links), so classes, fonts, colours and spans fall
// away there. This removes what would otherwise survive as text or as empty
// paragraphs, and turns Word's fake lists into real ones.

const DROP = "style, script, meta, link, title, xml, head, o\\:p, iframe, object, embed, svg, canvas, form, input, button, select, textarea";

function isBlank(el) {
  return !el.querySelector("img, hr") && el.textContent.replace(/[\s\u00a0\u200b]+/g, "") === "";
}

// Word writes a list as paragraphs styled "mso-list:l0 level1 lfo1", each
// starting with a bullet or number in a span styled "mso-list:Ignore".
function wordLists(doc) {
  const items = Array.from(doc.querySelectorAll("p")).filter((p) => /mso-list:\s*l\d/i.test(p.getAttribute("style") || ""));
  let list = null;
  let prev = null;
  for (const p of items) {
    const marker = p.querySelector("span[style*='mso-list:Ignore' i], span[style*='mso-list: Ignore' i]");
    const markerText = marker ? marker.textContent.trim() : "";
    const ordered = /^[0-9a-z]{1,3}[.)]$/i.test(markerText);
    if (marker) marker.remove();
    if (!list || prev !== p.previousElementSibling || list.tagName !== (ordered ? "OL" : "UL")) {
      list = doc.createElement(ordered ? "ol" : "ul");
      p.parentNode.insertBefore(list, p);
    }
    const li = doc.createElement("li");
    while (p.firstChild) li.appendChild(p.firstChild);
    list.appendChild(li);
    p.remove();
    prev = list;
  }
}

function removeComments(node) {
  const walker = node.ownerDocument.createTreeWalker(node, 128 /* SHOW_COMMENT */);
  const found = [];
  while (walker.nextNode()) found.push(walker.currentNode);
  found.forEach((c) => c.remove());
}

/// Cleans pasted HTML. `origin` is this site's origin: only its own media
/// library images are kept (others would be hot-linked, and expire).
export function cleanPastedHTML(html, origin) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const body = doc.body;
  removeComments(body);
  body.querySelectorAll("br.Apple-interchange-newline").forEach((el) => el.remove());
  wordLists(doc);
  // Google Docs wraps everything in <b id="docs-internal-guid-…"
  // style="font-weight:normal">, and puts bare <br>s between blocks.
  body.querySelectorAll("b[id^='docs-internal-guid']").forEach((b) => b.replaceWith(...b.childNodes));
  body.querySelectorAll("br").forEach((br) => {
    if (!br.closest("p, li, h1, h2, h3, h4, h5, h6, td, th, pre, span, a, b, strong, i, em")) br.remove();
  });
  body.querySelectorAll(DROP).forEach((el) => el.remove());
  body.querySelectorAll("img").forEach((img) => {
    const src = img.getAttribute("src") || "";
    const local = src.startsWith("/media/") || (origin && src.startsWith(origin + "/media/"));
    if (!local) img.remove();
    else if (origin && src.startsWith(origin)) img.setAttribute("src", src.slice(origin.length));
  });
  // Classes and ids go; styles stay for now (bold and italic in Google Docs
  // are styles), and the schema reads only font-weight and font-style.
  body.querySelectorAll("*").forEach((el) => {
    for (const a of Array.from(el.attributes)) {
      if (!["href", "src", "alt", "title", "start", "style"].includes(a.name)) el.removeAttribute(a.name);
    }
  });
  body.querySelectorAll("p, div, h1, h2, h3, h4, h5, h6, li, blockquote").forEach((el) => {
    if (isBlank(el)) el.remove();
  });
  return body.innerHTML;
}
