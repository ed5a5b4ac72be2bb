"""``critmin scenario run|n-minus-1|montecarlo|restrictions``: disruption scenarios."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from critmin.cli import Format, app, duckdb_atlas, emit, run_analytic
from critmin.cli.options import (
    DbOption,
    EngineOption,
    FormatOption,
    MasterOption,
    ParquetOption,
    TableOrJson,
    TableOrJsonOption,
)
from critmin.output import records

if TYPE_CHECKING:
    import pandas as pd

scenario_app = typer.Typer(help="Disruption scenarios: export bans, N-1, re-routing, stockpiles.",
                           no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


class ProductionStage(str, Enum):
    mine = "mine"
    refinery = "refinery"


@scenario_app.command("run")
def run_cmd(
    spec: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
    fmt: TableOrJsonOption = TableOrJson.table,
    db: DbOption = None,
) -> None:
    """Run the scenario in SPEC: direct losses, re-routing, shortfalls and stockpile cover."""
    from critmin.scenarios import load_spec, run

    s = load_spec(spec)  # fails on a bad spec before the atlas is opened
    with duckdb_atlas(db, "scenario run") as atlas:
        res = run(s, atlas)
    if fmt is TableOrJson.json:
        out = {"scenario": s.name, "base_year": s.base_year, "notes": res.notes,
               **{name: records(getattr(res, name)) for name in
                  ("shocks", "summary", "importers", "supply_mix", "exposure")}}
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    from critmin.cli.notes import coverage_notes

    summary, notes = res.summary, []
    if len(summary):
        notes = coverage_notes([f"{m} {st}" for m, st in zip(summary.mineral, summary.stage,
                                                             strict=True)],
                               summary.hs_codes, summary.hs_codes_missing,
                               f"world trade rows with quantities in {s.base_year}")
    emit(summary.drop(columns=["hs_codes", "hs_codes_missing"], errors="ignore"), Format.table,
         title=f"{s.name} — base year {s.base_year} (t/yr of product)", notes=notes)
    cols = ["mineral", "stage", "importer", "loss_t", "rerouted_t", "shortfall_t",
            "shortfall_share", "stockpile_t", "days_covered", "residual_shortfall_t"]
    emit(res.importers[cols].head(30), Format.table,
         title="Importers by shortfall after re-routing (top 30)")
    for note in res.notes:
        typer.echo(f"note: {note}", err=True)


@scenario_app.command("n-minus-1")
def n_minus_1_cmd(
    mineral: Annotated[str | None, typer.Option("--mineral", help="Mineral id (default: all).")]
    = None,
    stage: Annotated[ProductionStage | None, typer.Option("--stage", help="mine or refinery.")]
    = None,
    year: Annotated[int | None, typer.Option(help="Year (default: each one's latest).")] = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
    engine: EngineOption = None,
    parquet: ParquetOption = None,
    master: MasterOption = None,
) -> None:
    """N-1 test: the largest producer, its share, and how far the rest covers world demand."""

    def run(atlas: Any) -> pd.DataFrame:
        from critmin.scenarios.nminus1 import n_minus_1  # (pandas loads while the atlas opens)

        return n_minus_1(atlas, mineral=mineral,
                         stage=stage.value if stage else None, year=year)

    df, ann = run_analytic(run, db, engine, parquet, master)
    notes: list[str] = []
    if fmt is Format.table:
        import pandas as pd

        from critmin.cli.notes import coverage_notes, estimate_notes, flag_notes

        notes = [*flag_notes(df, "coverage_flag", "coverage"),
                 *estimate_notes(df, "top_estimated", "top_share"),
                 *coverage_notes([f"{m} {s}" + (f" (trade {int(y)})" if pd.notna(y) else "")
                                 for m, s, y in zip(df.mineral, df.stage, df.trade_year,
                                                    strict=True)],
                                 df.hs_codes, df.hs_codes_missing, "world trade rows")]
        df = df.assign(top_producer=[f"{p} (e)" if e else p for p, e in
                                     zip(df.top_producer, df.top_estimated, strict=True)],
                       coverage=[_flagged(v, f) for v, f in zip(df.coverage, df.coverage_flag,
                                                                strict=True)])
        df = df[["mineral", "stage", "year", "basis", "world_production_t", "top_producer",
                 "top_share", "top_demand_t", "coverage", "content_flag"]]
    emit(df, fmt, title="N-1: largest producer removed (coverage = rest-of-world supply / "
                        "rest-of-world demand)", notes=notes, ann=ann)


def _flagged(value: object, flag: object) -> object:
    """A number with a footnote mark when it carries a flag (a ratio above 1)."""
    from critmin.output import number

    return f"{number(value)} ({flag})" if isinstance(flag, str) else value


@scenario_app.command("montecarlo")
def montecarlo_cmd(
    importer: Annotated[str | None, typer.Option("--importer", help="ISO3 (default: all).")]
    = None,
    runs: Annotated[int, typer.Option("--runs", help="Number of draws.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    year: Annotated[int | None, typer.Option(help="Base year (default: latest trade).")] = None,
    mineral: Annotated[list[str] | None, typer.Option("--mineral", help="Mineral id(s).")]
    = None,
    stage: Annotated[ProductionStage | None, typer.Option(
        "--stage", help="mine (ores, against mine production) or refinery (processed goods, "
        "against refinery production); default: all traded forms against mine production.")]
    = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
) -> None:
    """Random export restrictions for every exporter x mineral: shortfall distributions."""
    from critmin import reference
    from critmin.scenarios.montecarlo import montecarlo

    if importer is not None:
        importer = reference.resolve_country(importer)
    mineral = [reference.require_mineral(m) for m in mineral or ()]
    with duckdb_atlas(db, "scenario montecarlo") as atlas:
        chain = {"mine": "mine", "refinery": "refined"}[stage.value] if stage else "all"
        df = montecarlo(atlas, year=year, runs=runs, seed=seed, importer=importer,
                        minerals=mineral or None, stage=chain)
    emit(df, fmt, title=f"Monte Carlo, {runs:,} runs, seed {seed}: shortfall share of supply")


@scenario_app.command("restrictions")
def restrictions_cmd(fmt: FormatOption = Format.table) -> None:
    """List the registry of recorded export restrictions (ids usable in scenario shocks)."""
    from critmin.scenarios.restrictions import COLUMNS, registry

    df = registry()
    emit(df[COLUMNS[:-2]] if fmt is Format.table else df, fmt,
         title="Recorded export restrictions")
