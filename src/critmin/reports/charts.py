"""Plotly figures (plain ``{"data": [...], "layout": {...}}`` dicts) for the pages and the brief.

Formatting only: each function takes a table from :mod:`critmin.reports.views` and lays it out.
The dicts are JSON-ready (NaN becomes null) and rendered in the browser by Plotly.js
(``critmin/web/static/critmin.js``); maps use the bundled ``world_110m.json`` topology, never a CDN.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from critmin import output

FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
COLOURS = ["#1f6f8b", "#e07a5f", "#3d405b", "#81b29a", "#f2cc8f", "#9c6644", "#6d597a",
           "#b56576", "#355070", "#43aa8b"]


#: The world map: whole globe, centred on Greenwich, bundled 1:110m topology.
GEO = {"projection": {"type": "natural earth", "rotation": {"lon": 0}},
       "center": {"lon": 0, "lat": 10}, "lonaxis": {"range": [-180, 180]},
       "lataxis": {"range": [-58, 85]}, "showframe": False, "showcoastlines": False,
       "showland": True, "landcolor": "#eeeeee", "showcountries": True,
       "countrycolor": "#ffffff"}


def clean(value: Any) -> Any:
    """``value`` with NaN/inf as None and numpy scalars as Python numbers (JSON-safe)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if value is pd.NA:
        return None
    return value


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    base = {"title": {"text": title, "font": {"size": 14}}, "font": FONT,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "height": 360,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "colorway": COLOURS}
    base.update(extra)
    return base


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return clean({"data": data, "layout": layout})


def concentration_bars(df: pd.DataFrame) -> dict[str, Any]:
    """HHI (0-10 000 points) of the main minerals' production, latest year."""
    text = [f"{n} ({s}, {y}): top producer {t} {p:.0%}" for n, s, y, t, p in
            zip(df.name, df.stage, df.year, df.top_supplier, df.top1_share, strict=True)]
    return figure([{"type": "bar", "x": list(df.name), "y": list(df.hhi * 10_000),
                    "hovertext": text, "hoverinfo": "text", "marker": {"color": COLOURS[0]}}],
                  _layout("Production concentration (HHI points, latest year)",
                          yaxis={"title": {"text": "HHI (0-10 000)"}, "range": [0, 10_000]},
                          shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 2500,
                                   "y1": 2500, "line": {"dash": "dot", "color": "#999"}}]))


def producer_map(df: pd.DataFrame, title: str) -> dict[str, Any]:
    """Choropleth of production shares (ISO3 locations; bundled topology)."""
    est = df["estimated"] if "estimated" in df else [False] * len(df)
    text = [f"{n}: {output.number(v)} {u}{' (' + output.ESTIMATE + ')' if e is True else ''} "
            f"({output.percent(s)})"
            for n, v, u, s, e in zip(df.name, df.value, df.unit, df.share, est, strict=True)]
    return figure([{"type": "choropleth", "locationmode": "ISO-3", "locations": list(df.country),
                    "z": list(df.share), "text": text, "hoverinfo": "text",
                    "colorscale": "YlOrRd", "reversescale": True, "zmin": 0,
                    "zmax": max(float(df.share.max()), 0.01) if len(df) else 1,
                    "colorbar": {"title": {"text": "share"}, "tickformat": ".0%"}}],
                  _layout(title, geo=GEO,
                          margin={"l": 0, "r": 0, "t": 40, "b": 0}))


def country_map(countries: list[str], values: list[float], title: str, label: str
                ) -> dict[str, Any]:
    """A generic choropleth of ``values`` per ISO3 country."""
    return figure([{"type": "choropleth", "locationmode": "ISO-3", "locations": countries,
                    "z": values, "colorscale": "Blues", "reversescale": True,
                    "colorbar": {"title": {"text": label}}}],
                  _layout(title, geo=GEO,
                          margin={"l": 0, "r": 0, "t": 40, "b": 0}))


def concentration_lines(df: pd.DataFrame, title: str) -> dict[str, Any]:
    """HHI and top-3 share over time, one line per stage."""
    data = []
    for i, (stage, g) in enumerate(df.groupby("stage")):
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"HHI ({stage})",
                     "x": list(g.year), "y": list(g.hhi), "line": {"color": COLOURS[i % 10]}})
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"top-3 share ({stage})",
                     "x": list(g.year), "y": list(g.top3_share),
                     "line": {"dash": "dot", "color": COLOURS[i % 10]}})
    return figure(data, _layout(title, yaxis={"range": [0, 1.05], "tickformat": ".0%"},
                                xaxis={"dtick": 1}))


def hbar(labels: list[str], values: list[float], title: str, axis: str,
         fmt: str = ",.0f") -> dict[str, Any]:
    """Horizontal bars, largest on top."""
    return figure([{"type": "bar", "orientation": "h", "y": labels[::-1], "x": values[::-1],
                    "marker": {"color": COLOURS[0]}, "hovertemplate": f"%{{y}}: %{{x:{fmt}}}"
                    "<extra></extra>"}],
                  _layout(title, xaxis={"title": {"text": axis}}, margin={"l": 160, "r": 20,
                                                                           "t": 40, "b": 50}))


def sankey(df: pd.DataFrame, title: str) -> dict[str, Any]:
    """Exporter -> importer flows by value (thousand USD); the same country may appear on both
    sides (as exporter on the left, importer on the right)."""
    left = list(dict.fromkeys(df.exporter))
    right = list(dict.fromkeys(df.importer))
    labels = [f"{c} ▸" for c in left] + [f"▸ {c}" for c in right]
    src = [left.index(e) for e in df.exporter]
    dst = [len(left) + right.index(i) for i in df.importer]
    return figure([{"type": "sankey", "arrangement": "snap",
                    "node": {"label": labels, "pad": 12, "thickness": 14,
                             "color": [COLOURS[0]] * len(left) + [COLOURS[1]] * len(right)},
                    "link": {"source": src, "target": dst, "value": list(df.value_kusd),
                             "hovertemplate": "%{source.label} %{target.label}: "
                             "%{value:,.0f} kUSD<extra></extra>"}}],
                  _layout(title, height=460))


def risk_matrix(matrix: dict[str, Any], title: str) -> dict[str, Any]:
    """Scatter of minerals on the two risk axes of :func:`critmin.reports.views.risk_matrix`,
    marker size by import value."""
    pts = matrix["points"]
    size = [max(6.0, min(40.0, math.sqrt((p["imports_kusd"] or 0) / 1000.0))) for p in pts]
    return figure([{"type": "scatter", "mode": "markers+text", "x": [p["x"] for p in pts],
                    "y": [p["y"] for p in pts], "text": [p["name"] for p in pts],
                    "textposition": "top center", "marker": {"size": size, "color": COLOURS[1],
                                                             "opacity": 0.7},
                    "hovertemplate": "%{text}: x=%{x:.2f}, y=%{y:.2f}<extra></extra>"}],
                  _layout(title, height=440,
                          xaxis={"title": {"text": matrix["x_label"]}, "rangemode": "tozero"},
                          yaxis={"title": {"text": matrix["y_label"]}, "rangemode": "tozero"},
                          shapes=[{"type": "rect", "xref": "paper", "yref": "paper", "x0": 0.5,
                                   "x1": 1, "y0": 0.5, "y1": 1, "fillcolor": "#e07a5f",
                                   "opacity": 0.07, "line": {"width": 0}}]))


def scenario_bars(importers: pd.DataFrame, top: int = 15) -> dict[str, Any]:
    """Per affected importer: rerouted and remaining shortfall (t), largest losses first."""
    df = importers.sort_values("loss_t", ascending=False).head(top)
    labels = list(df.importer)
    return figure([{"type": "bar", "name": "rerouted (t)", "x": labels, "y": list(df.rerouted_t),
                    "marker": {"color": COLOURS[3]}},
                   {"type": "bar", "name": "shortfall (t)", "x": labels, "y": list(df.shortfall_t),
                    "marker": {"color": COLOURS[1]}}],
                  _layout("Lost supply per importer: re-routed vs shortfall (t)", barmode="stack",
                          yaxis={"title": {"text": "tonnes"}}))


def chain_sankey(flows: pd.DataFrame, title: str, top: int = 40) -> dict[str, Any]:
    """Mine origin -> refiner (exporter) -> importer, contained tonnes, from traced flows
    (:func:`critmin.valuechain.trace_all` ``flows``: ``origin, exporter, importer, amount_t``).
    The ``top`` largest links of each step are drawn; ore bought at origin goes straight from
    the mine column to the importer."""
    f = flows[flows.amount_t > 0]
    up = f.groupby(["origin", "exporter"], as_index=False).amount_t.sum().nlargest(top, "amount_t")
    down = f.groupby(["exporter", "importer"], as_index=False).amount_t.sum().nlargest(
        top, "amount_t")
    mines = list(dict.fromkeys(up.origin))
    refiners = list(dict.fromkeys([*up.exporter, *down.exporter]))
    buyers = list(dict.fromkeys(down.importer))
    labels = ([f"{c} (mine)" for c in mines] + [f"{c} (refine/export)" for c in refiners]
              + [f"{c} (import)" for c in buyers])
    src = [mines.index(o) for o in up.origin] + \
        [len(mines) + refiners.index(e) for e in down.exporter]
    dst = [len(mines) + refiners.index(e) for e in up.exporter] + \
        [len(mines) + len(refiners) + buyers.index(i) for i in down.importer]
    colours = ([COLOURS[3]] * len(mines) + [COLOURS[0]] * len(refiners)
               + [COLOURS[1]] * len(buyers))
    return figure([{"type": "sankey", "arrangement": "snap",
                    "node": {"label": labels, "pad": 10, "thickness": 14, "color": colours},
                    "link": {"source": src, "target": dst,
                             "value": [*up.amount_t, *down.amount_t],
                             "hovertemplate": "%{source.label} → %{target.label}: "
                             "%{value:,.0f} t contained<extra></extra>"}}],
                  _layout(title, height=520))


def outlook_chart(demand: pd.DataFrame, supply: pd.DataFrame, title: str,
                  top: int = 6) -> dict[str, Any]:
    """Demand fan by scenario (lines: total demand per scenario, t) over supply stacked by
    country (bars: refining base case, the ``top`` largest countries, the rest grouped)."""
    data: list[dict[str, Any]] = []
    s = supply.copy()
    keep = list(s.groupby("country").value.sum().nlargest(top).index)
    s["who"] = s.country.where(s.country.isin(keep), "other")
    s = s.groupby(["who", "year"], as_index=False).value.sum()
    for i, who in enumerate([*keep, "other"]):
        g = s[s.who == who].sort_values("year")
        if len(g):
            data.append({"type": "bar", "name": f"{who} (supply)", "x": list(g.year),
                         "y": list(g.value), "marker": {"color": COLOURS[(i + 3) % len(COLOURS)]},
                         "hovertemplate": f"{who} %{{x}}: %{{y:,.0f}} t<extra></extra>"})
    dash = {"historical": "solid", "STEPS": "solid", "APS": "dash", "NZE": "dot"}
    for scen, g in demand.groupby("scenario"):
        if scen == "historical":
            continue
        g = pd.concat([demand[demand.scenario == "historical"], g]).sort_values("year")
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"demand {scen}",
                     "x": list(g.year), "y": list(g.demand_t),
                     "line": {"color": COLOURS[1], "dash": dash.get(str(scen), "solid")},
                     "hovertemplate": f"{scen} %{{x}}: %{{y:,.0f}} t<extra></extra>"})
    return figure(data, _layout(title, barmode="stack", height=420,
                                yaxis={"title": {"text": "t"}}, xaxis={"dtick": 5}))
