/* 科普中原 — small enhancements; every page works without this file.
   1. 大字模式: #elder-toggle switches class "elder" on <html>, kept in localStorage "kepu-elder".
      (The inline script in <head> applies a saved choice before the first paint.)
   2. Calendar: marks .calendar-item[data-start][data-end] as 即将开始 / 进行中 / 已结束
      by the visitor's own date. The HTML itself stays the same for every build.
   3. A wide Markdown table scrolls inside its own box (CSS); make such a box reachable by
      keyboard so it can be scrolled with the arrow keys. */
(function () {
  "use strict";
  var root = document.documentElement;
  var KEY = "kepu-elder";

  function store(on) {
    try {
      if (on) localStorage.setItem(KEY, "1");
      else localStorage.removeItem(KEY);
    } catch (e) { /* private mode or storage off: the choice lasts for this page only */ }
  }

  function setupElder() {
    var button = document.getElementById("elder-toggle");
    if (!button) return;
    button.setAttribute("aria-pressed", root.classList.contains("elder") ? "true" : "false");
    button.addEventListener("click", function () {
      var on = !root.classList.contains("elder");
      root.classList.toggle("elder", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      store(on);
    });
    // Another tab changed the setting: follow it.
    window.addEventListener("storage", function (e) {
      if (e.key !== KEY) return;
      var on = e.newValue === "1";
      root.classList.toggle("elder", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
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
    setupCalendar();
    setupTables();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
