/* critmin roundtable: download a table as CSV (the organiser's sign-in links) without inline
   script, so the page works under a strict Content-Security-Policy. */
(function () {
  "use strict";
  function cell(text) {
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-csv-table]") : null;
    if (!btn) { return; }
    var table = document.getElementById(btn.getAttribute("data-csv-table"));
    if (!table) { return; }
    var lines = Array.prototype.map.call(table.querySelectorAll("tr"), function (tr) {
      return Array.prototype.map.call(tr.children, function (td) {
        return cell(td.textContent.trim());
      }).join(",");
    });
    var blob = new Blob([lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = btn.getAttribute("data-csv-name") || "table.csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  });
}());
