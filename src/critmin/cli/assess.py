"""``critmin assess`` and ``critmin concentration``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from critmin.cli import Format, app, emit, run_analytic
from critmin.cli.options import DbOption, EngineOption, FormatOption, MasterOption, ParquetOption

if TYPE_CHECKING:
    import pandas as pd


@app.command("assess")
def assess_cmd(
    country: Annotated[str, typer.Argument(help="Country: ISO3 code (JPN), ISO2 or name.")],
    year: Annotated[int | None, typer.Option(help="Year (default: latest with data).")] = None,
    mineral: Annotated[list[str] | None, typer.Option("--mineral", help="Mineral id(s).")] = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
    engine: EngineOption = None,
    parquet: ParquetOption = None,
    master: MasterOption = None,
) -> None:
    """Supply risk of COUNTRY per mineral: import reliance, suppliers, concentration, lists."""

    def run(atlas: Any) -> pd.DataFrame:
        from critmin.assessment import assess  # (pandas loads while the atlas opens)

        return assess(country, year=year, minerals=mineral, atlas=atlas)

    df, ann = run_analytic(run, db, engine, parquet, master)
    notes = list(df.attrs.get("notes", []))
    if fmt is Format.table:
        from critmin.cli.notes import coverage_notes, estimate_notes

        notes += [*_reliance_notes(df),
                  *estimate_notes(df, "top_producer_estimated_mine", "top-3 mine",
                                  "top_producer_estimated_mine, estimated_share_mine"),
                  *coverage_notes(df.mineral, df.hs_codes, df.hs_codes_missing)]
        emit(_table_view(df), fmt, title=_title(df, country, year), notes=notes, ann=ann)
    else:
        emit(df, fmt, ann=ann)


def _reliance_notes(df: object) -> list[str]:
    """Footnotes for the reliance column: the basis and the reason of every blank."""
    import pandas as pd

    from critmin.metrics.formulas import RELIANCE_FLAGS

    assert isinstance(df, pd.DataFrame)
    flags = sorted({f for f in df.import_reliance_flag.dropna()})
    if not flags:
        return []
    out = ["Reliance notes:"]
    for f in flags:
        minerals = ", ".join(df.mineral[df.import_reliance_flag == f])
        out.append(f"  [{_MARK.get(f, f)}] {RELIANCE_FLAGS.get(f, f)}: {minerals}")
    return out


#: Short footnote marks of the reliance flags (CLI table).
_MARK = {"not_a_listed_producer": "0", "value_basis": "v", "production_wmd": "w",
         "production_withheld": "W", "in_rest_of_world": "r", "no_production_data": "p",
         "content_factor_unknown": "c", "no_apparent_consumption": "n",
         "partial_content": "pc"}


def _reliance_cell(v: object, flag: object) -> str:
    text = _pct(v)
    if isinstance(flag, str):
        return f"{text} [{_MARK.get(flag, flag)}]"
    return text


def _pct(v: object) -> str:
    from critmin.output import percent

    return percent(v, 0)


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
        "imports k$": df.imports_kusd,
        "reliance": [_reliance_cell(v, f) for v, f in zip(df.import_reliance,
                                                          df.import_reliance_flag, strict=True)],
        "top supplier": df.top_supplier + " " + df.top_supplier_share.map(_pct).fillna(""),
        "import HHI": df.import_hhi,
        "prod. HHI mine": df.production_hhi_mine,
        "top-3 mine": [_pct(v) + (" (e)" if e is True else "") for v, e in
                       zip(df.top3_share_mine, df.top_producer_estimated_mine, strict=True)],
        "prod. HHI ref.": df.production_hhi_refinery,
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
    source: Annotated[str, typer.Option(
        "--source", help="Production source family: auto (USGS MCS; for refining, else IEA, "
        "else World Mining Data), usgs-mcs, iea or wmd.")] = "auto",
    fmt: FormatOption = Format.table,
    db: DbOption = None,
    engine: EngineOption = None,
    parquet: ParquetOption = None,
    master: MasterOption = None,
) -> None:
    """Production concentration of a mineral: HHI, top-1/top-3 shares, largest producer."""
    from critmin.metrics.supply import check_family

    check_family(source)

    def run(atlas: Any) -> pd.DataFrame:
        from critmin.reports import views  # (pandas loads while the atlas opens)

        return views.concentration_view(views.concentration(atlas, mineral, family=source),
                                        mineral, stage, year)

    df, ann = run_analytic(run, db, engine, parquet, master)
    notes: list[str] = []
    if fmt is Format.table:
        from critmin.cli.notes import estimate_notes

        notes = estimate_notes(df, "top_estimated", "top1_share")
        df = df.assign(top_producer=[f"{p} (e)" if e is True else p for p, e in
                                     zip(df.top_producer, df.top_estimated, strict=True)])
    emit(df, fmt, title=f"Production concentration: {mineral}", notes=notes, ann=ann)
