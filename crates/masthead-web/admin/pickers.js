// Masthead desk: pickers for the editor's tags and bylines.
//
// Each `input[data-picker]` (comma-separated slugs, which is what the form
// sends and what works without this script) becomes a combobox with a
// listbox of matches (the WAI-ARIA combobox pattern, list autocomplete with
// manual selection) and the chosen items as chips in order. The input stays
// in the form as a hidden field holding the chips' slugs, so saving is
// unchanged.
//
// Keys: in the box, Down/Up move through the matches (Alt+Down opens them),
// Enter chooses, Escape closes (again: clears). On a chip, Alt+Left/Up and
// Alt+Right/Down move it, Delete or Backspace removes it. Chips can also be
// dragged, or moved earlier with their arrow button.
(function () {
  "use strict";
  var csrfField = document.querySelector("input[name=csrf]");
  var fields = document.querySelectorAll("input[data-picker]");
  if (!csrfField || !fields.length || !window.fetch) return;

  var NOUNS = { tags: ["tag", "tags"], bylines: ["byline", "bylines"] };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }
  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, status: r.status, j: j }; }); });
  }
  function splitSlugs(v) {
    return v.split(",").map(function (s) { return s.trim(); }).filter(function (s) { return s; });
  }

  Array.prototype.forEach.call(fields, function (input) { picker(input); });

  function picker(input) {
    var kind = input.getAttribute("data-picker");
    var noun = NOUNS[kind];
    if (!noun) return;
    var base = input.id;
    var endpoint = "/admin/pickers/" + kind;
    var marksPrimary = input.hasAttribute("data-primary");
    // Chosen items, in order: { slug, name }.
    var chosen = splitSlugs(input.value).map(function (s) { return { slug: s, name: s }; });
    var canCreate = false;
    var matches = [];   // what the listbox offers: { slug, name, id } or { create: "text" }
    var active = -1;
    var seq = 0, timer = null;

    // The markup around the (now hidden) field.
    var box = el("div", { "class": "picker", "data-picker-for": base });
    var chips = el("ul", { "class": "chips", id: base + "-chips", "aria-label": "Chosen " + noun[1] + ", in order" });
    var combo = el("div", { "class": "picker__combo" });
    var text = el("input", {
      id: base + "-combo", type: "text", role: "combobox", autocomplete: "off", spellcheck: "false",
      "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": base + "-listbox",
      "aria-describedby": base + "-keys", maxlength: "120",
    });
    var list = el("ul", { id: base + "-listbox", role: "listbox", "class": "picker__list", "aria-label": "Matching " + noun[1] });
    list.hidden = true;
    var keys = el("p", { id: base + "-keys", "class": "muted picker__keys" },
      "Type to search. Down and Up arrows move through the matches, Enter chooses. On a chosen " + noun[0] +
      ": Alt with the arrow keys moves it, Delete removes it.");
    var status = el("p", { "class": "visually-hidden", role: "status", id: base + "-status" });
    var problem = el("p", { "class": "error picker__problem", id: base + "-problem" });
    problem.hidden = true;
    combo.appendChild(text);
    combo.appendChild(list);
    box.appendChild(chips);
    box.appendChild(combo);
    box.appendChild(keys);
    box.appendChild(problem);
    box.appendChild(status);
    input.parentNode.insertBefore(box, input.nextSibling);
    input.type = "hidden";
    var label = document.querySelector("label[for='" + base + "']");
    if (label) label.htmlFor = text.id;
    var hint = document.getElementById(base + "-hint");
    if (hint) hint.hidden = true;

    function say(message) {
      // Cleared first so the same words are announced again.
      status.textContent = "";
      setTimeout(function () { status.textContent = message; }, 30);
    }
    function showProblem(message) {
      problem.textContent = message || "";
      problem.hidden = !message;
    }
    function position(i) {
      var where = (i + 1) + " of " + chosen.length;
      return marksPrimary && i === 0 ? where + ", primary" : where;
    }

    // The hidden field follows the chips; the form hears about it (autosave).
    function sync() {
      var value = chosen.map(function (c) { return c.slug; }).join(", ");
      if (input.value !== value) {
        input.value = value;
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }

    function renderChips(focusIndex) {
      chips.textContent = "";
      chosen.forEach(function (c, i) {
        var li = el("li", { "class": "chip", draggable: "true", "data-slug": c.slug });
        // The label starts with the chip's visible words ("Housing primary"),
        // so speech users can say what they see (WCAG 2.5.3).
        var primary = marksPrimary && i === 0;
        var name = el("button", {
          type: "button", "class": "chip__name",
          "aria-label": c.name + (primary ? " primary" : "") + ", " + (i + 1) + " of " + chosen.length +
            ". Alt and arrow keys move it; Delete removes it.",
        });
        name.appendChild(el("span", null, c.name));
        if (primary) {
          name.appendChild(document.createTextNode(" "));
          name.appendChild(el("span", { "class": "chip__primary" }, "primary"));
        }
        li.appendChild(name);
        if (i > 0) {
          var up = el("button", { type: "button", "class": "chip__btn", "aria-label": "Move " + c.name + " earlier" }, "\u2190");
          up.addEventListener("click", function () { move(i, i - 1, false); });
          li.appendChild(up);
        }
        var remove = el("button", { type: "button", "class": "chip__btn", "aria-label": "Remove " + c.name }, "\u00d7");
        remove.addEventListener("click", function () { drop(i, false); });
        li.appendChild(remove);
        name.addEventListener("keydown", function (e) { chipKey(e, i); });
        li.addEventListener("dragstart", function (e) {
          e.dataTransfer.effectAllowed = "move";
          e.dataTransfer.setData("text/plain", String(i));
          li.classList.add("is-dragged");
        });
        li.addEventListener("dragend", function () { li.classList.remove("is-dragged"); });
        li.addEventListener("dragover", function (e) { e.preventDefault(); e.dataTransfer.dropEffect = "move"; });
        li.addEventListener("drop", function (e) {
          e.preventDefault();
          var from = parseInt(e.dataTransfer.getData("text/plain"), 10);
          if (!isNaN(from) && from !== i) move(from, i, false);
        });
        chips.appendChild(li);
      });
      chips.hidden = chosen.length === 0;
      if (focusIndex != null) {
        var target = chips.querySelectorAll(".chip__name")[focusIndex];
        if (target) target.focus(); else text.focus();
      }
    }

    function move(from, to, keepFocus) {
      if (to < 0 || to >= chosen.length || from === to) return;
      var item = chosen.splice(from, 1)[0];
      chosen.splice(to, 0, item);
      renderChips(keepFocus ? to : null);
      sync();
      say(item.name + " moved to " + position(to) + ".");
    }
    function drop(i, fromKeyboard) {
      var item = chosen.splice(i, 1)[0];
      renderChips(fromKeyboard && chosen.length ? Math.min(i, chosen.length - 1) : null);
      if (!fromKeyboard || !chosen.length) text.focus();
      sync();
      say(item.name + " removed.");
    }
    function chipKey(e, i) {
      var earlier = e.key === "ArrowLeft" || e.key === "ArrowUp";
      var later = e.key === "ArrowRight" || e.key === "ArrowDown";
      if (e.altKey && (earlier || later)) {
        e.preventDefault();
        move(i, earlier ? i - 1 : i + 1, true);
      } else if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        drop(i, true);
      }
    }

    function choose(item) {
      if (!chosen.some(function (c) { return c.slug === item.slug; })) {
        chosen.push({ slug: item.slug, name: item.name });
      }
      text.value = "";
      close();
      renderChips(null);
      sync();
      showProblem("");
      var i = chosen.length - 1;
      say(item.name + " added, " + position(i) + ".");
    }

    function create(name) {
      var data = new URLSearchParams();
      data.set("csrf", csrfField.value);
      data.set("name", name);
      say("Adding " + noun[0] + " " + name + "…");
      fetch(endpoint, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (res) {
          if (!res.ok) { showProblem(res.j.error || "The " + noun[0] + " could not be added."); return; }
          choose(res.j);
        })
        .catch(function () { showProblem("The " + noun[0] + " could not be added: check the connection and try again."); });
    }

    function close() {
      list.hidden = true;
      list.textContent = "";
      text.setAttribute("aria-expanded", "false");
      text.removeAttribute("aria-activedescendant");
      matches = [];
      active = -1;
    }

    function setActive(i) {
      var options = list.querySelectorAll(".picker__option");
      if (!options.length) return;
      active = (i + options.length) % options.length;
      Array.prototype.forEach.call(options, function (o, n) {
        o.setAttribute("aria-selected", n === active ? "true" : "false");
        o.classList.toggle("is-active", n === active);
      });
      text.setAttribute("aria-activedescendant", options[active].id);
      var o = options[active];
      if (o.scrollIntoView) o.scrollIntoView({ block: "nearest" });
    }

    function render(items, typed) {
      var taken = {};
      chosen.forEach(function (c) { taken[c.slug] = true; });
      matches = items.filter(function (m) { return !taken[m.slug]; });
      var t = typed.trim();
      var exact = t && items.some(function (m) { return m.name.toLowerCase() === t.toLowerCase(); });
      if (canCreate && t && !exact) matches.push({ create: t });
      list.textContent = "";
      active = -1;
      text.removeAttribute("aria-activedescendant");
      if (!matches.length) {
        // Nothing to choose: say so in the list (not an option).
        var none = el("li", { "class": "picker__none", role: "option", "aria-disabled": "true", id: base + "-none" },
          t ? "No " + noun[0] + " matches “" + t + "”." : "No more " + noun[1] + " to choose.");
        list.appendChild(none);
      }
      matches.forEach(function (m, i) {
        var li = el("li", { role: "option", id: base + "-opt-" + i, "aria-selected": "false", "class": "picker__option" });
        if (m.create) {
          li.textContent = "Add new " + noun[0] + " “" + m.create + "”";
          li.classList.add("picker__create");
        } else {
          li.textContent = m.name;
          // The address too, where the name does not already say it.
          if (m.slug !== m.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")) {
            li.appendChild(el("span", { "class": "muted" }, " (" + m.slug + ")"));
          }
        }
        // Keep the focus in the box when a match is clicked.
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });
        li.addEventListener("click", function () { pick(i); });
        list.appendChild(li);
      });
      list.hidden = false;
      text.setAttribute("aria-expanded", "true");
      if (matches.length) say(matches.length + (matches.length === 1 ? " match" : " matches") + ". Down arrow to choose.");
      else say(list.textContent);
    }

    function pick(i) {
      var m = matches[i];
      if (!m) return;
      if (m.create) { var name = m.create; text.value = ""; close(); create(name); } else choose(m);
    }

    // Asks the desk for matches; `then` runs once they are shown.
    function search(then) {
      var mine = ++seq;
      var typed = text.value;
      getJson(endpoint + "?q=" + encodeURIComponent(typed.trim()))
        .then(function (res) {
          if (mine !== seq) return;
          if (!res.ok) { close(); showProblem(res.j.error || "The search failed."); return; }
          showProblem("");
          canCreate = !!res.j.can_create;
          if (document.activeElement !== text) return;
          render(res.j.items, typed);
          if (then) then();
        })
        .catch(function () { if (mine === seq) showProblem("The search failed: check the connection."); });
    }

    text.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { search(null); }, 150);
    });
    text.addEventListener("keydown", function (e) {
      var open = !list.hidden;
      if (e.key === "ArrowDown") {
        e.preventDefault();
        if (e.altKey) { if (!open) search(null); return; }
        if (open && matches.length) setActive(active + 1);
        else { clearTimeout(timer); search(function () { setActive(0); }); }
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        if (e.altKey) { close(); return; }
        if (open && matches.length) setActive(active < 0 ? matches.length - 1 : active - 1);
      } else if (e.key === "Enter") {
        // Never submits the editor from the box.
        e.preventDefault();
        if (open && active >= 0) pick(active);
        else if (open && matches.length === 1) pick(0);
      } else if (e.key === "Escape") {
        if (open) { e.preventDefault(); close(); } else if (text.value) { e.preventDefault(); text.value = ""; }
      } else if (e.key === "Tab") {
        close();
      } else if (e.key === "Backspace" && !text.value && chosen.length) {
        // Backspace in an empty box steps back onto the last chip.
        e.preventDefault();
        var last = chips.querySelectorAll(".chip__name");
        if (last.length) last[last.length - 1].focus();
      }
    });
    text.addEventListener("blur", function () {
      // Let a click on an option land first.
      setTimeout(function () { if (document.activeElement !== text) close(); }, 150);
    });

    renderChips(null);
    // The chips' names (the field holds slugs), and whether this person may
    // add new ones. Unknown slugs stay as typed, for the save to name. Who
    // may not choose at all keeps the plain field.
    getJson(endpoint + "?slugs=" + encodeURIComponent(chosen.map(function (c) { return c.slug; }).join(",")))
      .then(function (res) {
        if (res.status === 401 || res.status === 403) { undo(); return; }
        if (!res.ok) { showProblem(res.j.error || ""); return; }
        canCreate = !!res.j.can_create;
        res.j.items.forEach(function (it) {
          chosen.forEach(function (c) { if (c.slug === it.slug) c.name = it.name; });
        });
        var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".chip");
        renderChips(focused ? Array.prototype.indexOf.call(chips.children, focused) : null);
      })
      .catch(function () { /* the slugs stay as names */ });

    function undo() {
      box.parentNode.removeChild(box);
      input.type = "text";
      if (label) label.htmlFor = base;
      if (hint) hint.hidden = false;
    }
  }
})();
