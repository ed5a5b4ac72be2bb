"""HTML formatting shared by the web pages and the brief: number formats and tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from critmin import output

#: A column spec: (column, header, format) with format one of "", "int", "num", "pct", "kusd",
#: "t", "hhi", "list".
Column = tuple[str, str, str]


def fmt(value: Any, kind: str = "") -> str:
    """``value`` formatted for a table cell by the one number format of
    :mod:`critmin.output`; missing and infinite values show as an en dash (never 0).

    ``kind``: ``pct`` (a 0-1 share as a percentage), ``hhi`` (0-1 HHI on the 0-10,000 points
    scale), ``int`` (a year or count, no separators), ``kusd``/``t``/``num`` (amounts), ``list``,
    ``est`` (a publisher's estimate flag: "estimate" or nothing).
    """
    v = output.jsonable(value)
    if kind == "est":
        return output.ESTIMATE if v is True else ""
    if isinstance(v, list):
        return ", ".join(map(str, v)) if v else output.MISSING
    if v is None:
        return output.MISSING
    try:
        if kind == "pct":
            return output.percent(float(v))
        if kind == "hhi":
            return output.number(round(float(v) * 10_000))
        if kind == "int":
            return output.number(int(v), column="year")
        if kind in ("kusd", "t", "num"):
            return output.number(float(v))
    except (TypeError, ValueError):
        return str(v)
    return str(v) if isinstance(v, int) else output.number(v)


def table(df: pd.DataFrame, columns: Sequence[Column], *, cls: str = "data", limit: int | None
          = None, links: dict[str, str] | None = None, table_id: str | None = None,
          titles: dict[str, str] | None = None) -> Markup:
    """``df`` as an HTML table with the given columns (missing columns are skipped).
    ``links`` maps a column to a URL pattern with ``{value}`` (the cell) or ``{other_column}``;
    ``titles`` maps a column to the column whose text is the cell's tooltip (``title``)."""
    titles = titles or {}
    cols = [c for c in columns if c[0] in df.columns]
    links = links or {}
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _k in cols)
    rows = []
    data = df if limit is None else df.head(limit)
    for rec in data.to_dict(orient="records"):
        cells = []
        for c, _h, k in cols:
            text = escape(fmt(rec.get(c), k))
            if c in links and rec.get(c) is not None:
                url = links[c].format(**{**{str(key): v for key, v in rec.items()},
                                         "value": rec[c]})
                text = Markup(f'<a href="{escape(url)}">{text}</a>')
            num = " class=\"num\"" if k in ("pct", "kusd", "t", "num", "int", "hhi") else ""
            tip = rec.get(titles[c]) if c in titles else None
            if isinstance(tip, str) and tip:
                num += f' title="{escape(tip)}"'
                text = Markup(f"{text}&thinsp;*")
            cells.append(f"<td{num}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{escape(table_id)}"' if table_id else ""
    if not rows:
        return Markup(f'<p class="empty"{ident}>No data.</p>')
    return Markup(f'<table class="{escape(cls)}"{ident}><thead><tr>{head}</tr></thead><tbody>'
                  + "".join(rows) + "</tbody></table>")
