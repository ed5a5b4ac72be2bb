"""``critmin assess`` and ``critmin concentration``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from critmin.cli import app
from critmin.cli._output import Format, emit

DbOption = Annotated[Path | None, typer.Option("--db", help="Atlas file (default: $CRITMIN_ATLAS "
                                                "or the user data dir; the bundled starter atlas "
                                                "is installed there on first use).")]


@app.command("assess")
def assess_cmd(
    country: Annotated[str, typer.Argument(help="Country: ISO3 code (JPN), ISO2 or name.")],
    year: Annotated[int | None, typer.Option(help="Year (default: latest with data).")] = None,
    mineral: Annotated[list[str] | None, typer.Option("--mineral", help="Mineral id(s).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.table,
    db: DbOption = None,
) -> None:
    """Supply risk of COUNTRY per mineral: import reliance, suppliers, concentration, lists."""
    from critmin.assessment import assess
    from critmin.atlas import Atlas

    with Atlas.open(db) as atlas:
        df = assess(country, year=year, minerals=mineral, atlas=atlas)
    if fmt is Format.table:
        emit(_table_view(df), fmt, title=_title(df, country, year))
    else:
        emit(df, fmt)


def _pct(v: object) -> str | None:
    return None if v is None or v != v else f"{100 * float(v):.0f}%"  # type: ignore[operator]


def _title(df: object, country: str, year: int | None) -> str:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    if not len(df):
        return f"{country}: no data"
    return (f"{df.country.iloc[0]} — supply risk {int(df.year.iloc[0])} "
            "(imports k$ = thousand USD; shares of import value)")


def _table_view(df: object) -> object:
    """A compact, human-readable view of the assess table for the terminal."""
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    view = pd.DataFrame({
        "mineral": df.mineral,
        "imports k$": df.imports_kusd.map(lambda v: f"{v:,.0f}"),
        "reliance": df.import_reliance.map(_pct),
        "top supplier": df.top_supplier + " " + df.top_supplier_share.map(_pct).fillna(""),
        "import HHI": df.import_hhi.round(2),
        "prod. HHI mine": df.production_hhi_mine.round(2),
        "top-3 mine": df.top3_share_mine.map(_pct),
        "prod. HHI ref.": df.production_hhi_refinery.round(2),
        "GeoPolRisk": df.geopolrisk,
        "MSP": df.share_msp.map(_pct), "IPEF": df.share_ipef.map(_pct),
        "QUAD": df.share_quad.map(_pct),
        "lists": df.lists.map(lambda v: " ".join(v) if isinstance(v, list) else ""),
    })
    return view


@app.command("concentration")
def concentration_cmd(
    mineral: Annotated[str, typer.Option("--mineral", help="Mineral id, e.g. cobalt.")],
    stage: Annotated[str | None, typer.Option(help="mine, refinery, smelter or capacity.")] = None,
    year: Annotated[int | None, typer.Option(help="Year (default: all).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.table,
    db: DbOption = None,
) -> None:
    """Production concentration of a mineral: HHI, top-1/top-3 shares, largest producer."""
    from critmin.atlas import Atlas
    from critmin.metrics.concentration import production_concentration

    with Atlas.open(db) as atlas:
        if mineral not in set(atlas.table("minerals").mineral.to_pandas()):
            from critmin.errors import CritminError

            raise CritminError(f"unknown mineral {mineral!r}")
        df = production_concentration(atlas.table("production"), mineral=mineral, stage=stage,
                                      year=year, sources=atlas.table("sources"),
                                      family="usgs-mcs").to_pandas()
    df = df.sort_values(["stage", "year"], ignore_index=True)[
        ["mineral", "stage", "year", "unit", "basis", "total", "n_suppliers", "hhi", "hhi_points",
         "top1_share", "top3_share", "top_supplier", "published_total", "total_flag"]
    ].rename(columns={"top_supplier": "top_producer"})
    emit(df, fmt, title=f"Production concentration: {mineral}")
