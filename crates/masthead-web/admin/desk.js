// Masthead desk: live preview of the Markdown body, rendered by the site's own
// pipeline on the server, as the editor types. The page works without it.
(function () {
  "use strict";
  var body = document.getElementById("body");
  var preview = document.getElementById("preview");
  var csrf = document.querySelector("input[name=csrf]");
  if (!body || !preview || !csrf) return;
  var timer = null, seq = 0;
  function refresh() {
    var mine = ++seq;
    var data = new URLSearchParams();
    data.set("csrf", csrf.value);
    data.set("body", body.value);
    fetch("/admin/preview", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { if (mine === seq) { preview.innerHTML = html; preview.setAttribute("data-state", "live"); } })
      .catch(function () { preview.setAttribute("data-state", "stale"); });
  }
  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  var heading = document.getElementById("preview-h");
  if (heading) heading.textContent = "Preview (live)";
})();
