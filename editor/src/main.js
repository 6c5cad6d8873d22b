// Masthead desk: the rich-text story editor (ProseMirror).
//
// The page works without it: the body is a Markdown textarea in the form,
// and that textarea stays the field the server receives. This script hides
// it behind a rich editor, writes the editor's document back into it as
// Markdown on every change (markdown.js: untouched blocks byte for byte),
// and offers a "Markdown" view that shows the textarea again.
import { EditorState, Plugin, PluginKey, NodeSelection, TextSelection } from "prosemirror-state";
import { EditorView } from "prosemirror-view";
import { keymap } from "prosemirror-keymap";
import { baseKeymap, toggleMark, setBlockType, wrapIn, chainCommands, exitCode, lift } from "prosemirror-commands";
import { history, undo, redo } from "prosemirror-history";
import { inputRules, wrappingInputRule, textblockTypeInputRule, InputRule } from "prosemirror-inputrules";
import { splitListItem, liftListItem, sinkListItem, wrapInList } from "prosemirror-schema-list";
import { dropCursor } from "prosemirror-dropcursor";
import { gapCursor } from "prosemirror-gapcursor";
import { schema, safeHref } from "./schema.js";
import { parseBody, serializeBody } from "./markdown.js";
import { cleanPastedHTML } from "./paste.js";
import { embedProvider } from "./embed.js";

const N = schema.nodes;
const M = schema.marks;

// --------------------------------------------------------------- dialog --

let dialogSeq = 0;

/// Asks for a few values in a modal dialog; resolves to them, or null.
function ask(title, fields, okLabel) {
  return new Promise((resolve) => {
    const id = "pm-dialog-" + ++dialogSeq;
    const dialog = document.createElement("dialog");
    dialog.className = "pm-dialog";
    dialog.setAttribute("aria-labelledby", id + "-h");
    const form = document.createElement("form");
    form.method = "dialog";
    const h = document.createElement("h2");
    h.id = id + "-h";
    h.textContent = title;
    form.appendChild(h);
    for (const f of fields) {
      if (f.note) {
        const p = document.createElement("p");
        p.className = "muted";
        p.textContent = f.note;
        form.appendChild(p);
        continue;
      }
      const label = document.createElement("label");
      label.htmlFor = id + "-" + f.name;
      label.textContent = f.label;
      const input = document.createElement("input");
      input.id = id + "-" + f.name;
      input.name = f.name;
      input.type = f.type || "text";
      input.value = f.value || "";
      if (f.required) input.required = true;
      input.maxLength = f.max || 1000;
      form.append(label, input);
    }
    const buttons = document.createElement("div");
    buttons.className = "pm-dialog__buttons";
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.value = "ok";
    ok.textContent = okLabel || "OK";
    const cancel = document.createElement("button");
    cancel.type = "submit";
    cancel.value = "cancel";
    cancel.formNoValidate = true;
    cancel.className = "secondary";
    cancel.textContent = "Cancel";
    buttons.append(ok, cancel);
    form.appendChild(buttons);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    dialog.addEventListener("close", () => {
      const values = {};
      for (const f of fields) if (f.name) values[f.name] = form.elements[f.name].value.trim();
      dialog.remove();
      resolve(dialog.returnValue === "ok" ? values : null);
    });
    dialog.showModal();
  });
}

// ------------------------------------------------------------- commands --

function markActive(state, type) {
  const { from, $from, to, empty } = state.selection;
  if (empty) return !!type.isInSet(state.storedMarks || $from.marks());
  return state.doc.rangeHasMark(from, to, type);
}

/// Puts a block node where the cursor is: in place of an empty paragraph,
/// else after the current block; a paragraph follows if it would be last.
function insertBlock(view, node) {
  const { state } = view;
  const { $from } = state.selection;
  let tr = state.tr;
  let pos;
  if (state.selection instanceof NodeSelection) {
    pos = state.selection.to;
    tr = tr.insert(pos, node);
  } else if ($from.depth === 0) {
    pos = $from.pos;
    tr = tr.insert(pos, node);
  } else if ($from.depth === 1 && $from.parent.isTextblock && $from.parent.content.size === 0) {
    pos = $from.before(1);
    tr = tr.replaceWith(pos, $from.after(1), node);
  } else {
    pos = $from.after(1);
    tr = tr.insert(pos, node);
  }
  const after = pos + node.nodeSize;
  if (after >= tr.doc.content.size) tr = tr.insert(tr.doc.content.size, N.paragraph.create());
  tr = tr.setSelection(TextSelection.near(tr.doc.resolve(Math.min(after + 1, tr.doc.content.size))));
  view.dispatch(tr.scrollIntoView());
  view.focus();
}

async function editLink(view) {
  const { state } = view;
  const { from, to, empty } = state.selection;
  let current = "";
  state.doc.nodesBetween(from, Math.max(to, from + 1), (n) => {
    const l = M.link.isInSet(n.marks);
    if (l) current = l.attrs.href;
  });
  const got = await ask("Link", [{ name: "href", label: "Address (https://…), or empty to remove the link", type: "text", value: current }], "Apply");
  view.focus();
  if (!got) return;
  const s = view.state;
  if (!got.href) {
    view.dispatch(s.tr.removeMark(s.selection.from, s.selection.to, M.link));
    return;
  }
  const href = safeHref(got.href);
  if (!href) {
    setStatus("That is not a web address: links start with https://, mailto: or /.", true);
    return;
  }
  const mark = M.link.create({ href });
  if (empty && !current) {
    view.dispatch(s.tr.replaceSelectionWith(schema.text(got.href, [mark]), false));
  } else if (empty) {
    // Extend over the link under the cursor.
    const $pos = s.selection.$from;
    const start = $pos.start();
    let a = $pos.pos, b = $pos.pos;
    while (a > start && M.link.isInSet(s.doc.resolve(a).nodeBefore?.marks || [])) a -= s.doc.resolve(a).nodeBefore.nodeSize;
    while (b < $pos.end() && M.link.isInSet(s.doc.resolve(b).nodeAfter?.marks || [])) b += s.doc.resolve(b).nodeAfter.nodeSize;
    view.dispatch(s.tr.removeMark(a, b, M.link).addMark(a, b, mark));
  } else {
    view.dispatch(s.tr.removeMark(from, to, M.link).addMark(s.selection.from, s.selection.to, mark));
  }
}

async function askEmbed(view) {
  const got = await ask("Video", [
    { note: "A YouTube or Vimeo page address: the story shows its player." },
    { name: "url", label: "Address", type: "url", required: true },
  ], "Add video");
  view.focus();
  if (!got || !got.url) return;
  if (!embedProvider(got.url)) {
    setStatus("Only YouTube and Vimeo addresses become a player (such as https://www.youtube.com/watch?v=…).", true);
    return;
  }
  insertBlock(view, N.embed.create({ url: got.url }));
}

async function editFigure(view, pos) {
  const node = view.state.doc.nodeAt(pos);
  if (!node || node.type !== N.figure) return;
  const got = await ask("Image", [
    { name: "alt", label: "Alt text: what the image shows (needed to publish)", value: node.attrs.alt, required: true },
    { name: "caption", label: "Caption", value: node.attrs.caption },
    { name: "credit", label: "Credit (photographer / agency)", value: node.attrs.credit },
  ], "Save");
  view.focus();
  if (!got) return;
  const now = view.state.doc.nodeAt(pos);
  if (!now || now.type !== N.figure) return;
  view.dispatch(view.state.tr.setNodeMarkup(pos, null, { ...now.attrs, ...got }));
}

// ---------------------------------------------------------------- upload --

let csrf = "";
let statusEl = null;
function setStatus(text, bad) {
  if (!statusEl) return;
  statusEl.textContent = text;
  statusEl.className = bad ? "error" : "muted";
}

async function uploadImages(view, files, pos) {
  const max = Number(document.getElementById("body")?.getAttribute("data-max-bytes") || 0);
  for (const file of files) {
    if (!/^image\/(jpeg|png|webp|gif)$/.test(file.type)) {
      setStatus(`${file.name || "That file"} is not a JPEG, PNG, WebP or GIF image.`, true);
      continue;
    }
    if (max && file.size > max) {
      setStatus(`${file.name} is over the ${Math.round(max / 1048576)} MB limit. Export it smaller and try again.`, true);
      continue;
    }
    const data = new FormData();
    data.append("csrf", csrf);
    data.append("file", file, file.name || "pasted-image.png");
    setStatus(`Uploading ${file.name || "the image"} to the media library…`);
    let m;
    try {
      const r = await fetch("/admin/media", { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } });
      m = await r.json();
      if (!r.ok) { setStatus(m.error || "The upload failed.", true); continue; }
    } catch (_) {
      setStatus("The upload failed: check the connection and try again.", true);
      continue;
    }
    setStatus(`${m.created ? "Uploaded" : "Already in the library:"} ${m.filename}. Describe it for readers who cannot see it.`);
    const credit = [m.photographer, m.agency].filter(Boolean).join(" / ");
    const got = await ask("Describe the image", [
      { name: "alt", label: "Alt text: what the image shows (needed to publish)", value: m.alt, required: true },
      { name: "caption", label: "Caption", value: m.caption },
      { name: "credit", label: "Credit (photographer / agency)", value: credit },
    ], "Insert image");
    view.focus();
    if (!got) { setStatus(`${m.filename} stays in the media library; it was not put in the story.`); continue; }
    const node = N.figure.create({
      src: m.src, alt: got.alt, caption: got.caption, credit: got.credit,
      width: m.width ? String(m.width) : "", height: m.height ? String(m.height) : "",
    });
    if (typeof pos === "number") {
      const $p = view.state.doc.resolve(Math.min(pos, view.state.doc.content.size));
      view.dispatch(view.state.tr.setSelection(TextSelection.near($p)));
    }
    insertBlock(view, node);
    setStatus(`${m.filename} is in the story.`);
  }
}

function imageFiles(list) {
  return Array.from(list || []).filter((f) => f.type && f.type.startsWith("image/"));
}

// ------------------------------------------------------------ slash menu --

const BLOCKS = [
  { label: "Heading", keys: "heading h2 title", run: (v) => setBlockType(N.heading, { level: 2 })(v.state, v.dispatch) },
  { label: "Subheading", keys: "subheading h3", run: (v) => setBlockType(N.heading, { level: 3 })(v.state, v.dispatch) },
  { label: "Quote", keys: "quote blockquote", run: (v) => wrapIn(N.blockquote)(v.state, v.dispatch) },
  { label: "Pull quote", keys: "pull quote pullquote", run: (v) => wrapIn(N.pullquote)(v.state, v.dispatch) },
  { label: "Bulleted list", keys: "bullet list ul", run: (v) => wrapInList(N.bullet_list)(v.state, v.dispatch) },
  { label: "Numbered list", keys: "numbered list ol ordered", run: (v) => wrapInList(N.ordered_list)(v.state, v.dispatch) },
  { label: "Fact box", keys: "fact box callout aside", run: (v) => wrapIn(N.callout)(v.state, v.dispatch) },
  { label: "Divider", keys: "divider rule hr line", run: (v) => insertBlock(v, N.horizontal_rule.create()) },
  { label: "Image", keys: "image photo picture upload", run: (v) => pickImage(v) },
  { label: "Video (YouTube, Vimeo)", keys: "video embed youtube vimeo", run: (v) => askEmbed(v) },
  { label: "Members-only marker", keys: "paywall members only marker", run: (v) => insertBlock(v, N.paywall.create()) },
  { label: "Support box (donations)", keys: "support donate donation give box", run: (v) => insertBlock(v, N.support.create()) },
];

let filePicker = null;
function pickImage(view) {
  if (!filePicker) {
    filePicker = document.createElement("input");
    filePicker.type = "file";
    filePicker.accept = "image/jpeg,image/png,image/webp,image/gif";
    filePicker.hidden = true;
    filePicker.setAttribute("aria-label", "Image to upload");
    document.body.appendChild(filePicker);
  }
  filePicker.onchange = () => {
    const files = imageFiles(filePicker.files);
    filePicker.value = "";
    uploadImages(view, files);
  };
  filePicker.click();
}

const slashKey = new PluginKey("slash");

function slashQuery(state) {
  const { $from, empty } = state.selection;
  if (!empty || $from.parent.type !== N.paragraph || $from.depth !== 1) return null;
  const text = $from.parent.textContent;
  if (!/^\/[a-z ]{0,20}$/i.test(text) || $from.parentOffset !== text.length) return null;
  return { query: text.slice(1).toLowerCase().trim(), from: $from.start(), to: $from.end() };
}

function slashPlugin() {
  let menu = null;
  let items = [];
  let index = 0;
  let dismissed = null;
  const close = () => { if (menu) menu.hidden = true; items = []; };
  const choose = (view, item) => {
    const q = slashQuery(view.state);
    if (q) view.dispatch(view.state.tr.delete(q.from, q.to));
    close();
    item.run(view);
    view.focus();
  };
  const render = (view) => {
    menu.replaceChildren();
    items.forEach((item, i) => {
      const li = document.createElement("li");
      li.id = "pm-slash-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === index ? "true" : "false");
      li.textContent = item.label;
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(view, item); });
      menu.appendChild(li);
    });
    view.dom.setAttribute("aria-activedescendant", items.length ? "pm-slash-" + index : "");
  };
  return new Plugin({
    key: slashKey,
    view(view) {
      menu = document.createElement("ul");
      menu.className = "pm-slash";
      menu.id = "pm-slash";
      menu.setAttribute("role", "listbox");
      menu.setAttribute("aria-label", "Blocks");
      menu.hidden = true;
      view.dom.parentNode.appendChild(menu);
      return {
        update(v) {
          const q = slashQuery(v.state);
          if (!q || (dismissed !== null && dismissed === q.from)) {
            if (!q) dismissed = null;
            close();
            v.dom.removeAttribute("aria-activedescendant");
            return;
          }
          const words = q.query.split(/\s+/).filter(Boolean);
          items = BLOCKS.filter((b) => words.every((w) => b.keys.includes(w) || b.label.toLowerCase().includes(w)));
          if (!items.length) { close(); return; }
          index = Math.min(index, items.length - 1);
          const at = v.coordsAtPos(q.to);
          const box = v.dom.parentNode.getBoundingClientRect();
          menu.style.left = Math.max(0, at.left - box.left) + "px";
          menu.style.top = (at.bottom - box.top + 4) + "px";
          menu.hidden = false;
          render(v);
        },
        destroy() { menu.remove(); },
      };
    },
    props: {
      handleKeyDown(view, e) {
        if (!items.length || !menu || menu.hidden) return false;
        if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          index = (index + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
          render(view);
          return true;
        }
        if (e.key === "Enter" || e.key === "Tab") { choose(view, items[index]); return true; }
        if (e.key === "Escape") {
          const q = slashQuery(view.state);
          dismissed = q ? q.from : null;
          close();
          return true;
        }
        return false;
      },
    },
  });
}

// --------------------------------------------------------------- plugins --

function rules() {
  return inputRules({
    rules: [
      textblockTypeInputRule(/^(#{2,4})\s$/, N.heading, (m) => ({ level: m[1].length })),
      wrappingInputRule(/^\s*>\s$/, N.blockquote),
      wrappingInputRule(/^\s*([-+*])\s$/, N.bullet_list),
      wrappingInputRule(/^(\d+)\.\s$/, N.ordered_list, (m) => ({ order: +m[1] }),
        (m, node) => node.childCount + node.attrs.order === +m[1]),
      new InputRule(/^(---|\*\*\*)$/, (state, _m, start, end) => {
        const $s = state.doc.resolve(start);
        if ($s.depth !== 1) return null;
        return state.tr.replaceWith($s.before(), $s.after(), [N.horizontal_rule.create(), N.paragraph.create()])
          .setSelection(TextSelection.near(state.doc.resolve(0)));
      }),
    ],
  });
}

function keys() {
  const k = {
    "Mod-z": undo,
    "Shift-Mod-z": redo,
    "Mod-y": redo,
    "Mod-b": toggleMark(M.strong),
    "Mod-i": toggleMark(M.em),
    "Mod-`": toggleMark(M.code),
    "Mod-k": (_s, _d, view) => { editLink(view); return true; },
    "Shift-Enter": chainCommands(exitCode, (state, dispatch) => {
      if (dispatch) dispatch(state.tr.replaceSelectionWith(N.hard_break.create()).scrollIntoView());
      return true;
    }),
    "Mod-Alt-0": setBlockType(N.paragraph),
    "Mod-Alt-2": setBlockType(N.heading, { level: 2 }),
    "Mod-Alt-3": setBlockType(N.heading, { level: 3 }),
    "Enter": chainCommands(
      (state, _d, view) => {
        if (state.selection instanceof NodeSelection && state.selection.node.type === N.figure) {
          if (view) editFigure(view, state.selection.from);
          return true;
        }
        return false;
      },
      splitListItem(N.list_item),
    ),
    "Mod-[": liftListItem(N.list_item),
    "Mod-]": sinkListItem(N.list_item),
    "Shift-Tab": chainCommands(liftListItem(N.list_item), lift),
  };
  return [keymap(k), keymap(baseKeymap)];
}

// --------------------------------------------------------------- toolbar --

const TOOLS = [
  { label: "Bold", short: "B", title: "Bold (Ctrl+B)", mark: M.strong, cmd: toggleMark(M.strong) },
  { label: "Italic", short: "I", title: "Italic (Ctrl+I)", mark: M.em, cmd: toggleMark(M.em) },
  { label: "Link", short: "Link", title: "Link (Ctrl+K)", mark: M.link, run: (v) => editLink(v) },
  { label: "Heading", short: "Heading", title: "Heading (Ctrl+Alt+2)", block: [N.heading, { level: 2 }] },
  { label: "Subheading", short: "Subheading", title: "Subheading (Ctrl+Alt+3)", block: [N.heading, { level: 3 }] },
  { label: "Quote", short: "Quote", title: "Quote", cmd: wrapIn(N.blockquote) },
  { label: "Bulleted list", short: "Bulleted list", title: "Bulleted list (or type - and a space)", cmd: wrapInList(N.bullet_list) },
  { label: "Numbered list", short: "Numbered list", title: "Numbered list (or type 1. and a space)", cmd: wrapInList(N.ordered_list) },
  { label: "Image", short: "Image", title: "Image from your computer (or drop or paste one)", run: (v) => pickImage(v) },
  { label: "Undo", short: "Undo", title: "Undo (Ctrl+Z)", cmd: undo },
  { label: "Redo", short: "Redo", title: "Redo (Ctrl+Shift+Z)", cmd: redo },
];

function toolbar(view, bar) {
  const buttons = TOOLS.map((t) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "pm-tool";
    b.textContent = t.short;
    b.title = t.title;
    if (t.short !== t.label) b.setAttribute("aria-label", t.label);
    if (t.mark) b.setAttribute("aria-pressed", "false");
    b.addEventListener("mousedown", (e) => e.preventDefault());
    b.addEventListener("click", () => {
      if (t.run) t.run(view);
      else if (t.block) {
        const [type, attrs] = t.block;
        const active = view.state.selection.$from.parent.hasMarkup(type, attrs);
        setBlockType(active ? N.paragraph : type, active ? null : attrs)(view.state, view.dispatch);
      } else t.cmd(view.state, view.dispatch);
      view.focus();
    });
    bar.appendChild(b);
    return b;
  });
  const more = document.createElement("span");
  more.className = "muted pm-hint";
  more.textContent = "Type / for more blocks";
  bar.appendChild(more);
  return (state) => {
    TOOLS.forEach((t, i) => {
      if (t.mark) buttons[i].setAttribute("aria-pressed", markActive(state, t.mark) ? "true" : "false");
      if (t.cmd) buttons[i].disabled = !t.cmd(state);
    });
  };
}

// ------------------------------------------------------------------ mount --

function mount() {
  const textarea = document.getElementById("body");
  const form = document.getElementById("editor");
  if (!textarea || !form) return;
  csrf = (form.querySelector("input[name=csrf]") || {}).value || "";

  const wrap = document.createElement("div");
  wrap.className = "pm-wrap";
  const bar = document.createElement("div");
  bar.className = "pm-toolbar";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Formatting");
  const host = document.createElement("div");
  host.className = "pm-host";
  statusEl = document.createElement("p");
  statusEl.id = "body-status";
  statusEl.className = "muted";
  statusEl.setAttribute("role", "status");
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.id = "markdown-toggle";
  toggle.className = "secondary pm-toggle";
  toggle.textContent = "Markdown";
  toggle.setAttribute("aria-pressed", "false");
  toggle.title = "Show the Markdown the story is saved as";
  wrap.append(bar, host, statusEl);
  textarea.parentNode.insertBefore(wrap, textarea);
  textarea.parentNode.insertBefore(toggle, wrap);
  textarea.hidden = true;
  const label = document.querySelector("label[for=body]");
  if (label) label.id = "body-label";

  let parsed = parseBody(textarea.value);
  let last = textarea.value;
  let refreshTools = () => {};

  const write = (doc) => {
    const md = serializeBody(doc, parsed.base);
    if (md === last) return;
    last = md;
    textarea.value = md;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  };

  // The / menu first: while it is open it owns Enter and the arrow keys.
  const plugins = [
    slashPlugin(),
    rules(),
    ...keys(),
    history(),
    dropCursor(),
    gapCursor(),
  ];

  const view = new EditorView(host, {
    state: EditorState.create({ doc: parsed.doc, plugins }),
    attributes: {
      class: "pm-body prose",
      role: "textbox",
      "aria-multiline": "true",
      "aria-labelledby": "body-label",
      "aria-describedby": "body-status",
      spellcheck: "true",
    },
    dispatchTransaction(tr) {
      const state = view.state.apply(tr);
      view.updateState(state);
      if (tr.docChanged) write(state.doc);
      refreshTools(state);
    },
    transformPastedHTML: (html) => cleanPastedHTML(html, location.origin),
    handlePaste(v, event) {
      const files = imageFiles(event.clipboardData && event.clipboardData.files);
      if (files.length) { uploadImages(v, files); return true; }
      const text = event.clipboardData ? event.clipboardData.getData("text/plain").trim() : "";
      const html = event.clipboardData ? event.clipboardData.getData("text/html") : "";
      if (text && !/\s/.test(text) && embedProvider(text) && (!html || html.replace(/<[^>]*>/g, "").trim() === text)) {
        insertBlock(v, N.embed.create({ url: text }));
        return true;
      }
      return false;
    },
    handleDrop(v, event) {
      const files = imageFiles(event.dataTransfer && event.dataTransfer.files);
      if (!files.length) return false;
      event.preventDefault();
      const at = v.posAtCoords({ left: event.clientX, top: event.clientY });
      uploadImages(v, files, at ? at.pos : undefined);
      return true;
    },
    handleDoubleClickOn(v, pos, node, nodePos) {
      if (node.type === N.figure) { editFigure(v, nodePos); return true; }
      return false;
    },
  });
  refreshTools = toolbar(view, bar);
  refreshTools(view.state);

  // The Markdown view: the textarea itself. Coming back reads it again.
  toggle.addEventListener("click", () => {
    const showing = toggle.getAttribute("aria-pressed") === "true";
    if (!showing) {
      textarea.hidden = false;
      wrap.hidden = true;
      toggle.setAttribute("aria-pressed", "true");
      textarea.focus();
    } else {
      if (textarea.value !== last) {
        parsed = parseBody(textarea.value);
        last = textarea.value;
        view.updateState(EditorState.create({ doc: parsed.doc, plugins }));
        refreshTools(view.state);
      }
      textarea.hidden = true;
      wrap.hidden = false;
      toggle.setAttribute("aria-pressed", "false");
      view.focus();
    }
  });
  // Never submit a stale textarea (a change in the last instant).
  form.addEventListener("submit", () => { if (!wrap.hidden) write(view.state.doc); }, true);
  // Other scripts that set the textarea (desk.js restoring unsaved work from
  // this browser, any button that edits the Markdown) say so with one of these
  // events, and the editor reads the text again.
  const reread = () => {
    if (textarea.value === last) return;
    parsed = parseBody(textarea.value);
    last = textarea.value;
    view.updateState(EditorState.create({ doc: parsed.doc, plugins }));
    refreshTools(view.state);
  };
  textarea.addEventListener("masthead:restored", reread);
  textarea.addEventListener("masthead:body-changed", reread);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
