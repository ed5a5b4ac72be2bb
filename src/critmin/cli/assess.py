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
    from critmin.assess import assess
    from critmin.atlas import Atlas

    with Atlas.open(db) as atlas:
        df = assess(country, year=year, minerals=mineral, atlas=atlas)
    if fmt is Format.table:
        show = df[["mineral", "imports_kusd", "import_reliance", "top_supplier",
                   "top_supplier_share", "import_hhi", "production_hhi_mine", "top3_share_mine",
                   "production_hhi_refinery", "geopolrisk", "share_msp", "share_ipef",
                   "share_quad", "lists"]]
        title = f"{df.country.iloc[0] if len(df) else country} — supply risk, " \
                f"{int(df.year.iloc[0]) if len(df) else year} (imports in thousand USD)"
        emit(show, fmt, title=title)
    else:
        emit(df, fmt)


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
         "top1_share", "top3_share", "top_supplier"]].rename(columns={"top_supplier": "top_producer"})
    emit(df, fmt, title=f"Production concentration: {mineral}")
