/* 科普中原 — small enhancements; every page works without this file.
   1. 大字模式: #elder-toggle switches class "elder" on <html>, kept in localStorage "kepu-elder".
      (The inline script in <head> applies a saved choice before the first paint.)
   2. Calendar: marks .calendar-item[data-start][data-end] as 即将开始 / 进行中 / 已结束
      by the visitor's own date. The HTML itself stays the same for every build.
   3. A wide Markdown table scrolls inside its own box (CSS); make such a box reachable by
      keyboard so it can be scrolled with the arrow keys.
   4. 适老化: 大字模式 in steps (大 "1" / 特大 "2" in kepu-elder), 高对比度 (kepu-contrast) and
      大鼠标 (kepu-cursor), the last two only within 大字模式; on a phone in 大字模式 the menu
      moves below the page; 语音朗读 on content pages (Web Speech API, zh-CN).
   5. The header search box leads to the A–Z index without scripts; with them, to the search. */
(function () {
  "use strict";
  var root = document.documentElement;
  var KEY = "kepu-elder";

  var CONTRAST = "kepu-contrast";
  var CURSOR = "kepu-cursor";

  function get(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }
  function put(key, value) {
    try {
      if (value) localStorage.setItem(key, value);
      else localStorage.removeItem(key);
    } catch (e) { /* private mode or storage off: the choice lasts for this page only */ }
  }

  /* The settings as stored: size 0 (off), 1 (大) or 2 (特大); contrast and cursor on or off
     (kept while 大字模式 is off, and applied again when it comes back on). */
  function settings() {
    var size = get(KEY);
    return { size: size === "2" ? 2 : size === "1" ? 1 : 0, contrast: get(CONTRAST) === "1", cursor: get(CURSOR) === "1" };
  }

  var phone = window.matchMedia ? window.matchMedia("(max-width: 30em)") : null;

  /* On a phone in 大字模式 the menu (60px rows) goes below the page, where 菜单 in the header
     leads; elsewhere it stays in the header. */
  function placeNav() {
    var nav = document.getElementById("site-nav");
    var header = document.querySelector(".site-header");
    var footer = document.querySelector(".site-footer");
    if (!nav || !header || !footer) return;
    var bottom = root.classList.contains("elder") && !!phone && phone.matches;
    if (bottom && nav.parentNode === header) footer.parentNode.insertBefore(nav, footer);
    else if (!bottom && nav.parentNode !== header) header.appendChild(nav);
    nav.classList.toggle("site-nav-bottom", bottom);
  }

  function apply(s) {
    var on = s.size > 0;
    root.classList.toggle("elder", on);
    root.classList.toggle("elder-xl", s.size === 2);
    root.classList.toggle("hc", on && s.contrast);
    root.classList.toggle("big-cursor", on && s.cursor);
    var toggle = document.getElementById("elder-toggle");
    if (toggle) toggle.setAttribute("aria-pressed", on ? "true" : "false");
    var buttons = document.querySelectorAll(".care-btn");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      var kind = b.getAttribute("data-care");
      var pressed = kind === "size" ? String(s.size) === b.getAttribute("data-value") : kind === "contrast" ? s.contrast : s.cursor;
      b.setAttribute("aria-pressed", pressed ? "true" : "false");
    }
    placeNav();
  }

  function setupElder() {
    var button = document.getElementById("elder-toggle");
    if (!button) return;
    // Kept here too: where storage is off, the choices still hold for this page.
    var s = settings();
    apply(s);
    button.addEventListener("click", function () {
      s.size = root.classList.contains("elder") ? 0 : 1;
      put(KEY, s.size ? String(s.size) : null);
      apply(s);
    });
    var bar = document.querySelector(".care-bar");
    if (bar) bar.addEventListener("click", function (e) {
      var b = e.target.closest ? e.target.closest(".care-btn") : null;
      if (!b) return;
      var kind = b.getAttribute("data-care");
      if (kind === "size") {
        s.size = b.getAttribute("data-value") === "2" ? 2 : 1;
        put(KEY, String(s.size));
      } else if (kind === "contrast") {
        s.contrast = !s.contrast;
        put(CONTRAST, s.contrast ? "1" : null);
      } else if (kind === "cursor") {
        s.cursor = !s.cursor;
        put(CURSOR, s.cursor ? "1" : null);
      }
      // (The size may have been off in this tab while another turned it on: keep it on.)
      if (!s.size) { s.size = 1; put(KEY, "1"); }
      apply(s);
    });
    if (phone) {
      if (phone.addEventListener) phone.addEventListener("change", placeNav);
      else if (phone.addListener) phone.addListener(placeNav);
    }
    // Another tab changed a setting: follow it.
    window.addEventListener("storage", function (e) {
      if (e.key === KEY || e.key === CONTRAST || e.key === CURSOR) apply(s = settings());
    });
  }

  /* 5. The header form goes to the A–Z index (it works without scripts); the search page
     is better when scripts run. A visitor who submitted before this ran is passed on. */
  function setupSearchForm() {
    var form = document.querySelector("form.header-search[data-search]");
    if (form) form.setAttribute("action", form.getAttribute("data-search"));
    if (form && document.querySelector(".az-section") && /[?&]q=/.test(location.search)) {
      location.replace(form.getAttribute("data-search") + location.search);
    }
  }

  /* 语音朗读: reads the page's own content in order — title, summary, visiting information,
     the other facts, the body — never the menu, the charts or the lists of related pages.
     Nothing is stored. */
  var SENTENCE = /[^。！？；!?;]+[。！？；!?;]*/g;

  function readableBlocks(article) {
    var out = [];
    var push = function (el, text) {
      text = (text || "").replace(/\s+/g, " ").trim();
      if (!text) return;
      // Short pieces, cut at sentence ends: long utterances stop half-way in some browsers.
      var parts = text.match(SENTENCE) || [text];
      var chunk = "";
      for (var i = 0; i < parts.length; i++) {
        if (chunk && (chunk + parts[i]).length > 120) { out.push({ el: el, text: chunk }); chunk = ""; }
        chunk += parts[i];
      }
      if (chunk) out.push({ el: el, text: chunk });
    };
    var h1 = article.querySelector("h1");
    if (h1) push(h1, h1.textContent);
    var lead = article.querySelector(".page-header .lead");
    if (lead) push(lead, lead.textContent);
    var parts = article.querySelectorAll(".facts-box, .prose");
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      var items = part.querySelectorAll("h2, h3, h4, p, li, dl.facts > div, blockquote, tr");
      for (var j = 0; j < items.length; j++) {
        var el = items[j];
        // A list item inside another item, or a paragraph inside an item: read once, with its parent.
        if (el.parentNode.closest && el.parentNode.closest("li, blockquote, dl.facts > div, tr")) continue;
        if (el.matches("dl.facts > div")) {
          var dt = el.querySelector("dt"), dd = el.querySelector("dd");
          push(el, (dt ? dt.textContent : "") + "：" + (dd ? dd.textContent : ""));
        } else if (el.matches("tr")) {
          var cells = el.querySelectorAll("th, td"), row = [];
          for (var k = 0; k < cells.length; k++) row.push(cells[k].textContent.trim());
          push(el, row.join("，"));
        } else {
          push(el, el.textContent);
        }
      }
    }
    return out;
  }

  function setupReadAloud() {
    var article = document.querySelector("main article.page");
    var synth = window.speechSynthesis;
    if (!article || !synth || typeof window.SpeechSynthesisUtterance !== "function") return;
    var h1 = article.querySelector("h1");
    if (!h1) return;

    // The page's own controls (page.html writes them, so that nothing moves); a site's
    // template without them gets them made here.
    var box = article.querySelector(".read-aloud");
    if (!box) {
      box = document.createElement("div");
      box.className = "read-aloud";
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "语音朗读");
      box.innerHTML = '<button type="button" class="read-btn"></button>' +
        '<button type="button" class="read-btn read-stop"><span class="read-icon" aria-hidden="true">■</span>停止</button>' +
        '<span class="read-state" role="status"></span>';
      h1.parentNode.insertBefore(box, h1.nextSibling);
      document.documentElement.classList.add("tts");
    }
    var main = box.querySelector(".read-btn:not(.read-stop)");
    var stop = box.querySelector(".read-stop");
    var state = box.querySelector(".read-state");

    var run = 0;
    var current = null;
    var mode = "idle";

    function mark(el) {
      if (current) current.classList.remove("reading");
      current = el;
      if (!el) return;
      el.classList.add("reading");
      var r = el.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight) el.scrollIntoView({ block: "center" });
    }

    function show(next) {
      mode = next;
      var label = next === "idle" ? "朗读本页" : next === "speaking" ? "暂停" : "继续";
      var icon = next === "speaking" ? "❚❚" : "▶";
      main.innerHTML = '<span class="read-icon" aria-hidden="true">' + icon + "</span>" + label;
      main.setAttribute("data-state", next === "idle" ? "start" : next);
      stop.hidden = next === "idle";
      state.textContent = next === "speaking" ? "正在朗读" : next === "paused" ? "已暂停" : "";
      if (next === "idle") mark(null);
    }

    function voice() {
      var voices = synth.getVoices ? synth.getVoices() : [];
      for (var i = 0; i < voices.length; i++) if (/^zh[-_]CN/i.test(voices[i].lang)) return voices[i];
      for (var j = 0; j < voices.length; j++) if (/^zh/i.test(voices[j].lang)) return voices[j];
      return null;
    }

    function start() {
      var mine = ++run;
      synth.cancel();
      var blocks = readableBlocks(article);
      var v = voice();
      show("speaking");
      blocks.forEach(function (b, i) {
        var u = new SpeechSynthesisUtterance(b.text);
        u.lang = "zh-CN";
        u.rate = 0.9; // a little slower than the default, for older listeners
        if (v) u.voice = v;
        u.addEventListener("start", function () { if (mine === run) mark(b.el); });
        u.addEventListener("end", function () { if (mine === run && i === blocks.length - 1) show("idle"); });
        u.addEventListener("error", function (e) {
          if (mine !== run || e.error === "interrupted" || e.error === "canceled") return;
          run++;
          show("idle");
          state.textContent = "朗读出错，请稍后再试";
        });
        synth.speak(u);
        // Some browsers fire no "start" event: mark the first block at once.
        if (i === 0) mark(b.el);
      });
      if (!blocks.length) show("idle");
    }

    function end() {
      run++;
      synth.cancel();
      show("idle");
    }

    main.addEventListener("click", function () {
      if (mode === "idle") start();
      else if (mode === "speaking") { synth.pause(); show("paused"); }
      else { synth.resume(); show("speaking"); }
    });
    stop.addEventListener("click", function () {
      end();
      main.focus(); // the stop button hides itself
    });
    // Leaving the page ends the reading (some browsers would go on reading).
    window.addEventListener("pagehide", function () { if (mode !== "idle") { run++; synth.cancel(); } });
    show("idle");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* Today in the visitor's time zone as YYYY-MM-DD (compares as a string with data-start). */
  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function daysBetween(a, b) {
    var pa = a.split("-"), pb = b.split("-");
    var ta = Date.UTC(+pa[0], pa[1] - 1, +pa[2]), tb = Date.UTC(+pb[0], pb[1] - 1, +pb[2]);
    return Math.round((tb - ta) / 86400000);
  }

  var LABELS = { upcoming: "即将开始", ongoing: "进行中", past: "已结束" };

  /* A yearly date (data-month, data-day; without a day, the whole month): its next
     occurrence from today, as data-start / data-end, and shown as 下一次. */
  function placeYearly(now) {
    var items = document.querySelectorAll(".calendar-item[data-month]");
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var month = +item.getAttribute("data-month");
      var day = item.getAttribute("data-day");
      var year = +now.slice(0, 4);
      var span = function (y) {
        var last = day ? +day : new Date(Date.UTC(y, month, 0)).getUTCDate();
        return [y + "-" + pad(month) + "-" + pad(day ? +day : 1), y + "-" + pad(month) + "-" + pad(last)];
      };
      var s = span(year);
      if (s[1] < now) s = span(year + 1);
      item.setAttribute("data-start", s[0]);
      item.setAttribute("data-end", s[1]);
      var p = s[0].split("-");
      var next = document.createElement("p");
      next.className = "calendar-next muted";
      next.textContent = "下一次：" + p[0] + "年" + (+p[1]) + "月" + (day ? (+p[2]) + "日" : "");
      (item.querySelector(".calendar-body") || item).appendChild(next);
    }
  }

  function setupCalendar() {
    placeYearly(today());
    var items = document.querySelectorAll(".calendar-item[data-start][data-end]");
    if (!items.length) return;
    var now = today();
    var counts = { upcoming: 0, ongoing: 0, past: 0 };
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var start = item.getAttribute("data-start");
      var end = item.getAttribute("data-end") || start;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(start)) continue;
      var status = now < start ? "upcoming" : now > end ? "past" : "ongoing";
      counts[status]++;
      item.setAttribute("data-status", status);
      var text = LABELS[status];
      if (status === "upcoming") {
        var days = daysBetween(now, start);
        if (days <= 60) text += "（还有" + days + "天）";
      }
      var badge = item.querySelector(".status");
      if (!badge) {
        badge = document.createElement("span");
        var place = item.querySelector(".calendar-date") || item;
        place.appendChild(document.createTextNode(" "));
        place.appendChild(badge);
      }
      badge.className = "status status-" + status;
      badge.textContent = text;
    }
    var summary = document.getElementById("calendar-summary");
    if (summary) {
      var parts = [];
      if (counts.ongoing) parts.push("进行中 " + counts.ongoing + " 项");
      if (counts.upcoming) parts.push("即将开始 " + counts.upcoming + " 项");
      var d = now.split("-");
      var day = "今天是" + d[0] + "年" + (+d[1]) + "月" + (+d[2]) + "日";
      summary.textContent = parts.length
        ? day + "：" + parts.join("，") + "。"
        : day + "，目前没有进行中或即将开始的活动，下面是往期活动。";
      summary.hidden = false;
    }
  }

  function markScrollableTables() {
    var tables = document.querySelectorAll(".prose table");
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      if (t.scrollWidth > t.clientWidth + 1) t.setAttribute("tabindex", "0");
      else t.removeAttribute("tabindex");
    }
  }

  function setupTables() {
    if (!document.querySelector(".prose table")) return;
    markScrollableTables();
    var timer;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(markScrollableTables, 200);
    });
  }

  function init() {
    setupElder();
    setupSearchForm();
    setupReadAloud();
    setupCalendar();
    setupTables();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
