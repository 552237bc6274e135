(function () {
  'use strict';
  var each = function (sel, f) { Array.prototype.forEach.call(document.querySelectorAll(sel), f); };

  // Sorting: click a column header; numbers sort by their data-v value.
  each('table.sortable', function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var key = function (r) {
          var td = r.cells[col];
          if (!td) { return ''; }
          var v = td.getAttribute('data-v');
          return v !== null ? parseFloat(v) : td.textContent.toLowerCase();
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });

  // Filtering by text (server name, addresses) and verdict.
  var q = document.getElementById('q'), v = document.getElementById('v'), shown = document.getElementById('shown');
  function apply() {
    var text = q.value.trim().toLowerCase(), verdict = v.value, hidden = 0;
    each('[data-text]', function (el) {
      var okText = !text || (el.getAttribute('data-text') || '').indexOf(text) >= 0;
      var vs = el.getAttribute('data-verdicts');
      var okVerdict = !verdict || vs === null || (' ' + vs + ' ').indexOf(' ' + verdict + ' ') >= 0;
      el.hidden = !(okText && okVerdict);
      if (el.hidden) { hidden += 1; }
    });
    shown.textContent = (text || verdict) ? hidden + ' rows and sections hidden' : '';
  }
  if (q && v) {
    q.addEventListener('input', apply);
    v.addEventListener('change', apply);
  }

  // "now" on each validity bar, drawn when the page is opened so that the file itself does
  // not depend on when it was written.
  var now = Date.now() / 1000, ns = 'http://www.w3.org/2000/svg';
  each('svg.validity', function (s) {
    var lo = parseFloat(s.getAttribute('data-lo')), hi = parseFloat(s.getAttribute('data-hi'));
    var w = parseFloat(s.getAttribute('data-w'));
    if (!(hi > lo) || !(w > 0)) { return; }
    var x = Math.min(w - 1, Math.max(1, (now - lo) / (hi - lo) * w));
    var line = document.createElementNS(ns, 'line');
    line.setAttribute('class', 'now');
    line.setAttribute('x1', x); line.setAttribute('x2', x);
    line.setAttribute('y1', 4); line.setAttribute('y2', 30);
    var label = document.createElementNS(ns, 'text');
    label.setAttribute('class', 'now');
    label.setAttribute('x', x < w / 2 ? x + 3 : x - 3);
    label.setAttribute('text-anchor', x < w / 2 ? 'start' : 'end');
    label.setAttribute('y', 9);
    label.textContent = now > hi ? 'now ▶' : (now < lo ? '◀ now' : 'now');
    s.appendChild(line);
    s.appendChild(label);
  });

  // Printing: every section open, then as they were.
  var was = [];
  window.addEventListener('beforeprint', function () {
    was = [];
    each('details', function (d) { was.push([d, d.open]); d.open = true; });
  });
  window.addEventListener('afterprint', function () {
    was.forEach(function (p) { p[0].open = p[1]; });
  });
  var print = document.getElementById('print');
  if (print) { print.addEventListener('click', function () { window.print(); }); }
}());
