// Draws the report's charts with uPlot from the JSON in #report-data.
// Every run gets one colour; within a run, line styles tell the series
// apart (publish solid, consume dashed; p50 solid, p99 dashed, p99.9 dotted).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var palette = ["#1f6fb4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
  // Two charts a row on wide windows, one otherwise.
  var avail = document.documentElement.clientWidth - 48;
  var width = avail >= 1180 ? Math.floor((avail - 32) / 2) : Math.max(480, Math.min(900, avail));
  var PUB_RATE = 0, CONS_RATE = 1, PUB = 2, E2E = 5;

  function colour(i) { return palette[i % palette.length]; }
  function hasData(s) { return s && s.length > 0 && s.some(function (v) { return v !== 0; }); }

  // A run's series against elapsed seconds (end of each interval).
  function timeTable(run, idx) {
    var n = 0;
    idx.forEach(function (j) { n = Math.max(n, run.series[j].length); });
    var x = [];
    for (var i = 0; i < n; i++) { x.push(Math.round((i + 1) * run.interval * 1000) / 1000); }
    var t = [x];
    idx.forEach(function (j) {
      var s = run.series[j].slice();
      while (s.length < n) { s.push(null); }
      t.push(s);
    });
    return t;
  }

  // draw makes one chart from per-run tables (x first) joined on x.
  function draw(id, tables, series, xAxis, yLabel, xScale) {
    var fig = document.getElementById(id);
    if (tables.length === 0) {
      fig.classList.add("empty");
      return;
    }
    var joined = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var opts = {
      width: width,
      height: 280,
      padding: [12, 40, 0, 0], // room for the last x label
      scales: { x: xScale || { time: false } },
      series: [{ label: xAxis.label }].concat(series),
      axes: [xAxis, { label: yLabel, size: 64 }],
      cursor: { drag: { x: true, y: false } }
    };
    new uPlot(opts, joined, fig);
    fig.setAttribute("data-drawn", String(series.length));
  }

  function overTime(id, first, labels, dashes, yLabel) {
    var tables = [], series = [];
    data.runs.forEach(function (run, r) {
      var idx = [];
      labels.forEach(function (_, k) { if (hasData(run.series[first + k])) { idx.push(first + k); } });
      if (idx.length === 0) { return; }
      tables.push(timeTable(run, idx));
      idx.forEach(function (j) {
        var k = j - first;
        series.push({ label: run.label + " " + labels[k], stroke: colour(r), width: k === 0 ? 2 : 1.5,
          dash: dashes[k], spanGaps: true, points: { show: false } });
      });
    });
    draw(id, tables, series, { label: "seconds" }, yLabel);
  }

  // Percentile curves: x is 1/(1-p) on a log scale, as HdrHistogram
  // plots them, so the tail gets as much room as the median.
  function percentileCurve(id, key) {
    var tables = [], series = [];
    data.runs.forEach(function (run, r) {
      var pts = run[key].filter(function (q) { return q[0] < 100; });
      if (pts.length === 0) { return; }
      tables.push([pts.map(function (q) { return 100 / (100 - q[0]); }), pts.map(function (q) { return q[1]; })]);
      series.push({ label: run.label, stroke: colour(r), width: 2, spanGaps: true, points: { show: true, size: 4 } });
    });
    var ticks = [2, 10, 100, 1000, 10000, 100000, 1000000];
    var xAxis = {
      label: "percentile",
      splits: function (u) {
        var lo = u.scales.x.min, hi = u.scales.x.max;
        return ticks.filter(function (t) { return t >= lo * 0.999 && t <= hi * 1.001; });
      },
      values: function (u, splits) {
        return splits.map(function (x) {
          return x >= 2 ? "p" + String(Math.round((100 - 100 / x) * 10000) / 10000) : "";
        });
      }
    };
    // From p50 (x = 2) to the decade above the deepest percentile.
    var xScale = { time: false, distr: 3, log: 10, range: function (u, lo, hi) {
      return [2, Math.max(10, Math.pow(10, Math.ceil(Math.log10(hi || 10))))];
    } };
    draw(id, tables, series, xAxis, "ms", xScale);
  }

  overTime("chart-tps", PUB_RATE, ["publish", "consume"], [undefined, [6, 4]], "msg/s");
  overTime("chart-pub", PUB, ["p50", "p99", "p99.9"], [undefined, [6, 4], [2, 3]], "ms");
  overTime("chart-e2e", E2E, ["p50", "p99", "p99.9"], [undefined, [6, 4], [2, 3]], "ms");
  percentileCurve("chart-pubq", "pubQ");
  percentileCurve("chart-e2eq", "e2eQ");
  document.body.setAttribute("data-charts", "ready");
}());
