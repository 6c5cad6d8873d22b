// Masthead desk: small enhancements for the editor. The page works without
// them: the preview shows the saved text, the feature image is chosen from the
// library's list, and Save saves.
(function () {
  "use strict";
  var csrf = document.querySelector("input[name=csrf]");
  if (!csrf) return;
  function $(id) { return document.getElementById(id); }

  // Live preview of the Markdown body, rendered by the site's own pipeline.
  var body = $("body");
  var preview = $("preview");
  if (body && preview) {
    var timer = null, seq = 0;
    var refresh = function () {
      if (navigator.onLine === false) { preview.setAttribute("data-state", "stale"); return; }
      var mine = ++seq;
      var data = new URLSearchParams();
      data.set("csrf", csrf.value);
      data.set("body", body.value);
      fetch("/admin/preview", { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { if (mine === seq) { preview.innerHTML = html; preview.setAttribute("data-state", "live"); } })
        .catch(function () { preview.setAttribute("data-state", "stale"); });
    };
    body.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
    // The preview beside the story: the same HTML in the site's own stylesheet,
    // at a phone's width or a desktop's (scaled to fit).
    var live = $("live-preview");
    var frame = $("preview-frame");
    var liveButton = $("preview-toggle");
    var esc = function (t) { return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"); };
    var width = 390;
    var fit = function () {
      if (!live || live.hidden) return;
      var box = frame.parentNode;
      var scale = Math.min(1, box.clientWidth / width);
      frame.style.width = width + "px";
      frame.style.height = (box.clientHeight / scale) + "px";
      frame.style.transform = scale < 1 ? "scale(" + scale + ")" : "";
      frame.style.marginLeft = scale < 1 ? "0" : "auto";
    };
    var paint = function () {
      if (!live || live.hidden) return;
      var title = ($("title") || {}).value || "";
      var dek = ($("dek") || {}).value || "";
      frame.srcdoc = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview</title><link rel=\"stylesheet\" href=\"" +
        esc(live.getAttribute("data-css")) + "\"></head><body><main class=\"story\"><div class=\"wrap-narrow\"><h1 class=\"story__title\">" + esc(title) +
        "</h1>" + (dek ? "<p class=\"story__dek\">" + esc(dek) + "</p>" : "") + "<div class=\"story__body prose\">" + preview.innerHTML + "</div></div></main></body></html>";
    };
    if (live && frame && liveButton) {
      liveButton.hidden = false;
      new MutationObserver(paint).observe(preview, { childList: true, subtree: true, characterData: true });
      ["title", "dek"].forEach(function (id) { var el = $(id); if (el) el.addEventListener("input", paint); });
      liveButton.addEventListener("click", function () {
        var open = live.hidden;
        live.hidden = !open;
        liveButton.setAttribute("aria-expanded", open ? "true" : "false");
        liveButton.textContent = open ? "Hide preview" : "Show preview";
        var grid = document.querySelector(".desk-editor");
        if (grid) grid.classList.toggle("desk-editor--preview", open);
        var settings = $("settings");
        var settingsButton = $("settings-toggle");
        if (open && settings && !settings.hidden && settingsButton) settingsButton.click();
        if (open) { paint(); fit(); refresh(); }
      });
      live.querySelectorAll("button[data-width]").forEach(function (b) {
        b.addEventListener("click", function () {
          width = Number(b.getAttribute("data-width"));
          live.querySelectorAll("button[data-width]").forEach(function (o) { o.setAttribute("aria-pressed", o === b ? "true" : "false"); });
          fit();
        });
      });
      window.addEventListener("resize", fit);
    }
    var heading = $("preview-h");
    if (heading) heading.textContent = "Preview (live)";
  }

  // Feature image: choosing a library image shows it and offers its words;
  // a new file is uploaded to the library and chosen at once.
  var select = $("feature_media");
  var thumb = $("feature-thumb");
  var words = ["alt", "caption", "photographer", "agency"];
  function offerWords(source) {
    words.forEach(function (w) {
      var input = $("feature_" + w);
      if (input && !input.value && source[w]) input.value = source[w];
    });
  }
  function show(src) {
    if (!thumb) return;
    if (src) { thumb.src = src; thumb.hidden = false; } else { thumb.hidden = true; }
  }
  if (select) {
    select.addEventListener("change", function () {
      var opt = select.options[select.selectedIndex];
      if (!opt || !opt.value) { show(null); return; }
      if (opt.value === "keep") return;
      show(opt.getAttribute("data-thumb"));
      offerWords({
        alt: opt.getAttribute("data-alt"), caption: opt.getAttribute("data-caption"),
        photographer: opt.getAttribute("data-photographer"), agency: opt.getAttribute("data-agency")
      });
      changed();
    });
  }
  var box = $("feature-upload-box");
  var file = $("feature-upload");
  var status = $("feature-upload-status");
  if (box && file && select) {
    box.hidden = false;
    file.addEventListener("change", function () {
      if (!file.files || !file.files[0]) return;
      var max = Number(file.getAttribute("data-max-bytes") || 0);
      if (max && file.files[0].size > max) {
        status.textContent = "That file is over the " + Math.round(max / 1048576) + " MB limit. Export it smaller (2,400 pixels wide is plenty) and try again.";
        status.className = "error";
        file.value = "";
        return;
      }
      var data = new FormData();
      data.append("csrf", csrf.value);
      data.append("file", file.files[0]);
      status.textContent = "Uploading " + file.files[0].name + "…";
      status.className = "muted";
      fetch("/admin/media", { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (res) {
          if (!res.ok) { status.textContent = res.j.error || "The upload failed."; status.className = "error"; return; }
          var m = res.j;
          var opt = null;
          for (var i = 0; i < select.options.length; i++) if (select.options[i].value === String(m.id)) opt = select.options[i];
          if (!opt) {
            opt = document.createElement("option");
            opt.value = String(m.id);
            opt.textContent = m.filename;
            opt.setAttribute("data-thumb", m.thumb);
            select.appendChild(opt);
          }
          select.value = String(m.id);
          show(m.thumb);
          offerWords(m);
          status.textContent = (m.created ? "Uploaded " : "Already in the library: ") + m.filename + ". Describe it in the alt text below.";
          status.className = "";
          file.value = "";
          changed();
        })
        .catch(function () { status.textContent = "The upload failed: check the connection and try again."; status.className = "error"; });
    });
  }

  // Word count and reading time, as the site will count them (275 words a
  // minute, a few seconds an image), from the Markdown as it is typed.
  var count = $("wordcount");
  function countWords() {
    if (!count || !body) return;
    var text = body.value;
    var images = (text.match(/!\[[^\]]*\]\([^)]*\)|<img\b/g) || []).length;
    if (select && select.value) images++;
    text = text.replace(/<[^>]*>/g, " ").replace(/\]\([^)]*\)/g, "]").replace(/&[#a-z0-9]+;/gi, " ");
    var words = (text.match(/[A-Za-z0-9_\u00C0-\u00FF\u0392-\u03C9\u0410-\u04F9]+/g) || []).length;
    var seconds = words * 60 / 275;
    for (var n = 1; n <= images; n++) seconds += Math.max(13 - n, 3);
    var minutes = Math.max(1, Math.round(seconds / 60));
    count.textContent = words.toLocaleString("en-GB") + (words === 1 ? " word" : " words") + " · " + minutes + " min read";
  }
  if (body) { body.addEventListener("input", countWords); countWords(); }

  // The settings panel folds away, and stays as it was left.
  var panelButton = $("settings-toggle");
  var panel = $("settings");
  var layout = document.querySelector(".desk-editor");
  function fold(folded) {
    // Settings and the live preview share the column beside the story.
    if (!folded && live && liveButton && !live.hidden) liveButton.click();
    panel.hidden = folded;
    if (layout) layout.classList.toggle("desk-editor--folded", folded);
    panelButton.setAttribute("aria-expanded", folded ? "false" : "true");
    panelButton.textContent = folded ? "Show settings" : "Hide settings";
    try { localStorage.setItem("masthead:settings-folded", folded ? "1" : ""); } catch (_) { /* private mode */ }
  }
  if (panelButton && panel) {
    panelButton.hidden = false;
    var startFolded = false;
    try { startFolded = localStorage.getItem("masthead:settings-folded") === "1"; } catch (_) { /* private mode */ }
    if (startFolded) fold(true);
    panelButton.addEventListener("click", function () { fold(!panel.hidden); });
  }

  // The save state, always visible: "Saved 3 s ago", "Saving…", "Offline —
  // will save when back". Drafts save themselves a few seconds after the
  // last change; every change is also kept in this browser (localStorage)
  // until the server has it, so a dropped connection or a closed tab loses
  // nothing. Saves carry the version the page was loaded at, so the server's
  // conflict check still refuses to overwrite someone else's newer save.
  var form = $("editor");
  var note = $("autosave-status");
  var version = form && form.querySelector("input[name=version]");
  var auto = !!form && form.getAttribute("data-autosave") === "1";
  // The form has buttons named "action": form.action is those, not the address.
  var address = form ? form.getAttribute("action") : "";
  var key = form ? "masthead:unsaved:" + address : "";
  var autoTimer = null, retryTimer = null, saving = false, again = false, stopped = false, pending = null;
  var savedAt = 0, dirty = false, offline = false, sent = null;

  function fields() {
    var d = new URLSearchParams(new FormData(form));
    d.delete("csrf");
    d.delete("action");
    d.delete("version");
    return d.toString();
  }
  // `submitted`: sent by a full-page Save or Publish. If the next page has a
  // newer version, that save went through and the copy is dropped.
  function keep(submitted) {
    try {
      localStorage.setItem(key, JSON.stringify({ version: version.value, fields: fields(), at: Date.now(), submitted: !!submitted }));
    } catch (_) { /* full or private */ }
  }
  function forget() { try { localStorage.removeItem(key); } catch (_) { /* private mode */ } }
  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return "at " + new Date(Date.now() - ms).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  }
  function say(text, kind, state) {
    if (!note) return;
    note.textContent = text;
    note.className = kind === "bad" ? "error" : "muted";
    note.setAttribute("data-state", state);
  }
  function showSaved() {
    if (!note || dirty || saving || offline) return;
    // The ticking part is hidden from screen readers: they hear "Saved" once.
    say("Saved", "ok", "saved");
    if (savedAt) {
      var span = document.createElement("span");
      span.setAttribute("aria-hidden", "true");
      span.textContent = " " + ago(Date.now() - savedAt);
      note.appendChild(span);
    }
  }
  if (form && note && version) setInterval(showSaved, 5000);

  function goneOffline() {
    offline = true;
    say(auto ? "Offline — will save when back. Your text is kept in this browser." : "Offline — your changes are kept in this browser; press Save when back.", "bad", "offline");
    clearTimeout(retryTimer);
    if (auto) retryTimer = setTimeout(autosave, 10000);
  }
  function autosave() {
    if (stopped || !auto) return;
    if (saving) { again = true; return; }
    if (navigator.onLine === false) { goneOffline(); return; }
    saving = true;
    sent = fields();
    say("Saving…", "ok", "saving");
    var data = new URLSearchParams(new FormData(form));
    data.set("action", "autosave");
    fetch(address, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        var type = r.headers.get("content-type") || "";
        if (type.indexOf("application/json") !== 0) return { ok: false, j: { error: "Not saved automatically: press Save to see why." } };
        return r.json().then(function (j) { return { ok: r.ok, status: r.status, j: j }; });
      })
      .then(function (res) {
        offline = false;
        if (res.ok) {
          version.value = String(res.j.version);
          form.setAttribute("data-saved", res.j.version);
          savedAt = Date.now();
          if (fields() === sent) { dirty = false; forget(); } else { keep(); }
          if (!dirty) showSaved();
        } else {
          say(res.j.error, "bad", "refused");
          if (res.status === 409) stopped = true;
        }
      })
      .catch(function () { goneOffline(); })
      .then(function () {
        saving = false;
        // A Save pressed during an autosave goes out after it, with the new version.
        if (pending) { var b = pending; pending = null; form.requestSubmit(b); return; }
        if (again || (dirty && !offline)) { again = false; if (dirty) autosave(); }
      });
  }
  function changed() {
    if (!form || !note || !version) return;
    dirty = true;
    keep();
    if (!auto) { say("Unsaved changes: press Save (kept in this browser).", "ok", "dirty"); return; }
    if (navigator.onLine === false) { goneOffline(); return; }
    if (!saving) say("Unsaved changes: saving in a moment…", "ok", "dirty");
    clearTimeout(autoTimer);
    autoTimer = setTimeout(autosave, 3000);
  }
  function restore(stored) {
    var d = new URLSearchParams(stored.fields);
    d.forEach(function (value, name) {
      var el = form.elements[name];
      if (!el || el.type === "hidden" || el.type === "file" || el.length > 1 && !el.tagName) return;
      if (el.type === "checkbox" || el.type === "radio") return;
      el.value = value;
    });
    version.value = stored.version;
    if (body) {
      body.dispatchEvent(new Event("masthead:restored"));
      countWords();
    }
    dirty = true;
  }
  if (form && note && version) {
    var stored = null;
    try { stored = JSON.parse(localStorage.getItem(key) || "null"); } catch (_) { stored = null; }
    if (stored && stored.fields === fields()) {
      forget();
    } else if (stored && stored.version === version.value) {
      // Nobody has saved since: this browser's work is the newest.
      restore(stored);
      say("Restored what you had typed here and not yet saved.", "ok", "restored");
      if (auto) { clearTimeout(autoTimer); autoTimer = setTimeout(autosave, 1000); }
    } else if (stored && stored.submitted) {
      forget();
    } else if (stored) {
      // The post was saved since (by you or someone else): offer, do not impose.
      var offer = document.createElement("p");
      offer.className = "error";
      offer.id = "restore-offer";
      offer.textContent = "This browser holds changes to this post from " + ago(Date.now() - stored.at) + " that were never saved, and the post has been saved since. ";
      var yes = document.createElement("button");
      yes.type = "button";
      yes.textContent = "Restore them";
      var no = document.createElement("button");
      no.type = "button";
      no.className = "secondary";
      no.textContent = "Discard them";
      offer.append(yes, " ", no);
      note.parentNode.insertBefore(offer, note);
      yes.addEventListener("click", function () {
        restore(stored);
        offer.remove();
        say("Restored. Saving will say if it conflicts with the newer save.", "ok", "restored");
        if (auto) autosave();
      });
      no.addEventListener("click", function () { forget(); offer.remove(); });
    } else if (auto) {
      savedAt = 0;
      say("Saved", "ok", "saved");
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    window.addEventListener("online", function () {
      if (!offline && !dirty) return;
      offline = false;
      clearTimeout(retryTimer);
      if (auto && dirty) autosave(); else if (dirty) changed();
    });
    window.addEventListener("offline", function () { if (dirty) goneOffline(); });
  }
  // Buttons that cannot be undone (Delete) ask first.
  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.hasAttribute("data-confirm") && !window.confirm(b.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
  if (form && note && version) {
    form.addEventListener("submit", function (e) {
      clearTimeout(autoTimer);
      stopped = true;
      if (dirty && !e.defaultPrevented) keep(true);
      if (saving) { e.preventDefault(); pending = e.submitter || null; if (!pending) pending = form.querySelector("button[value=save]"); }
    });
  }
  // The paywall marker: inserted at the cursor, on a line of its own.
  var paywall = $("insert-paywall");
  if (paywall && body) {
    paywall.hidden = false;
    paywall.addEventListener("click", function () {
      var marker = paywall.getAttribute("data-marker");
      var at = body.selectionStart || 0;
      var before = body.value.slice(0, at).replace(/\s*$/, "");
      var after = body.value.slice(body.selectionEnd || at).replace(/^\s*/, "");
      var block = (before ? "\n\n" : "") + marker + (after ? "\n\n" : "\n");
      body.value = before + block + after;
      var caret = before.length + block.length;
      body.focus();
      body.setSelectionRange(caret, caret);
      body.dispatchEvent(new Event("input", { bubbles: true }));
      // The rich editor (editor.js) reads the text again on this.
      body.dispatchEvent(new Event("masthead:body-changed", { bubbles: true }));
    });
  }
})();
