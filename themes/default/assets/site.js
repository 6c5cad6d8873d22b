// Masthead default theme: small progressive enhancements. Every page works without it.
(function () {
  "use strict";

  // --- relative times ("5 minutes ago"), kept fresh on long-open pages ---
  function relative(ms) {
    var s = Math.floor((Date.now() - ms) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) { var m = Math.floor(s / 60); return m === 1 ? "1 minute ago" : m + " minutes ago"; }
    if (s < 86400) { var h = Math.floor(s / 3600); return h === 1 ? "1 hour ago" : h + " hours ago"; }
    var d = Math.floor(s / 86400);
    if (d === 1) return "yesterday";
    if (d < 7) return d + " days ago";
    return null;
  }
  function refreshTimes(root) {
    (root || document).querySelectorAll("time[data-relative]").forEach(function (t) {
      var r = relative(Date.parse(t.getAttribute("datetime")));
      if (r) t.textContent = r; else if (t.title) t.textContent = t.title;
    });
  }

  // --- Show More: append the next cards in place ---
  function fragmentUrl(href) {
    var u = new URL(href, location.href);
    u.searchParams.set("fragment", "1");
    return u.toString();
  }
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a[data-more]");
    if (!link || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    var feed = document.querySelector("[data-feed]");
    if (!feed) return;
    ev.preventDefault();
    if (link.getAttribute("aria-busy") === "true") return;
    link.setAttribute("aria-busy", "true");
    link.textContent = "Loading\u2026";
    fetch(fragmentUrl(link.href), { headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        var firstNew = null, added = 0;
        tpl.content.querySelectorAll("li[data-post-id]").forEach(function (li) {
          if (feed.querySelector('li[data-post-id="' + li.dataset.postId + '"]')) return;
          feed.appendChild(li);
          added++;
          if (!firstNew) firstNew = li;
        });
        refreshTimes(feed);
        var next = tpl.content.querySelector("a[data-more]");
        if (next) { link.href = next.getAttribute("href"); link.textContent = "Show more"; link.removeAttribute("aria-busy"); }
        else { link.parentNode.removeChild(link); }
        var status = document.querySelector("[data-feed-status]");
        if (status) status.textContent = added + " more stories loaded.";
        if (firstNew) { var a = firstNew.querySelector("h2 a"); if (a) a.focus({ preventScroll: true }); }
      })
      .catch(function () { location.href = link.href; });
  });

  // --- Membership drive: live counter, dismissible banner ---
  function updateDrive(data) {
    document.querySelectorAll("[data-drive-count]").forEach(function (el) { el.textContent = data.count_label; });
    document.querySelectorAll("[data-drive-bar]").forEach(function (el) { el.max = data.goal; el.value = data.count; el.textContent = data.percent + "%"; });
  }
  function pollDrive() {
    if (document.hidden) return;
    fetch("/api/campaign", { cache: "no-cache" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && d.count_label) updateDrive(d); })
      .catch(function () {});
  }
  function setupDrive() {
    var drive = document.querySelector("[data-drive]");
    if (!drive) return;
    var key = "masthead.drive.dismissed";
    try { if (sessionStorage.getItem(key)) drive.classList.add("is-dismissed"); } catch (e) {}
    var btn = drive.querySelector("[data-drive-dismiss]");
    if (btn) {
      btn.hidden = false;
      btn.addEventListener("click", function () {
        drive.classList.add("is-dismissed");
        try { sessionStorage.setItem(key, "1"); } catch (e) {}
      });
    }
    setInterval(pollDrive, 3000);
    document.addEventListener("visibilitychange", pollDrive);
  }

  // --- Live pages: new entries arrive over server-sent events ---
  function setupLive() {
    var live = document.querySelector("[data-live-events]");
    if (!live || !window.EventSource) return;
    var stream = live.querySelector("[data-live-stream]");
    var pinned = live.querySelector("[data-live-pinned]");
    var pinnedSection = live.querySelector("[data-live-pinned-section]");
    var status = live.querySelector("[data-live-status]");
    function place(li) {
      var list = li.dataset.pinned === "1" ? pinned : stream;
      var created = Number(li.dataset.created);
      var before = null;
      list.querySelectorAll("li[data-entry-id]").forEach(function (other) {
        if (!before && Number(other.dataset.created) <= created) before = other;
      });
      list.insertBefore(li, before);
      if (pinnedSection) pinnedSection.hidden = !pinned.querySelector("li");
    }
    var es = new EventSource(live.getAttribute("data-live-events"));
    es.addEventListener("open", function () { if (status) status.textContent = "Live: new updates appear here automatically."; });
    es.addEventListener("entry", function (ev) {
      var data = JSON.parse(ev.data);
      var tpl = document.createElement("template");
      tpl.innerHTML = data.html.trim();
      var li = tpl.content.firstElementChild;
      if (!li) return;
      var old = document.getElementById("entry-" + data.id);
      if (old) old.parentNode.removeChild(old);
      else li.classList.add("is-new");
      place(li);
      if (status) status.textContent = "New update: " + (li.querySelector("h3") || li).textContent.trim();
    });
    es.addEventListener("remove", function (ev) {
      var data = JSON.parse(ev.data);
      var old = document.getElementById("entry-" + data.id);
      if (old) old.parentNode.removeChild(old);
      if (pinnedSection) pinnedSection.hidden = !pinned.querySelector("li");
    });
    es.addEventListener("error", function () { if (status) status.textContent = "Reconnecting to live updates\u2026"; });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // --- Provider embeds load only when the reader asks ---
  document.addEventListener("click", function (ev) {
    var facade = ev.target.closest && ev.target.closest("a[data-embed-src]");
    if (!facade) return;
    ev.preventDefault();
    var iframe = document.createElement("iframe");
    iframe.src = facade.getAttribute("data-embed-src") + "?autoplay=1";
    iframe.title = "Video: " + (facade.getAttribute("data-embed-title") || "");
    iframe.allow = "autoplay; encrypted-media; picture-in-picture; fullscreen";
    iframe.setAttribute("allowfullscreen", "");
    iframe.referrerPolicy = "strict-origin-when-cross-origin";
    facade.parentNode.replaceChild(iframe, facade);
  });

  function start() {
    refreshTimes();
    setInterval(refreshTimes, 60000);
    setupDrive();
    setupLive();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
