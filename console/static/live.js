// rocketgo console live charts: polls /live.json and draws each kind as
// an inline SVG line chart. Hand-written, no library; names are inserted
// as text nodes, never as HTML.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function draw(box, data) {
    while (box.firstChild) box.removeChild(box.firstChild);
    var names = Object.keys(data || {}).sort();
    if (names.length === 0) { box.textContent = "No samples yet."; return; }
    var W = 900, H = 220, P = 40, t0 = Infinity, t1 = -Infinity, vmax = 1;
    names.forEach(function (n) {
      var s = data[n];
      s.t.forEach(function (t, i) { t0 = Math.min(t0, t); t1 = Math.max(t1, t); vmax = Math.max(vmax, s.v[i]); });
    });
    if (t1 <= t0) t1 = t0 + 1;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" });
    svg.appendChild(el("line", { x1: P, y1: H - P, x2: W - 5, y2: H - P, stroke: "#999" }));
    svg.appendChild(el("line", { x1: P, y1: 5, x2: P, y2: H - P, stroke: "#999" }));
    var top = el("text", { x: 2, y: 14, "font-size": 11 }); top.textContent = vmax.toFixed(1); svg.appendChild(top);
    names.slice(0, 40).forEach(function (n, k) {
      var s = data[n], pts = [];
      s.t.forEach(function (t, i) {
        var x = P + (t - t0) / (t1 - t0) * (W - P - 5), y = (H - P) - s.v[i] / vmax * (H - P - 5);
        pts.push(x.toFixed(1) + "," + y.toFixed(1));
      });
      var line = el("polyline", { points: pts.join(" "), fill: "none", stroke: colors[k % colors.length], "stroke-width": 1.5 });
      var title = el("title", {}); title.textContent = n; line.appendChild(title);
      svg.appendChild(line);
      var label = el("text", { x: P + 5 + (k % 4) * 215, y: H - 22 + Math.floor(k / 4) * 12, fill: colors[k % colors.length], "font-size": 11 });
      label.textContent = n + " " + s.v[s.v.length - 1].toFixed(1);
      svg.appendChild(label);
    });
    box.appendChild(svg);
  }
  function poll() {
    fetch("/live.json", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      ["in", "out", "lag"].forEach(function (k) { var b = document.getElementById("chart-" + k); if (b) draw(b, d[k]); });
    }).catch(function () {});
  }
  poll();
  setInterval(poll, 5000);
})();
