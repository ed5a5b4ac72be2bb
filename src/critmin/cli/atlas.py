"""``critmin atlas build|info|path|download``: build and inspect the atlas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from critmin.cli import app
from critmin.cli.options import DbOption, TableOrJson, TableOrJsonOption

atlas_app = typer.Typer(help="Build and inspect the atlas (the embedded DuckDB database).",
                        no_args_is_help=True)
app.add_typer(atlas_app, name="atlas")



@atlas_app.command("build")
def build_cmd(
    dirs: Annotated[list[Path], typer.Argument(help="Folders (or files) holding source files.")],
    db: DbOption = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start from an empty atlas.")] = False,
    allow_shrink: Annotated[bool, typer.Option(
        "--allow-shrink", help="Load a file even when it has no rows or far fewer rows than what "
        "it replaces: the earlier version of its source, or the earlier release of its family "
        "for the years it covers (refused by default).")] = False,
    silent: Annotated[bool, typer.Option("--silent", help="No progress bar.")] = False,
    fmt: TableOrJsonOption = TableOrJson.table,
    watch: Annotated[bool, typer.Option(
        "--watch/--no-watch", help="After a build that loaded data: save what changed (the "
        "web's what's-new page) and evaluate the watch rules.")] = True,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Operational database holding the watch rules (default: "
        "$CRITMIN_DATABASE_URL or a SQLite file in the user data dir).")] = None,
) -> None:
    """Recognise the source files in DIRS (by name and header) and load them into the atlas."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from critmin import atlas
    from critmin.watch import diff

    err = Console(stderr=True)
    target = Path(db) if db is not None else atlas.default_path()
    if target.exists():
        atlas.check_file(target)
    kept = _save_registry_edits(target)
    try:
        with diff.snapshot(target) as before:
            if silent or fmt == "json":
                report = atlas.build(dirs, db, fresh=fresh, allow_shrink=allow_shrink)
            else:
                with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                              TextColumn("{task.completed}/{task.total} files"),
                              TimeElapsedColumn(), console=err, transient=True) as bar:
                    task = bar.add_task("loading", total=None)

                    def progress(label: str, done: int, total: int) -> None:
                        bar.update(task, description=label, completed=done, total=total)

                    report = atlas.build(dirs, db, fresh=fresh, allow_shrink=allow_shrink,
                                         progress=progress)
            if watch and any(x.status != "unchanged" for x in report.loaded):
                report.notes.extend(_after_build(before, Path(report.atlas), database_url))
    except BaseException:
        if kept is not None:  # the atlas is untouched, so its registry needs no copy
            shutil.rmtree(kept[0], ignore_errors=True)
        raise
    if kept is not None:
        report.registry_backup = str(kept[0])
        report.notes.append(
            f"the atlas held registry records that differ from critmin's curated registry "
            f"({kept[1]}); the rebuilt atlas has the curated one, and the old registry is saved "
            f"in {kept[0]}: put it back with 'critmin coop restore {kept[0]}'"
        )
        report.notes += [f"removed old registry backup {d} (the last {KEEP_BACKUPS} are kept)"
                         for d in _cap_backups(target)]
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    table = Table(title=f"Loaded into {report.atlas}")
    for col in ("source", "loader", "rows", "years", "status", "file"):
        table.add_column(col, overflow="fold")
    for x in report.loaded:
        years = f"{x.years[0]}–{x.years[-1]}" if x.years else ""
        table.add_row(x.source_id, x.loader, f"{x.rows:,}", years, x.status, Path(x.file).name)
    console = Console()
    console.print(table)
    total = sum(x.rows for x in report.loaded)
    console.print(f"{len(report.loaded)} files, {total:,} rows loaded"
                  + ("" if report.changed else "; nothing new: the atlas file is untouched"))
    for note in report.notes:
        console.print(f"note: {note}")
    for f in report.unrecognised:
        console.print(f"[yellow]not recognised, skipped:[/] {f}")


def _after_build(before: Path | None, after: Path, database_url: str | None) -> list[str]:
    """Save the diff for the what's-new page, then evaluate the watch rules and send the
    alerts; returns notes for the build report (a failure here never undoes the build)."""
    from critmin.watch import diff

    notes = []
    try:
        out = diff.save_whats_new(before, after)
        if out is not None:
            notes.append(f"what changed since the previous build: {out}")
    except Exception as exc:  # the build itself succeeded; say what was not done
        notes.append(f"what's-new diff not saved: {type(exc).__name__}: {exc}")
    from critmin.cli.watch import evaluate_after

    return notes + evaluate_after("atlas-build", after, database_url)


@atlas_app.command("diff")
def diff_cmd(
    old: Annotated[str, typer.Argument(help="Old atlas file, or a release label.")],
    new: Annotated[str, typer.Argument(help="New atlas file, or a release label.")],
    db: DbOption = None,
    top: Annotated[int, typer.Option("--top", min=1, max=1000,
                                     help="How many moved indicators to list.")] = 20,
    fmt: TableOrJsonOption = TableOrJson.table,
) -> None:
    """What changed between two atlas files, or two releases in one atlas (--db): rows added,
    removed and changed per source family, and the indicators that moved most."""
    from rich.console import Console
    from rich.table import Table

    from critmin.watch.diff import diff

    d = diff(old, new, atlas=db, top=top)
    if fmt == "json":
        typer.echo(json.dumps(d, indent=2, default=str))
        return
    console = Console()
    t = Table(title=f"Rows: {d['old']} -> {d['new']}")
    for col in ("table", "family", "added", "removed", "changed"):
        t.add_column(col, justify="right" if col in ("added", "removed", "changed") else "left")
    for x in d["tables"]:
        t.add_row(x["table"], x["family"], f"{x['added']:,}", f"{x['removed']:,}",
                  f"{x['changed']:,}")
    console.print(t)
    m = Table(title="Indicators that moved most")
    for col in ("country", "mineral", "indicator", "old", "new", "change"):
        m.add_column(col)
    for x in d["moved"]:
        m.add_row(x["country"] or "(world)", x["mineral"], x["indicator"],
                  f"{x['value_old']:.4f} ({x['year_old']})",
                  f"{x['value_new']:.4f} ({x['year_new']})", f"{x['change']:+.4f}")
    console.print(m)


@atlas_app.command("info")
def info_cmd(
    db: DbOption = None,
    fmt: TableOrJsonOption = TableOrJson.table,
) -> None:
    """List the atlas tables, their row counts and the provenance of every loaded file."""
    from rich.console import Console
    from rich.table import Table

    from critmin.atlas import Atlas
    from critmin.metrics.trade import revision_precedence

    with Atlas.open(db) as a:
        info = a.info()
        if info["tables"].get("trade_flows"):
            df = revision_precedence(a.table("trade_flows")).to_pandas()
            info["trade_precedence"] = [
                {"source_id": r.source_id, "hs_revision": r.hs_revision,
                 "years": [int(r.first_year), int(r.last_year)],
                 "codes_served": int(r.codes_served),
                 "codes_superseded": sorted(r.codes_superseded if r.codes_superseded is not None else [])}
                for r in df.itertuples()]
    if fmt == "json":
        typer.echo(json.dumps(info, indent=2, default=str))
        return
    console = Console()
    t = Table(title=f"Atlas {info['atlas']}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in info["tables"].items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    s = Table(title="Sources")
    for col in ("source_id", "publisher", "file", "rows", "years", "licence", "sha256"):
        s.add_column(col, overflow="fold")
    for x in info["sources"]:
        years = "–".join(map(str, x["years"])) if x["years"] else ""
        s.add_row(x["source_id"], x["publisher"], x["file"], f"{x['rows']:,}", years,
                  x["licence"], x["sha256"][:12])
    console.print(s)
    if info.get("trade_precedence"):
        p = Table(title="Trade: which source serves which years and HS codes (a later HS "
                        "revision wins where two carry the same year and code)")
        for col in ("source_id", "revision", "years", "codes served", "codes superseded"):
            p.add_column(col, overflow="fold")
        for x in info["trade_precedence"]:
            p.add_row(x["source_id"], x["hs_revision"], "–".join(map(str, x["years"])),
                      str(x["codes_served"]), ", ".join(x["codes_superseded"]) or "none")
        console.print(p)


@atlas_app.command("starter")
def starter_cmd(
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing atlas.")] = False,
) -> None:
    """Install the bundled starter atlas (a compact aggregate of the public sources)."""
    from critmin import starter
    from critmin.atlas import default_path
    from critmin.errors import AtlasError

    path = Path(db) if db is not None else default_path()
    if path.exists() and not force:
        raise AtlasError(f"{path} already exists: use --force to replace it with the starter atlas")
    typer.echo(str(starter.install(path, quiet=True)))


@atlas_app.command("path")
def path_cmd() -> None:
    """Print where the atlas lives by default."""
    from critmin.atlas import default_path

    typer.echo(str(default_path()))


@atlas_app.command("download")
def download_cmd(
    source: Annotated[str | None, typer.Argument(help="Catalogue name (see --list) or a URL.")] = None,
    dest: Annotated[Path, typer.Option("--dest", help="Folder to save into.")] = Path("."),
    sha256: Annotated[str | None, typer.Option(help="Expected SHA-256 (hex).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the known publishers' releases.")] = False,
) -> None:
    """Download a publisher's release (verifying its SHA-256) into DEST."""
    from critmin.sources.download import CATALOGUE, download

    if list_ or source is None:
        for r in CATALOGUE.values():
            typer.echo(f"{r.name:14} {r.publisher:40} {r.url}")
        return
    path, digest = download(source, dest, sha256=sha256)
    typer.echo(f"saved {path} (sha256 {digest})")


#: How many registry backup folders a build keeps beside the atlas (older ones are removed).
KEEP_BACKUPS = 5


def _cap_backups(path: Path) -> list[Path]:
    """Remove all but the newest :data:`KEEP_BACKUPS` registry backups of the atlas at ``path``;
    the removed folders (their names sort by time)."""
    backups = sorted(p for p in path.parent.glob(f"{path.stem}.registry-*") if p.is_dir())
    old = backups[:-KEEP_BACKUPS] if len(backups) > KEEP_BACKUPS else []
    for d in old:
        shutil.rmtree(d, ignore_errors=True)
    return old


def _save_registry_edits(path: Path) -> tuple[Path, str] | None:
    """Save the registry of the atlas at ``path`` into a CSV folder beside it when it differs
    from the curated registry (records added, edited or removed with ``critmin coop``), since a
    build replaces the registry tables: ``(folder, summary)``, or None when there is nothing to
    keep. Nothing is lost: the folder is written (atomically, file by file) before the build.
    """
    import datetime as dt

    from critmin.cooperation.registry import TABLES, Registry
    from critmin.errors import CritminError

    if not path.exists():
        return None
    try:
        old = Registry.from_atlas(path)
    except (CritminError, OSError, ValueError):
        return None  # not an atlas with a registry yet: nothing to keep
    curated = Registry.from_package()
    changes = []
    for t, name in TABLES.items():
        mine, theirs = _as_stored(old, t, name), _as_stored(curated, t, name)
        added = len(mine.keys() - theirs.keys())
        removed = len(theirs.keys() - mine.keys())
        edited = sum(1 for k in mine.keys() & theirs.keys() if mine[k] != theirs[k])
        if added or removed or edited:
            changes.append(f"{t}: {added} added, {edited} edited, {removed} removed")
    if not changes:
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = path.with_name(f"{path.stem}.registry-{stamp}")
    old.save_csv(folder)
    return folder, "; ".join(changes)


def _as_stored(reg: Any, table: str, name: str) -> dict[str, dict[str, Any]]:
    """Records of ``table`` as atlas table ``name`` keeps them (by record id): its columns only,
    and, as the build does, no row that lacks a required value (the EU as a framework member)."""
    from critmin import schema

    spec = schema.table(name)
    cols = set(spec.column_names)
    required = [c.name for c in spec.columns if not c.nullable]
    out = {}
    for r in reg.records[table]:
        row = r.row()
        if all(row.get(c) not in (None, "") for c in required):
            out[r.record_id()] = {k: v for k, v in row.items() if k in cols}
    return out
