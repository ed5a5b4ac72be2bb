"""``critmin trace`` (where supply really comes from) and ``critmin outlook`` (supply and demand
to 2040)."""

from __future__ import annotations

from typing import Annotated

import typer

from critmin.cli import Format, app, emit
from critmin.cli.options import DbOption, FormatOption


@app.command("trace")
def trace_cmd(
    country: Annotated[str, typer.Argument(help="Importer: ISO3 code (JPN), ISO2 or name.")],
    mineral: Annotated[str, typer.Option("--mineral", help="Mineral id, e.g. cobalt.")],
    year: Annotated[int | None, typer.Option(help="Trade year (default: the latest with "
                                             "imports).")] = None,
    fmt: FormatOption
    = Format.table,
    db: DbOption = None,
) -> None:
    """Where COUNTRY's MINERAL really comes from: imports of processed goods traced one step
    upstream to the refiners' own mines and ore suppliers (contained tonnes, proportional
    sourcing), against the direct view by exporter; HHI and GeoPolRisk-style risk of both."""
    from critmin.atlas import Atlas
    from critmin.valuechain import trace_country

    with Atlas.open(db) as atlas:
        t = trace_country(atlas, country, mineral, year)
    if fmt is Format.table:
        m = t.metrics.iloc[0]
        emit(t.views, fmt, title=f"{m.importer} {mineral} {t.year}: direct (by exporter) and "
                                 "traced (by mine origin) shares of contained tonnes")
        import pandas as pd

        from critmin.cli.notes import coverage_notes
        from critmin.output import number
        from critmin.valuechain import TRACE_CODE_COLUMNS

        row = t.metrics.drop(columns=TRACE_CODE_COLUMNS).iloc[0]
        pairs = pd.DataFrame({"metric": list(row.index), "value": [
            v if isinstance(v, str) else number(v) for v in row]})
        notes = [*t.notes, *coverage_notes(
            [f"imports of {m.mineral} by {m.importer}",
             "refiners' feed imports, world (feed_hs_codes, feed_hs_codes_missing)"],
            [m.hs_codes, m.feed_hs_codes], [m.hs_codes_missing, m.feed_hs_codes_missing],
            f"trade rows in {t.year}")]
        emit(pairs, fmt, title="Direct against traced view", notes=notes)
        return
    emit(t.views.merge(t.metrics, on=["mineral", "importer"]), fmt)


@app.command("outlook")
def outlook_cmd(
    mineral: Annotated[str, typer.Option("--mineral", help="Mineral id with an IEA outlook: "
                                         "copper, cobalt, lithium, nickel, graphite, "
                                         "rare_earths.")],
    scenario: Annotated[str, typer.Option("--scenario", help="STEPS, APS or NZE.")] = "STEPS",
    with_projects: Annotated[bool, typer.Option(
        "--with-projects", help="Add registry projects not yet operating from their start "
        "year and show how they change the projected concentration.")] = False,
    by_sector: Annotated[bool, typer.Option(
        "--by-sector", help="Print demand by sector instead of the balance.")] = False,
    fmt: FormatOption
    = Format.table,
    db: DbOption = None,
) -> None:
    """Projected demand against base-case supply for mining and refining in 2030, 2035 and 2040
    (IEA Critical Minerals Data Explorer): balance, top-3 share and HHI of supply."""
    from critmin.atlas import Atlas
    from critmin.valuechain import outlook

    with Atlas.open(db) as atlas:
        o = outlook(atlas, mineral, scenario.upper(), with_projects=with_projects)
    if by_sector:
        emit(o.demand.sort_values(["sector", "year"], ignore_index=True), fmt,
             title=f"{mineral} demand by sector, {o.scenario} (t)", notes=o.notes)
    else:
        emit(o.balance, fmt, title=f"{mineral} outlook, {o.scenario}: supply (IEA base case) "
                                   "against demand (t)", notes=o.notes)
