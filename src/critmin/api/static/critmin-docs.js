/* critmin API docs: the page arrives with the operations listed as HTML (the first render);
   Swagger UI (vendored swagger-ui-dist) is loaded after that paint, started on /openapi.json,
   and replaces the list once it has rendered. No inline script (the CSP allows none). */
(function () {
  "use strict";
  var me = document.currentScript;
  var bundle = me.dataset.bundle, css = me.dataset.css;

  function load(tag, attrs) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement(tag);
      Object.keys(attrs).forEach(function (k) { el[k] = attrs[k]; });
      el.onload = resolve;
      el.onerror = function () { reject(new Error("could not load " + (attrs.src || attrs.href))); };
      document.head.appendChild(el);
    });
  }

  function start() {
    Promise.all([load("link", {rel: "stylesheet", href: css}), load("script", {src: bundle})])
      .then(function () {
        window.ui = window.SwaggerUIBundle({
          url: "/openapi.json",
          dom_id: "#swagger-ui",
          layout: "BaseLayout",
          deepLinking: true,
          showExtensions: true,
          presets: [window.SwaggerUIBundle.presets.apis,
                    window.SwaggerUIBundle.SwaggerUIStandalonePreset].filter(Boolean),
          onComplete: function () {
            var plain = document.getElementById("critmin-ops");
            if (plain) { plain.remove(); }
          }
        });
      })
      .catch(function (err) {
        var note = document.createElement("p");
        note.className = "note";
        note.textContent = "The interactive explorer did not load (" + err.message + ").";
        document.getElementById("swagger-ui").appendChild(note);
      });
  }

  // after the first frame has been painted: the list is on screen before the 1.7 MB bundle runs
  requestAnimationFrame(function () { setTimeout(start, 0); });
})();
