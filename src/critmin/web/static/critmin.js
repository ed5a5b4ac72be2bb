/* critmin dashboard: render every <div class="chart" data-fig="..."> with Plotly.js (served by
   this app; map topology from this app's /static/, or inlined as window.PlotlyGeoAssets). */
(function () {
  "use strict";
  var topojsonURL = document.documentElement.getAttribute("data-topojson") || "/static/";
  function render(root) {
    var els = (root || document).querySelectorAll("div.chart[data-fig]");
    Array.prototype.forEach.call(els, function (el) {
      if (el.getAttribute("data-rendered")) { return; }
      el.setAttribute("data-rendered", "1");
      var fig = JSON.parse(el.getAttribute("data-fig"));
      window.Plotly.newPlot(el, fig.data, fig.layout,
        {responsive: true, displaylogo: false, topojsonURL: topojsonURL});
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { render(document); });
  } else {
    render(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { render(e.target); });
}());
