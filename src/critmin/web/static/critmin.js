/* critmin dashboard: render every <div class="chart" data-fig="..."> with Plotly.js (served by
   this app; map topology from this app's /static/, or inlined as window.PlotlyGeoAssets).
   Plotly.js (several MB) is loaded only when a page has a chart, after the page has rendered:
   the first paint never waits for it. */
(function () {
  "use strict";
  var topojsonURL = document.documentElement.getAttribute("data-topojson") || "/static/";
  var plotlyURL = document.documentElement.getAttribute("data-plotly") ||
    "/static/vendor/plotly.min.js";
  var waiting = null;  // callbacks while Plotly.js loads
  function withPlotly(cb) {
    if (window.Plotly) { cb(); return; }
    if (waiting === null) {
      waiting = [];
      var s = document.createElement("script");
      s.src = plotlyURL;
      s.onload = function () { var q = waiting; waiting = null; q.forEach(function (f) { f(); }); };
      document.head.appendChild(s);
    }
    waiting.push(cb);
  }
  function render(root) {
    var els = Array.prototype.filter.call(
      (root || document).querySelectorAll("div.chart[data-fig]"),
      function (el) { return !el.getAttribute("data-rendered"); });
    if (!els.length) { return; }
    els.forEach(function (el) { el.setAttribute("data-rendered", "1"); });
    withPlotly(function () {
      els.forEach(function (el) {
        var fig = JSON.parse(el.getAttribute("data-fig"));
        window.Plotly.newPlot(el, fig.data, fig.layout,
          {responsive: true, displaylogo: false, topojsonURL: topojsonURL});
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { render(document); });
  } else {
    render(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { render(e.target); });
}());
