// kepu serve: live reload and the build-error overlay. Injected by `kepu serve` only; never
// part of `kepu build` output. Every string from the server is set with textContent.
(function () {
  "use strict";
  var me = document.currentScript;
  var version = me ? Number(me.getAttribute("data-kepu-version")) : 0;
  var overlay = null;

  function here() {
    var p = location.pathname;
    try { p = decodeURIComponent(p); } catch (e) { /* keep it as is */ }
    return p.replace(/index\.html$/, "");
  }

  function el(tag, style, text) {
    var e = document.createElement(tag);
    if (style) e.setAttribute("style", style);
    if (text != null) e.textContent = String(text);
    return e;
  }

  function hide() {
    if (overlay) { overlay.remove(); overlay = null; }
  }

  function show(report) {
    hide();
    overlay = el("div", "position:fixed;inset:0;z-index:2147483647;overflow:auto;background:rgba(20,20,24,.92);" +
      "color:#f4f4f5;font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,'Noto Sans Mono CJK SC',monospace;padding:24px");
    overlay.id = "kepu-error-overlay";
    overlay.setAttribute("role", "alertdialog");
    overlay.setAttribute("aria-label", "构建错误");
    var head = el("div", "display:flex;justify-content:space-between;align-items:center;margin-bottom:16px");
    head.appendChild(el("strong", "font-size:18px;color:#fca5a5",
      "kepu：构建失败，" + report.errors + " 个错误（下方仍是上一次成功构建的页面）"));
    var close = el("button", "font:inherit;background:#3f3f46;color:#fff;border:0;padding:4px 12px;cursor:pointer", "关闭 ×");
    close.onclick = hide;
    head.appendChild(close);
    overlay.appendChild(head);
    (report.diagnostics || []).forEach(function (d) {
      var box = el("section", "border-left:4px solid " + (d.severity === "error" ? "#ef4444" : "#f59e0b") +
        ";background:#27272a;margin:0 0 16px;padding:12px 16px");
      box.className = "kepu-diagnostic";
      if (d.location) box.appendChild(el("div", "color:#93c5fd", d.location));
      box.appendChild(el("div", "font-weight:bold;margin:4px 0",
        d.message + (d.field ? " [" + d.field + "]" : "")));
      box.appendChild(el("pre", "white-space:pre-wrap;margin:8px 0;color:#e4e4e7", d.rendered));
      if (d.hint) box.appendChild(el("div", "color:#86efac", "提示：" + d.hint));
      overlay.appendChild(box);
    });
    (document.body || document.documentElement).appendChild(overlay);
  }

  function connect() {
    var es = new EventSource("/__kepu/events");
    es.addEventListener("hello", function (e) {
      var m = JSON.parse(e.data);
      if (m.errors) { show(m.errors); return; }
      hide();
      if (m.version !== version) location.reload();
    });
    es.addEventListener("errors", function (e) { show(JSON.parse(e.data)); });
    es.addEventListener("reload", function (e) {
      var m = JSON.parse(e.data);
      hide();
      if (m.all || m.paths.indexOf(here()) >= 0) location.reload();
      else version = m.version;
    });
    es.onerror = function () {
      // The server stopped or restarted: try again shortly.
      es.close();
      setTimeout(connect, 1000);
    };
  }
  connect();
})();
