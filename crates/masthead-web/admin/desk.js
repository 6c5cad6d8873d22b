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

  // Drafts save themselves a few seconds after the last change.
  var form = $("editor");
  var note = $("autosave-status");
  var version = form && form.querySelector("input[name=version]");
  var autoTimer = null, saving = false, again = false, stopped = false, pending = null;
  function autosave() {
    if (stopped) return;
    if (saving) { again = true; return; }
    saving = true;
    var data = new URLSearchParams(new FormData(form));
    data.set("action", "autosave");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        var type = r.headers.get("content-type") || "";
        if (type.indexOf("application/json") !== 0) return { ok: false, j: { error: "Not saved automatically: press Save to see why." } };
        return r.json().then(function (j) { return { ok: r.ok, status: r.status, j: j }; });
      })
      .then(function (res) {
        if (res.ok) {
          version.value = String(res.j.version);
          note.textContent = "Saved automatically " + res.j.saved + ".";
          note.className = "muted";
          form.setAttribute("data-saved", res.j.version);
        } else {
          note.textContent = res.j.error;
          note.className = "error";
          if (res.status === 409) stopped = true;
        }
      })
      .catch(function () { note.textContent = "Offline: not saved yet. Your text is still here."; note.className = "error"; })
      .then(function () {
        saving = false;
        // A Save pressed during an autosave goes out after it, with the new version.
        if (pending) { var b = pending; pending = null; form.requestSubmit(b); return; }
        if (again) { again = false; autosave(); }
      });
  }
  function changed() {
    if (!form || !note || !version || form.getAttribute("data-autosave") !== "1") return;
    clearTimeout(autoTimer);
    autoTimer = setTimeout(autosave, 3000);
  }
  // Buttons that cannot be undone (Delete) ask first.
  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.hasAttribute("data-confirm") && !window.confirm(b.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
  if (form && form.getAttribute("data-autosave") === "1") {
    form.addEventListener("input", changed);
    form.addEventListener("submit", function (e) {
      clearTimeout(autoTimer);
      stopped = true;
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
    });
  }
})();
