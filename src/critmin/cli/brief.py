"""``critmin brief``: a self-contained HTML country brief."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from critmin.cli import app, duckdb_atlas
from critmin.cli.options import DbOption


@app.command("brief")
def brief_cmd(
    country: Annotated[str, typer.Argument(help="Country: ISO3 code (JPN), ISO2 or name.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")],
    year: Annotated[int | None, typer.Option(help="Trade year (default: latest).")] = None,
    group: Annotated[str | None, typer.Option(help="Partner group for the coverage table "
                                              "(default: the first of MSP, QUAD, IPEF, G7, "
                                              "EU27, OECD the country belongs to).")] = None,
    db: DbOption = None,
) -> None:
    """Write a self-contained country brief for COUNTRY (charts, tables, provenance, citation;
    Plotly.js inlined: opens offline and requests nothing)."""
    from critmin.reports.brief import write_brief

    with duckdb_atlas(db, "brief") as atlas:
        path = write_brief(country, output, year=year, group=group, atlas=atlas)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
