"""Reports: the tables and figures behind the web dashboard, and self-contained country briefs.

- :mod:`critmin.reports.views` - what each page shows, as pandas tables (library calls only);
- :mod:`critmin.reports.charts` - Plotly figure dicts built from those tables;
- :mod:`critmin.reports.brief` - ``country_brief()``: one HTML file with Plotly.js, the map
  topology, the charts, the provenance block and a citation inlined (``critmin brief``).
"""
