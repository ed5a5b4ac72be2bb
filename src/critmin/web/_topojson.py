"""Convert world-atlas ``countries-110m.json`` into the ``world_110m.json`` Plotly's geo expects.

Run once when the bundled map is refreshed (not at import, not at run time)::

    npm pack world-atlas@2 && tar xzf world-atlas-2.0.2.tgz
    python -m critmin.web._topojson package/countries-110m.json src/critmin/web/static/world_110m.json

world-atlas (ISC licence, geometry from Natural Earth, public domain) identifies countries by
their ISO 3166 numeric code; Plotly's choropleth (``locationmode="ISO-3"``) matches
``objects.countries`` features on an ISO 3166 alpha-3 ``id``, and its geo subplot draws the
``land``, ``coastlines``, ``countries``, ``ocean``, ``lakes``, ``rivers`` and ``subunits``
objects. This module re-keys the countries, reuses the land polygons for the coastlines and adds
empty collections for the layers the file has no data for.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: Features world-atlas gives no numeric code (names as published there).
NO_NUMERIC = {"Kosovo": "XKX", "N. Cyprus": "CYN", "Somaliland": "SOL"}


def convert(topology: dict[str, Any]) -> dict[str, Any]:
    """The world-atlas topology re-keyed by ISO alpha-3, with every layer Plotly draws."""
    import pycountry

    out = dict(topology)
    countries = []
    for g in topology["objects"]["countries"]["geometries"]:
        g = dict(g)
        name = g.get("properties", {}).get("name", "")
        num = g.get("id")
        hit = pycountry.countries.get(numeric=num) if num else None
        g["id"] = hit.alpha_3 if hit else NO_NUMERIC.get(name, name)
        countries.append(g)
    empty = {"type": "GeometryCollection", "geometries": []}
    land = topology["objects"]["land"]
    out["objects"] = {"countries": {"type": "GeometryCollection", "geometries": countries},
                      "land": land, "coastlines": land, "ocean": empty, "lakes": empty,
                      "rivers": empty, "subunits": empty}
    return out


def main(argv: list[str]) -> None:
    src, dst = Path(argv[0]), Path(argv[1])
    data = convert(json.loads(src.read_text()))
    dst.write_text(json.dumps(data, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1:])
