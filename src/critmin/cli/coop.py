"""``critmin coop``: the cooperation registry and what it changes (thin: one library call each)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from critmin.cli import Format, app, duckdb_atlas, emit
from critmin.cli.options import DbOption, FormatOption

coop_app = typer.Typer(help="Cooperation: frameworks, agreements, projects, bloc shares, "
                       "partner coverage and what-if.", no_args_is_help=True)
app.add_typer(coop_app, name="coop")



class Table(str, Enum):
    frameworks = "frameworks"
    agreements = "agreements"
    projects = "projects"
    memberships = "memberships"
    groups = "groups"


class EditableTable(str, Enum):
    frameworks = "frameworks"
    agreements = "agreements"
    projects = "projects"
    memberships = "memberships"


@coop_app.command("list")
def list_cmd(
    table: Annotated[Table, typer.Argument(help="frameworks, agreements, projects, memberships "
                                                "or groups")],
    country: Annotated[str | None, typer.Option(help="ISO3 code: records involving it.")] = None,
    mineral: Annotated[str | None, typer.Option(help="Mineral id (projects, agreements).")] = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
) -> None:
    """Registry records, filtered by country and mineral."""
    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry

    with Atlas.open(db) as atlas:
        df = Registry.from_atlas(atlas).list(table.value, country=country, mineral=mineral)
    if fmt is Format.table:
        long_text = ("description", "scope", "source_note", "site", "source_url", "url", "basis",
                     "confidence", "sponsors", "party_groups", "date_precision")
        df = df.drop(columns=[c for c in long_text if c in df.columns])
    emit(df, fmt, title=f"Cooperation registry: {table.value}")


@coop_app.command("blocs")
def blocs_cmd(
    mineral: Annotated[str, typer.Option("--mineral", help="Mineral id, e.g. cobalt.")],
    stage: Annotated[str | None, typer.Option(help="mine, refinery, smelter or capacity.")] = None,
    year: Annotated[int | None, typer.Option(help="Year (default: latest with data).")] = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
) -> None:
    """Each group's share of world production and exports, and its combined import reliance."""
    from critmin.cooperation.analytics import blocs

    with duckdb_atlas(db, "coop blocs") as atlas:
        df = blocs(mineral, stage=stage, year=year, atlas=atlas)
    notes: list[str] = []
    if fmt is Format.table and len(df):
        from critmin.cli.notes import coverage_notes

        first = df.iloc[0]
        notes = coverage_notes([f"{first.mineral} (trade {first.trade_year})"],
                               [first.hs_codes], [first.hs_codes_missing], "world trade rows")
        df = df.drop(columns=["hs_codes", "hs_codes_missing"])
    emit(df, fmt, title=f"Blocs: {mineral} (production in {df.unit.iloc[0] if len(df) else 't'}, "
                        "exports in thousand USD)", notes=notes)


@coop_app.command("coverage")
def coverage_cmd(
    country: Annotated[str, typer.Argument(help="Importing country: ISO3 code, ISO2 or name.")],
    group: Annotated[str, typer.Option("--group", help="Group id, e.g. QUAD, MSP, IPEF.")],
    mineral: Annotated[str | None, typer.Option(help="Mineral id (default: all).")] = None,
    year: Annotated[int | None, typer.Option(help="Year (default: latest with trade).")] = None,
    spare: Annotated[float, typer.Option("--spare-capacity",
                                         help="Partners' spare capacity, fraction of their "
                                         "production.")] = 0.10,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
) -> None:
    """How much of COUNTRY's imports from outside GROUP its partners in GROUP could supply."""
    from critmin.cooperation.analytics import coverage

    with duckdb_atlas(db, "coop coverage") as atlas:
        df = coverage(country, group, mineral=mineral, year=year, spare_capacity=spare, atlas=atlas)
    from critmin.cli.notes import coverage_notes, flag_notes
    from critmin.cooperation.analytics import COVERAGE_CODE_COLUMNS

    notes: list[str] = []
    if fmt is Format.table:
        g = df.group_id.iloc[0] if len(df) else group
        labels, have, miss = [], [], []
        for r in df.itertuples():
            labels += [f"{r.mineral}, imports from outside {g}",
                       f"{r.mineral}, partners' exports outside {g}"]
            have += [r.hs_codes, r.partner_hs_codes]
            miss += [r.hs_codes_missing, r.partner_hs_codes_missing]
        notes = [*flag_notes(df, "flag", "coverage_ratio"),
                 *flag_notes(df, "coverage_value_flag", "coverage_value_ratio"),
                 *coverage_notes(labels, have, miss, "trade rows")]
        if len(df):
            notes.append("(partners' exports: --format json partner_hs_codes, "
                         "partner_hs_codes_missing)")
        df = df.drop(columns=COVERAGE_CODE_COLUMNS)
    emit(df, fmt, title=f"Partner coverage: {country} in {group} (tonnes contained; kUSD)",
         notes=notes)


@coop_app.command("whatif")
def whatif_cmd(
    project: Annotated[list[str], typer.Option("--project", help="Project id (repeatable).")],
    year: Annotated[int | None, typer.Option(help="Production year (default: latest).")] = None,
    fmt: FormatOption = Format.table,
    db: DbOption = None,
) -> None:
    """Production HHI, top-1 share, N-1 coverage and group shares before/after the projects."""
    from critmin.cooperation.analytics import whatif

    with duckdb_atlas(db, "coop whatif") as atlas:
        df = whatif(project, year=year, atlas=atlas)
    notes: list[str] = []
    if fmt is Format.table and len(df):
        from critmin.cli.notes import coverage_notes

        first = df.drop_duplicates(["mineral", "stage"])
        notes = coverage_notes([f"{r.mineral} {r.stage} (trade {r.year}, N-1 coverage)"
                                for r in first.itertuples()],
                               first.hs_codes, first.hs_codes_missing, "world trade rows")
        df = df.drop(columns=["hs_codes", "hs_codes_missing"])
    emit(df, fmt, title="What if the projects' capacity came online", notes=notes)


@coop_app.command("add")
def add_cmd(
    table: Annotated[EditableTable, typer.Argument(help="projects, agreements, frameworks or "
                                                        "memberships")],
    file: Annotated[Path, typer.Argument(help="A .json (object or list) or .csv file of records.")],
    db: DbOption = None,
) -> None:
    """Validate the records in FILE and add them to the registry in the atlas."""
    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry, read_records

    atlas = Atlas.open(db)
    reg = Registry.from_atlas(atlas)
    added = [reg.add(table.value, row).record_id() for row in read_records(file)]
    reg.save_atlas(atlas.path)
    typer.echo(f"added {len(added)} {table.value} record(s) to {atlas.path}: {', '.join(added)}")
    _watch(atlas.path)


IfVersion = Annotated[str | None, typer.Option(
    "--if-version", help="Change the record only if it is still at this version (as 'critmin "
    "coop show' prints it, the ETag of the HTTP API); a record changed since is refused.")]


@coop_app.command("show")
def show_cmd(
    table: Annotated[Table, typer.Argument(help="frameworks, agreements, projects, memberships "
                                                "or groups")],
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    fmt: FormatOption = Format.json,
    db: DbOption = None,
) -> None:
    """One registry record and its version (to pass to --if-version of edit and remove)."""
    import pandas as pd

    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry

    with Atlas.open(db) as atlas:
        reg = Registry.from_atlas(atlas)
    row = {**reg.get(table.value, record_id).row(), "version": reg.version(table.value, record_id)}
    emit(pd.DataFrame([row]), fmt, title=f"Cooperation registry: {table.value} {record_id}")


@coop_app.command("edit")
def edit_cmd(
    table: Annotated[EditableTable, typer.Argument(help="projects, agreements, frameworks or "
                                                        "memberships")],
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    changes: Annotated[list[str], typer.Option(
        "--set", help="FIELD=VALUE (repeatable; lists ';'-separated, empty VALUE clears).")],
    if_version: IfVersion = None,
    db: DbOption = None,
) -> None:
    """Change fields of one record in the registry in the atlas (validated as a whole)."""
    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry

    fields: dict[str, str | None] = {}
    for c in changes:
        key, eq, value = c.partition("=")
        if not eq or not key.strip():
            raise typer.BadParameter(f"expected FIELD=VALUE, got {c!r}", param_hint="--set")
        fields[key.strip()] = value if value != "" else None
    atlas = Atlas.open(db)
    reg = Registry.from_atlas(atlas)
    reg.edit(table.value, record_id, fields, version=if_version)
    reg.save_atlas(atlas.path)
    typer.echo(f"edited {table.value} record {record_id} in {atlas.path} (version "
               f"{reg.version(table.value, record_id)})")
    _watch(atlas.path)


@coop_app.command("remove")
def remove_cmd(
    table: Annotated[EditableTable, typer.Argument(help="projects, agreements or frameworks")],
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    if_version: IfVersion = None,
    db: DbOption = None,
) -> None:
    """Remove one record from the registry in the atlas."""
    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry

    atlas = Atlas.open(db)
    reg = Registry.from_atlas(atlas)
    reg.remove(table.value, record_id, version=if_version)
    reg.save_atlas(atlas.path)
    typer.echo(f"removed {table.value} record {record_id} from {atlas.path}")
    _watch(atlas.path)


@coop_app.command("restore")
def restore_cmd(
    folder: Annotated[Path, typer.Argument(help="A registry CSV folder (as saved by 'critmin "
                                                "atlas build' or Registry.save_csv).")],
    db: DbOption = None,
) -> None:
    """Replace the registry in the atlas with the records of FOLDER (validated first)."""
    from critmin.atlas import Atlas
    from critmin.cooperation.registry import Registry
    from critmin.errors import InputError

    target = Atlas.open(db).path  # a missing or broken atlas is reported first
    reg = Registry.from_folder(folder)
    problems = reg.cross_problems()
    if problems:
        raise InputError(folder, problems[0])
    path = reg.save_atlas(target)
    typer.echo(f"registry of {path} replaced with the records in {folder}")
    _watch(path)


def _watch(atlas_path: Path) -> None:
    """Evaluate the event watch rules after a registry change (see ``critmin watch``)."""
    from critmin.cli.watch import evaluate_after

    for note in evaluate_after("registry", atlas_path, events_only=True):
        typer.echo(f"note: {note}", err=True)
