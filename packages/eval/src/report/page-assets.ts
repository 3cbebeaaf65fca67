// Inline CSS and JS of report.html (no network). The script only reads data-* attributes and
// writes with textContent, so report text never becomes markup.

export const REPORT_CSS = `
:root { --fg: #1d1d1f; --muted: #6b6b70; --line: #e3e3e8; --card: #ffffff; --bg: #f5f5f7; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
nav { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 8px 0 18px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin: 0 0 18px; }
.badge { display: inline-block; padding: 3px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.badge.on { background: #e3f1e4; color: #276b2f; }
.badge.off { background: #fdf0dc; color: #8a5300; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: right; white-space: nowrap; }
th { background: #fafafb; font-weight: 600; font-size: 12px; color: #444; white-space: normal; vertical-align: bottom; }
.scroll { overflow-x: auto; max-width: 100%; }
th:first-child, td:first-child { text-align: left; }
td.paper, th.paper { color: var(--muted); background: #fafafb; }
td.muted { color: var(--muted); }
.kv td { text-align: left; white-space: normal; overflow-wrap: anywhere; }
.kv td:first-child { color: var(--muted); }
.tables { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.note { color: var(--muted); font-size: 12.5px; margin: 4px 0; }
.not-run { color: var(--muted); font-style: italic; margin: 4px 0; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
figure svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.toggle { display: inline-flex; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; margin: 4px 0 10px; }
.toggle button { font: inherit; border: 0; background: #fff; padding: 6px 14px; cursor: pointer; }
.toggle button[aria-pressed="true"] { background: var(--accent); color: #fff; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 12px; font-size: 12px; margin: 6px 0; align-items: center; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px; margin-right: 4px; border: 1px solid #0002; }
.sample { border-top: 1px solid var(--line); padding-top: 6px; }
.prompt { color: var(--muted); white-space: pre-wrap; font-size: 12.5px; margin: 0 0 6px; }
.seq { font: 13px/1.9 "DejaVu Sans Mono", ui-monospace, Menlo, monospace; white-space: pre-wrap; word-break: break-word; }
.seq-summary { font: 12px system-ui, sans-serif; color: var(--muted); margin-bottom: 2px; }
.tok { border-radius: 3px; padding: 1px 0; cursor: default; }
.tok.full { box-shadow: inset 0 -1px 0 #d0d0d5; }
.tok:hover { outline: 2px solid #222; }
#token-viewer-body[data-phase="before"] .seq[data-phase="after"],
#token-viewer-body[data-phase="after"] .seq[data-phase="before"] { display: none; }
#token-tooltip { position: fixed; z-index: 10; background: #1d1d1f; color: #fff; border-radius: 6px; padding: 8px 10px; font-size: 12px; min-width: 220px; pointer-events: none; box-shadow: 0 4px 14px #0004; }
#token-tooltip .tip-head { font-weight: 600; margin-bottom: 4px; white-space: pre; }
#token-tooltip .tip-row { display: grid; grid-template-columns: 64px 1fr 48px; gap: 6px; align-items: center; }
#token-tooltip .tip-row.chosen { font-weight: 700; color: #ffd966; }
#token-tooltip .tip-bar { height: 7px; background: #8fb3d9; border-radius: 2px; }
/* Phone width: nothing wider than the screen; wide tables scroll inside their .scroll box. */
@media (max-width: 600px) {
  main { padding: 14px 8px 40px; }
  section { padding: 12px 10px; }
  .tables { gap: 4px 12px; }
  .tables > table { max-width: 100%; }
  #token-tooltip { min-width: 0; max-width: calc(100vw - 16px); }
}
`;

export const REPORT_SCRIPT = `
(function () {
  var body = document.getElementById("token-viewer-body");
  if (!body) return;
  var buttons = document.querySelectorAll("[data-show-phase]");
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      body.setAttribute("data-phase", button.getAttribute("data-show-phase"));
      buttons.forEach(function (other) { other.setAttribute("aria-pressed", String(other === button)); });
    });
  });
  var layers = (body.getAttribute("data-layers") || "").split(",").filter(Boolean).map(Number);
  var depth = Number(body.getAttribute("data-num-layers"));
  var tip = document.getElementById("token-tooltip");
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function show(token) {
    var layer = Number(token.getAttribute("data-layer"));
    var probs = (token.getAttribute("data-probs") || "").split(",").filter(Boolean).map(Number);
    tip.textContent = "";
    tip.appendChild(element("div", "tip-head", JSON.stringify(token.textContent) + "  exit layer " + layer + " / " + depth));
    if (probs.length === 0) tip.appendChild(element("div", "tip-none", "no exit probabilities recorded"));
    else tip.appendChild(element("div", "tip-caption", "P(exit) by layer:"));
    probs.forEach(function (p, i) {
      var row = element("div", "tip-row" + (layers[i] === layer ? " chosen" : ""));
      row.appendChild(element("span", "", "layer " + layers[i]));
      var bar = element("span", "tip-bar");
      bar.style.width = Math.max(1, Math.round(p * 100)) + "%";
      row.appendChild(bar);
      row.appendChild(element("span", "", (p * 100).toFixed(1) + "%"));
      tip.appendChild(row);
    });
    tip.hidden = false;
    var rect = token.getBoundingClientRect();
    var left = Math.min(rect.left, window.innerWidth - tip.offsetWidth - 8);
    var top = rect.bottom + 6;
    if (top + tip.offsetHeight > window.innerHeight) top = rect.top - tip.offsetHeight - 6;
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = Math.max(4, top) + "px";
  }
  body.addEventListener("mouseover", function (event) {
    var token = event.target.closest && event.target.closest(".tok");
    if (token) show(token);
  });
  body.addEventListener("mouseout", function (event) {
    var token = event.target.closest && event.target.closest(".tok");
    if (token && !token.contains(event.relatedTarget)) tip.hidden = true;
  });
})();
`;
