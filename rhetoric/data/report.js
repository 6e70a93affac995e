/* rhetoric report: routing between the index and document views, sortable and filterable
   tables with pages, and the popover that lists the documents sharing a highlight. No network. */
(function () {
  "use strict";
  var indexView = document.getElementById("index-view");
  var pop = document.getElementById("pop");

  function views() { return document.querySelectorAll("article.docview"); }

  function parseHash() {
    var h = location.hash.slice(1), out = {};
    if (h.indexOf("doc=") !== 0) { return { anchor: decodeURIComponent(h) }; }
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) { out[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)); }
    });
    return out;
  }

  function route() {
    hidePop();
    var h = parseHash(), shown = null;
    views().forEach(function (a) {
      var on = h.doc !== undefined && a.getAttribute("data-doc") === h.doc;
      a.hidden = !on;
      if (on) { shown = a; }
    });
    if (indexView) { indexView.hidden = !!shown; }
    if (shown) {
      document.title = shown.querySelector("h2").textContent + " · rhetoric report";
      var target = null;
      if (h.at !== undefined) {
        var at = parseInt(h.at, 10);
        shown.querySelectorAll(".hl[data-s]").forEach(function (m) {
          var s = +m.getAttribute("data-s"), e = +m.getAttribute("data-e");
          if (s <= at && at < e && (!target || m.classList.contains("fx"))) { target = m; }
        });
      }
      if (target) { flash(target); } else { window.scrollTo(0, 0); }
    } else if (h.anchor) {
      var el = document.getElementById(h.anchor);
      if (el) {
        if (el.tagName === "TR") { showRow(el); }
        if (el.tagName === "DETAILS") { el.open = true; }
        el.scrollIntoView();
      }
    }
  }

  function flash(el) {
    el.scrollIntoView({ block: "center" });
    el.classList.add("flash");
    setTimeout(function () { el.classList.remove("flash"); }, 2200);
  }

  /* ---- tables: sort, filter, pages ---- */
  function cellValue(row, col, type) {
    var c = row.cells[col];
    var v = c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim();
    return type === "num" ? parseFloat(v) : v;
  }

  function setupTable(table) {
    var tbody = table.tBodies[0];
    var size = parseInt(table.getAttribute("data-page-size") || "0", 10);
    var state = { page: 0, query: "", kind: "" };
    var pager = null;
    if (size) {
      pager = document.createElement("div");
      pager.className = "pager";
      pager.innerHTML = '<button type="button" data-p="-1">‹ previous</button><span></span>' +
        '<button type="button" data-p="1">next ›</button>';
      table.parentNode.insertBefore(pager, table.nextSibling);
      pager.addEventListener("click", function (ev) {
        var b = ev.target.closest("button");
        if (b) { state.page += parseInt(b.getAttribute("data-p"), 10); paint(); }
      });
    }
    function matching() {
      return Array.prototype.filter.call(tbody.rows, function (r) {
        if (state.kind && r.getAttribute("data-kind") !== state.kind) { return false; }
        return !state.query || r.textContent.toLowerCase().indexOf(state.query) >= 0;
      });
    }
    function paint() {
      var rows = matching(), n = rows.length;
      var pages = size ? Math.max(1, Math.ceil(n / size)) : 1;
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      var lo = size ? state.page * size : 0, hi = size ? lo + size : n;
      Array.prototype.forEach.call(tbody.rows, function (r) { r.hidden = true; });
      rows.forEach(function (r, i) { r.hidden = i < lo || i >= hi; });
      if (pager) {
        pager.querySelector("span").textContent = n ? (lo + 1) + "–" + Math.min(hi, n) + " of " + n : "no rows";
        pager.querySelector('[data-p="-1"]').disabled = state.page === 0;
        pager.querySelector('[data-p="1"]').disabled = state.page >= pages - 1;
        pager.hidden = n <= size && !state.query && !state.kind;
      }
    }
    table.showRow = function (row) {
      var rows = matching(), i = rows.indexOf(row);
      if (i < 0) { state.query = ""; state.kind = ""; rows = matching(); i = rows.indexOf(row); }
      if (size && i >= 0) { state.page = Math.floor(i / size); }
      paint();
    };
    if (table.classList.contains("sortable")) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        th.addEventListener("click", function () {
          var type = th.getAttribute("data-type") || "text";
          var cur = th.getAttribute("aria-sort");
          /* Numbers sort high to low first, text A to Z first; a second click reverses. */
          var dir = cur === "descending" ? "ascending" : cur === "ascending" ? "descending"
            : (type === "num" ? "descending" : "ascending");
          Array.prototype.forEach.call(table.tHead.rows[0].cells, function (o) { o.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", dir);
          var sign = dir === "ascending" ? 1 : -1;
          var rows = Array.prototype.slice.call(tbody.rows);
          rows.sort(function (a, b) {
            var x = cellValue(a, col, type), y = cellValue(b, col, type);
            if (type === "num") { return sign * ((isNaN(x) ? -Infinity : x) - (isNaN(y) ? -Infinity : y)); }
            return sign * String(x).localeCompare(String(y), "zh");
          });
          var frag = document.createDocumentFragment();
          rows.forEach(function (r) { frag.appendChild(r); });
          tbody.appendChild(frag);
          state.page = 0;
          paint();
        });
      });
    }
    document.querySelectorAll('[data-filter="' + table.id + '"]').forEach(function (input) {
      input.addEventListener("input", function () { state.query = input.value.trim().toLowerCase(); state.page = 0; paint(); });
    });
    document.querySelectorAll('[data-kind-filter="' + table.id + '"]').forEach(function (sel) {
      sel.addEventListener("change", function () { state.kind = sel.value; state.page = 0; paint(); });
    });
    if (table.classList.contains("rows-link")) {
      tbody.addEventListener("click", function (ev) {
        if (ev.target.closest("a")) { return; }
        var tr = ev.target.closest("tr"), a = tr && tr.querySelector("a");
        if (a) { location.href = a.getAttribute("href"); }
      });
    }
    paint();
  }

  function showRow(tr) {
    var table = tr.closest("table");
    if (table && table.showRow) { table.showRow(tr); }
  }

  /* ---- popover: who else has this passage ---- */
  var activeMark = null;
  function hidePop() {
    if (pop) { pop.hidden = true; }
    if (activeMark) { activeMark.classList.remove("active"); activeMark = null; }
  }
  function showPop(mark) {
    var article = mark.closest("article.docview");
    var row = article && article.querySelector('table.evidence tr[data-i="' + mark.getAttribute("data-i") + '"]');
    if (!row || !pop) { return; }
    hidePop();
    activeMark = mark;
    mark.classList.add("active");
    var cells = row.cells;
    pop.innerHTML = "";
    var close = document.createElement("button");
    close.className = "close"; close.type = "button"; close.textContent = "×"; close.setAttribute("aria-label", "close");
    close.addEventListener("click", hidePop);
    pop.appendChild(close);
    var kind = cells[1].cloneNode(true); kind.className = "";
    pop.appendChild(kind.firstChild);
    var what = document.createElement("div"); what.className = "what";
    what.innerHTML = cells[3].innerHTML;
    pop.appendChild(what);
    var label = document.createElement("div");
    label.innerHTML = "<small>Shared with, earliest first:</small>";
    pop.appendChild(label);
    var others = document.createElement("div"); others.className = "others";
    others.innerHTML = cells[4].innerHTML;
    pop.appendChild(others);
    var r = mark.getBoundingClientRect();
    pop.hidden = false;
    var left = Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - pop.offsetWidth - 12);
    pop.style.left = Math.max(8, left) + "px";
    /* Below the highlight, or above it when the window has no room below. */
    var below = r.bottom + 6 + pop.offsetHeight <= window.innerHeight || r.top < pop.offsetHeight + 6;
    pop.style.top = (window.scrollY + (below ? r.bottom + 6 : r.top - pop.offsetHeight - 6)) + "px";
  }

  document.addEventListener("click", function (ev) {
    var go = ev.target.closest("a.goto");
    if (go) {
      ev.preventDefault();
      var m = go.closest("article").querySelector('.doctext .hl[data-i="' + go.getAttribute("data-i") + '"]');
      if (m) { flash(m); showPop(m); }
      return;
    }
    var mark = ev.target.closest(".doctext .hl");
    if (mark) { ev.preventDefault(); showPop(mark); return; }
    if (pop && !pop.hidden && !ev.target.closest("#pop")) { hidePop(); }
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { hidePop(); } });

  document.querySelectorAll("table.grid[id]").forEach(setupTable);
  window.addEventListener("hashchange", route);
  route();
})();
