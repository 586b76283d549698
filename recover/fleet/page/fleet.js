(function () {
'use strict';
var meta = JSON.parse(document.getElementById('fleet-meta').textContent);
var rows = JSON.parse(document.getElementById('fleet-rows').textContent);
var C = { host: 0, agent: 1, status: 2, actions: 3, keys: 4, finished: 5, report: 6, mode: 7, reports: 8, reason: 9,
          site: 10, confirmed: 11, cause: 12, locked: 13, nameFrom: 14, mid: 15, clock: 16, hist: 17 };
var STATUSES = ['fixed', 'needs_attention', 'error', 'clean'];
var TILES = ['fixed', 'needs_attention', 'error', 'clean', 'locked', 'not_reported'];
var LABEL = { fixed: 'fixed', clean: 'clean', needs_attention: 'needs attention', error: 'error', not_reported: 'never reported' };
var COLOR = { fixed: '#1a7f37', clean: '#57606a', needs_attention: '#bf8700', error: '#cf222e' };
var ORDER = { error: 0, needs_attention: 1, not_reported: 2, fixed: 3, clean: 4 };
var COLS = [['Hostname', C.host], ['Status', C.status], ['Site', C.site], ['Actions', C.actions], ['Finished (UTC)', C.finished],
            ['Agent ID', C.agent], ['Keys used', C.keys], ['Reason', C.reason], ['Reports', C.reports], ['Report', C.report]];
function label(r) { return r[C.status] === 'fixed' && r[C.confirmed] ? 'fixed (confirmed)' : (LABEL[r[C.status]] || r[C.status]); }
function tileOf(r, t) { return t === 'locked' ? r[C.locked] === 'yes' : r[C.status] === t; }
var PAGE = 500;
function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function pct(n, d) { return d ? (100 * n / d).toFixed(1) + '%' : ''; }

/* header and totals */
document.title = meta.title;
$('title').textContent = meta.title;
var tot = {};
TILES.forEach(function (t) { tot[t] = 0; rows.forEach(function (r) { if (tileOf(r, t)) tot[t]++; }); });
$('n-total').textContent = rows.length;
$('p-total').textContent = meta.stats.reports + ' reports read';
TILES.forEach(function (s) { $('n-' + s).textContent = tot[s]; $('p-' + s).textContent = pct(tot[s], rows.length); });
$('p-fixed').textContent += meta.stats.confirmed ? ', ' + meta.stats.confirmed + ' confirmed' : '';
if (!meta.stats.expected) $('p-not_reported').textContent = 'no --expect list given';
var skipped = meta.stats.not_reports + meta.stats.unreadable;
$('generated').textContent = 'Generated ' + meta.generated_at + ' from ' + meta.sources.join(', ') + ': ' +
  meta.stats.reports + ' reports, ' + meta.stats.superseded + ' in machine histories behind the outcome shown, ' +
  skipped + ' other files skipped' + (meta.stats.expected ? ', ' + meta.stats.expected + ' machines expected (' +
  meta.stats.unexpected + ' reported that are not on the list)' : '') + '.';

/* per site: the site furthest behind first */
(function sites() {
  var list = (meta.summary && meta.summary.sites) || [];
  list.forEach(function (x) {
    var tr = el('tr');
    tr.appendChild(el('td', null, x.site));
    var td = el('td', 'nowrap'), bar = el('span', 'bar');
    var fill = el('i'); fill.style.width = x.done_percent + '%'; bar.appendChild(fill);
    td.appendChild(bar); td.appendChild(el('span', null, ' ' + x.done_percent.toFixed(1) + '%'));
    tr.appendChild(td);
    ['machines', 'fixed', 'clean', 'needs_attention', 'bitlocker_locked', 'error', 'not_reported'].forEach(function (k) {
      tr.appendChild(el('td', 'num-cell', x[k]));
    });
    tr.style.cursor = 'pointer';
    tr.title = 'show the machines of this site';
    tr.addEventListener('click', function () { $('filter').value = x.site === '(no site)' ? '' : x.site; refresh(); });
    $('sites-body').appendChild(tr);
  });
  $('sites-note').textContent = '(done = fixed or clean; the site furthest behind first)';
})();

/* timeline: stacked bars per time bin, cumulative fixed line */
(function timeline() {
  var pts = [], off = 0;
  rows.forEach(function (r) {
    var t = Date.parse(r[C.finished]);
    if (r[C.clock]) { off++; return; }
    if (!isNaN(t)) pts.push([t, r[C.status]]);
  });
  $('tl-off').textContent = off ? off + ' machine' + (off > 1 ? 's' : '') + ' left out: report time before 2024-07-19 or far from the others (wrong clock); see the Clock column of fleet.csv.' : '';
  if (!pts.length) { $('timeline').textContent = 'No finish times in the reports.'; return; }
  var H = 3600000, lo = Infinity, hi = -Infinity;
  pts.forEach(function (p) { if (p[0] < lo) lo = p[0]; if (p[0] > hi) hi = p[0]; });
  lo = Math.floor(lo / H) * H;
  var bins = [1, 2, 3, 6, 12, 24, 48, 168, 720], bin = bins[bins.length - 1];
  for (var i = 0; i < bins.length; i++) if ((hi - lo) / (bins[i] * H) < 96) { bin = bins[i]; break; }
  var n = Math.floor((hi - lo) / (bin * H)) + 1, b = [], k;
  for (k = 0; k < n; k++) b.push({ fixed: 0, needs_attention: 0, error: 0, clean: 0, all: 0 });
  pts.forEach(function (p) { var x = b[Math.floor((p[0] - lo) / (bin * H))]; if (x[p[1]] !== undefined) x[p[1]]++; x.all++; });
  var max = 1, cum = 0, totalFixed = 0;
  b.forEach(function (x) { if (x.all > max) max = x.all; totalFixed += x.fixed; });
  var W = 800, HT = 220, L = 44, R = 44, T = 10, B = 34, bw = (W - L - R) / n;
  var NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + HT, role: 'img', 'aria-label': 'reports finished per ' + bin + ' h' });
  svg.appendChild(s('line', { x1: L, y1: HT - B, x2: W - R, y2: HT - B, stroke: '#8c959f' }));
  svg.appendChild(s('text', { x: L - 6, y: T + 10, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, String(max)));
  svg.appendChild(s('text', { x: L - 6, y: HT - B, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, '0'));
  svg.appendChild(s('text', { x: W - R + 6, y: T + 10, 'font-size': 11, fill: '#0969da' }, String(totalFixed)));
  var line = [], every = Math.max(1, Math.ceil(n / 8));
  b.forEach(function (x, i) {
    var y = HT - B, start = new Date(lo + i * bin * H).toISOString();
    STATUSES.forEach(function (st) {
      if (!x[st]) return;
      var h = (HT - B - T) * x[st] / max;
      y -= h;
      var r = s('rect', { x: (L + i * bw + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: h.toFixed(1), fill: COLOR[st], 'class': 'bar-' + st });
      r.appendChild(s('title', {}, start.slice(0, 13).replace('T', ' ') + ':00 UTC, ' + bin + ' h: ' + x[st] + ' ' + LABEL[st]));
      svg.appendChild(r);
    });
    cum += x.fixed;
    line.push((L + (i + 0.5) * bw).toFixed(1) + ',' + (HT - B - (HT - B - T) * (totalFixed ? cum / totalFixed : 0)).toFixed(1));
    if (i % every === 0)
      svg.appendChild(s('text', { x: (L + (i + 0.5) * bw).toFixed(1), y: HT - B + 16, 'text-anchor': 'middle', 'font-size': 10, fill: '#57606a' },
        start.slice(5, 13).replace('T', ' ') + 'h'));
  });
  svg.appendChild(s('polyline', { points: line.join(' '), fill: 'none', stroke: '#0969da', 'stroke-width': 2 }));
  $('timeline').appendChild(svg);
  $('tl-note').textContent = '(reports finished per ' + (bin < 24 ? bin + ' h' : bin / 24 + ' d') + ', UTC)';
})();

/* the most frequent reasons among machines that are not fixed or clean */
(function reasons() {
  var m = {}, list = [];
  rows.forEach(function (r) {
    if (r[C.status] !== 'needs_attention' && r[C.status] !== 'error') return;
    var k = r[C.cause] || '(no reason given)';
    m[k] = (m[k] || 0) + 1;
  });
  for (var k in m) list.push([k, m[k]]);
  list.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
  list.slice(0, 10).forEach(function (x) {
    var li = el('li');
    li.appendChild(el('b', null, x[1] + ' '));
    li.appendChild(el('span', null, x[0]));
    li.title = 'show these machines';
    li.style.cursor = 'pointer';
    li.addEventListener('click', function () { causeFilter = x[0]; $('filter').value = ''; refresh(); });
    $('reasons').appendChild(li);
  });
  $('reasons-note').textContent = list.length ? (list.length > 10 ? list.length + ' distinct reasons, top 10 shown; click one to filter.' : 'Click one to filter.')
    : 'None: every machine is fixed or clean.';
})();

/* BitLocker protectors to rotate */
(function keys() {
  var seen = {}, ids = [];
  rows.forEach(function (r) {
    if (!r[C.keys]) return;
    r[C.keys].split(';').forEach(function (id) {
      if (!id) return;
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', id));
      tr.appendChild(el('td', null, r[C.host]));
      tr.appendChild(el('td', 'mono', r[C.agent]));
      var td = el('td'); td.appendChild(el('span', 'badge ' + r[C.status], label(r))); tr.appendChild(td);
      $('keys-body').appendChild(tr);
      if (!seen[id]) { seen[id] = 1; ids.push(id); }
    });
  });
  $('keys-count').textContent = '(' + ids.length + ')';
  $('keys-text').value = ids.join('\n');
})();

/* the machine table: sort by clicking a header, filter by text and status */
var sortCol = C.status, sortDir = 1, statusFilter = '', causeFilter = '', view = [], shown = PAGE, open = {};
function key(r, c) {
  if (c === C.status) return ORDER.hasOwnProperty(r[c]) ? ORDER[r[c]] : 9;
  if (c === C.reports) return r[c];
  return String(r[c]).toLowerCase();
}
function cmp(a, b) {
  var x = key(a, sortCol), y = key(b, sortCol);
  if (x < y) return -sortDir;
  if (x > y) return sortDir;
  x = a[C.host].toLowerCase(); y = b[C.host].toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
function head() {
  var tr = $('machines-head');
  tr.textContent = '';
  COLS.forEach(function (c) {
    var th = el('th', c[1] === sortCol ? (sortDir < 0 ? 'sorted desc' : 'sorted') : '', c[0]);
    th.addEventListener('click', function () {
      if (sortCol === c[1]) sortDir = -sortDir; else { sortCol = c[1]; sortDir = 1; }
      head(); refresh();
    });
    tr.appendChild(th);
  });
}
function render() {
  var body = $('machines-body'), frag = document.createDocumentFragment();
  body.textContent = '';
  for (var i = 0; i < view.length && i < shown; i++) {
    var r = view[i], tr = el('tr');
    COLS.forEach(function (c) {
      var td;
      if (c[1] === C.status) {
        td = el('td');
        td.appendChild(el('span', 'badge ' + r[C.status], label(r)));
        if (r[C.locked]) td.appendChild(el('span', 'muted', ' BitLocker'));
      } else if (c[1] === C.reports) {
        td = el('td');
        var b = el('button', 'hist-toggle', r[C.reports] + (open[i] ? ' \u25BE' : ' \u25B8'));
        b.title = 'history: every report of this machine';
        b.addEventListener('click', toggle(i));
        td.appendChild(b);
      } else if (c[1] === C.report) {
        td = el('td', 'path mono', r[C.report]);
      } else {
        td = el('td', c[1] === C.finished ? 'mono nowrap' : c[1] === C.agent || c[1] === C.keys ? 'mono' : '', r[c[1]]);
        if (c[1] === C.host && !r[C.host]) { td.textContent = '(no hostname)'; td.className = 'muted'; }
        if (c[1] === C.host && r[C.nameFrom] === 'bitlocker') td.appendChild(el('span', 'muted', ' (BitLocker description)'));
      }
      tr.appendChild(td);
    });
    frag.appendChild(tr);
    if (open[i]) frag.appendChild(history(r));
  }
  body.appendChild(frag);
  $('count').textContent = '(' + Math.min(shown, view.length) + ' shown of ' + view.length + ' matching, ' + rows.length + ' in all)';
  $('more').style.display = view.length > shown ? '' : 'none';
}
function toggle(i) { return function () { open[i] = !open[i]; render(); }; }
function history(r) {
  var tr = el('tr', 'hist'), td = el('td'), t = el('table', 'hist-table'), h = el('tr');
  td.colSpan = COLS.length;
  ['Finished (UTC)', 'Status', 'Site', 'Report'].forEach(function (x) { h.appendChild(el('th', null, x)); });
  t.appendChild(h);
  (r[C.hist] || []).forEach(function (e) {
    var x = el('tr');
    x.appendChild(el('td', 'mono nowrap', e[0]));
    var s = el('td'); s.appendChild(el('span', 'badge ' + e[1], (LABEL[e[1]] || e[1]) + (e[2] ? ' (confirmed)' : ''))); x.appendChild(s);
    x.appendChild(el('td', null, e[3]));
    x.appendChild(el('td', 'path mono', e[4]));
    t.appendChild(x);
  });
  if (!(r[C.hist] || []).length) t.appendChild(el('tr', null, 'no report'));
  td.appendChild(t);
  tr.appendChild(td);
  return tr;
}
function refresh() {
  var q = $('filter').value.trim().toLowerCase();
  statusFilter = $('status-filter').value;
  view = rows.filter(function (r) {
    if (statusFilter && !tileOf(r, statusFilter)) return false;
    if (causeFilter && r[C.cause] !== causeFilter) return false;
    return !q || r.join('\u0001').toLowerCase().indexOf(q) >= 0;
  });
  view.sort(cmp);
  shown = PAGE;
  open = {};
  $('cause-filter').textContent = causeFilter ? 'cause: ' + causeFilter + ' (click to clear)' : '';
  Array.prototype.forEach.call(document.querySelectorAll('.card'), function (c) {
    c.classList.toggle('active', c.getAttribute('data-status') === statusFilter && statusFilter !== '');
  });
  render();
}
var timer = null;
$('filter').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(refresh, 150); });
$('status-filter').addEventListener('change', refresh);
$('cause-filter').addEventListener('click', function () { causeFilter = ''; refresh(); });
$('more').addEventListener('click', function () { shown += PAGE; render(); });
Array.prototype.forEach.call(document.querySelectorAll('.card'), function (c) {
  c.addEventListener('click', function () {
    var s = c.getAttribute('data-status');
    $('status-filter').value = statusFilter === s ? '' : s;
    refresh();
  });
});
head();
/* fleet.html#machine=NAME (or ?machine=NAME): that machine with its history open */
var want = /^[#?]machine=([^&]+)/.exec(location.hash || location.search);
if (want) $('filter').value = decodeURIComponent(want[1]);
refresh();
if (want) view.forEach(function (r, i) { if (r[C.host].toLowerCase() === $('filter').value.toLowerCase()) open[i] = true; });
if (want) render();
document.body.setAttribute('data-rendered', 'yes');
})();
