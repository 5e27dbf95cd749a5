/** The analysis page's stylesheet: light and dark schemes, no fonts or images from outside. */
export const REPORT_CSS = `
:root { --report: 1; color-scheme: light dark;
  --bg: #f7f8fa; --fg: #1d2330; --muted: #5d6678; --card: #fff; --line: #dde1e8; --accent: #2f6fde;
  --kept: #4c8bf5; --hidden: #e5534b; --track: #eef0f4; --a: #1f8a4c; --m: #b7791f; --d: #d0392f; --pass: #1f8a4c; --fail: #d0392f; }
@media (prefers-color-scheme: dark) { :root {
  --bg: #14171d; --fg: #e4e7ee; --muted: #9aa3b5; --card: #1c2029; --line: #2e3442; --accent: #6ea1ff;
  --kept: #5b95f7; --hidden: #f0645c; --track: #262b36; --a: #4cc682; --m: #e2a93b; --d: #f0645c; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 17px; margin: 32px 0 10px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.sub code { word-break: break-all; }
section { margin-bottom: 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; }
.card .v { font-size: 20px; font-weight: 600; }
.card.waste .v { color: var(--hidden); }
.group-title { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; margin: 14px 0 6px; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: 0; }
tr.base td:first-child::after { content: " base"; color: var(--muted); font-size: 11px; }
td.step code { white-space: pre-wrap; word-break: break-word; }
td.path { min-width: 180px; }
td.path code { word-break: break-all; }
td.waste, .waste-text { color: var(--hidden); font-weight: 600; }
.line { color: var(--muted); font-size: 12px; white-space: nowrap; }
.kind { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; border: 1px solid var(--line); }
.fix { font-size: 13px; }
.fix code, td.step code { background: var(--track); padding: 0 3px; border-radius: 3px; }
.chart { width: 100%; height: auto; display: block; font: 12px system-ui, sans-serif; }
.chart text { fill: var(--fg); }
.chart .label { font-family: ui-monospace, Menlo, Consolas, "Liberation Mono", monospace; font-size: 11.5px; }
.chart .value { fill: var(--muted); }
.chart .track { fill: var(--track); }
.chart .kept { fill: var(--kept); }
.chart .hidden { fill: var(--hidden); }
.chart .bar:hover .track { fill: var(--line); }
.verdict { font-weight: 700; }
.verdict.pass, .status-PASS { color: var(--pass); }
.verdict.fail, .status-FAIL { color: var(--fail); }
.status-SKIP { color: var(--muted); }
.note { color: var(--muted); margin: 6px 0; }
.tree-controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 10px; }
.tree-controls input[type=search] { flex: 1 1 260px; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); }
.tree-controls button { padding: 5px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); cursor: pointer; }
details.layer { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 8px; padding: 6px 10px; }
details.layer > summary { cursor: pointer; padding: 2px 0; }
details.layer > summary .step { color: var(--muted); word-break: break-all; }
.layer-no { font-weight: 600; }
.badge { font-size: 11px; padding: 0 6px; border-radius: 10px; background: var(--track); color: var(--muted); }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 18px; }
ul.tree { padding-left: 4px; margin-top: 6px; }
ul.tree li { padding: 1px 0; }
details.dir > summary { cursor: pointer; }
details.dir > summary .name { font-weight: 600; }
.tree .name { font-family: ui-monospace, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; word-break: break-all; }
.tree .size, .tree .count, .tree .type, .layer .size { color: var(--muted); font-size: 12px; }
.mark { display: inline-block; width: 16px; text-align: center; border-radius: 3px; font-size: 11px; font-weight: 700; color: #fff; }
.mark-A { background: var(--a); } .mark-M { background: var(--m); } .mark-D { background: var(--d); }
li.change-D > .name, li.change-D > .size { text-decoration: line-through; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 36px; }
`;

/**
 * The page's only script: shows the tree's filter (hidden without scripts) and filters entries by path
 * and by change; the page is complete without it.
 */
export const REPORT_JS = `
(function () {
  var root = document.documentElement;
  root.setAttribute('data-js', 'ready');
  root.setAttribute('data-style', getComputedStyle(root).getPropertyValue('--report').trim() === '1' ? 'ready' : 'missing');
  var tree = document.getElementById('file-tree');
  var controls = document.getElementById('tree-controls');
  if (!tree || !controls) return;
  controls.hidden = false;
  var box = document.getElementById('tree-filter');
  var marks = controls.querySelectorAll('input[data-change]');
  var status = document.getElementById('tree-status');
  function apply() {
    var q = box.value.trim().toLowerCase();
    var on = {};
    for (var i = 0; i < marks.length; i++) on[marks[i].getAttribute('data-change')] = marks[i].checked;
    var shown = 0;
    var files = tree.querySelectorAll('li.file');
    for (var f = 0; f < files.length; f++) {
      var li = files[f];
      var ok = on[li.getAttribute('data-change')] && (q === '' || li.getAttribute('data-path').toLowerCase().indexOf(q) !== -1);
      li.hidden = !ok;
      if (ok) shown++;
    }
    var dirs = tree.querySelectorAll('details.dir');
    for (var d = dirs.length - 1; d >= 0; d--) {
      var dir = dirs[d];
      var any = dir.querySelector('li.file:not([hidden])') !== null;
      dir.parentNode.hidden = !any;
      if (q !== '' && any) dir.open = true;
    }
    var layers = tree.querySelectorAll('details.layer');
    for (var l = 0; l < layers.length; l++) {
      var hasFiles = layers[l].querySelector('li.file') !== null;
      var visible = layers[l].querySelector('li.file:not([hidden])') !== null;
      layers[l].hidden = hasFiles && !visible && (q !== '' || Object.keys(on).some(function (k) { return !on[k]; }));
      if (q !== '' && visible) layers[l].open = true;
    }
    status.textContent = shown + ' of ' + files.length + ' entries';
  }
  box.addEventListener('input', apply);
  for (var i = 0; i < marks.length; i++) marks[i].addEventListener('change', apply);
  function setAll(open) {
    var all = tree.querySelectorAll('details');
    for (var i = 0; i < all.length; i++) all[i].open = open;
  }
  document.getElementById('tree-expand').addEventListener('click', function () { setAll(true); });
  document.getElementById('tree-collapse').addEventListener('click', function () { setAll(false); });
  apply();
})();
`;
