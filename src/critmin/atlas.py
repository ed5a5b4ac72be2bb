"""The atlas: one embedded DuckDB database holding critmin's canonical tables, read through Ibis.

Location: ``$CRITMIN_ATLAS`` if set, else ``<user data dir>/critmin/atlas.duckdb`` (platformdirs).
When no atlas exists there, :meth:`Atlas.open` builds one from the starter data the package ships
(:mod:`critmin.starter`), so analyses work on a fresh machine without a download.

Building is atomic: :func:`build` copies the current atlas (if any) to a temporary file next to it,
loads into the copy, and swaps it into place with :func:`os.replace` only when every file loaded;
a crash or a bad file leaves the previous atlas untouched. A file whose SHA-256 is already recorded
under its source id is skipped, so loading the same file twice changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from critmin import reference, schema
from critmin.countries import CountryCodes, country_codes
from critmin.errors import AtlasError, CritminError, InputError
from critmin.sources.base import Context, Parsed, SourceMeta, iter_files, sha256

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir

#: Tables that hold loaded data (cleared per source id when a file is reloaded).
DATA_TABLES = [n for n, t in schema.tables().items() if t.kind == "data"]
#: Reference tables refreshed from the package on every build.
REFERENCE_TABLES = [n for n, t in schema.tables().items() if t.kind == "reference"]


def default_path() -> Path:
    """Where the atlas lives: ``$CRITMIN_ATLAS`` or the user data dir."""
    env = os.environ.get("CRITMIN_ATLAS")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("critmin", appauthor=False)) / "atlas.duckdb"


# --------------------------------------------------------------------------------------------
# reading


class Atlas:
    """A read-only handle on an atlas file, with Ibis tables.

    >>> atlas = Atlas.open()            # doctest: +SKIP
    >>> atlas.table("production").filter(_.mineral == "cobalt")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise AtlasError(f"no atlas at {self.path}: run 'critmin atlas build DIR...'")
        self._con: ibis.BaseBackend | None = None

    @classmethod
    def open(cls, path: str | Path | None = None) -> Atlas:
        """Open the atlas at ``path`` (default :func:`default_path`), building the starter atlas
        first when the default location holds none."""
        if path is None:
            path = default_path()
            if not Path(path).exists():
                from critmin import starter

                starter.install(Path(path))
        return cls(path)

    @property
    def con(self) -> ibis.BaseBackend:
        """The Ibis DuckDB backend (read-only)."""
        if self._con is None:
            import ibis

            try:
                self._con = ibis.duckdb.connect(str(self.path), read_only=True)
                self._con.raw_sql("SET enable_progress_bar = false")
            except duckdb.Error as exc:
                raise AtlasError(f"cannot open atlas {self.path}: {exc}") from None
        return self._con

    def table(self, name: str) -> ir.Table:
        """An Ibis table expression for atlas table ``name``."""
        schema.table(name)  # raises for unknown names
        try:
            return self.con.table(name)
        except Exception as exc:
            raise AtlasError(f"atlas {self.path} has no table {name!r}: rebuild it") from exc

    def sql(self, query: str) -> Any:
        """Run raw SQL on the atlas; returns a pandas DataFrame."""
        return self.con.raw_sql(query).df()

    def close(self) -> None:
        if self._con is not None:
            self._con.disconnect()
            self._con = None

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> dict[str, Any]:
        """Tables with row counts and the provenance of every loaded file."""
        return info(self.path)


def info(path: str | Path) -> dict[str, Any]:
    """``{"atlas": path, "tables": {name: rows}, "sources": [...]}`` for the atlas at ``path``."""
    path = Path(path)
    if not path.exists():
        raise AtlasError(f"no atlas at {path}: run 'critmin atlas build DIR...'")
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        tables = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]
                  for n in schema.tables() if n in present}
        src = con.sql(
            "SELECT * FROM sources ORDER BY family, source_id").to_arrow_table().to_pylist()
        years: dict[str, tuple[int, int]] = {}
        for n in DATA_TABLES:
            if n in present:
                for sid, lo, hi in con.execute(
                    f'SELECT source_id, min(year), max(year) FROM "{n}" GROUP BY 1'
                ).fetchall():
                    years[sid] = (lo, hi)
    finally:
        con.close()
    for s in src:
        s["loaded_at"] = s["loaded_at"].isoformat() if s["loaded_at"] else None
        lo_hi = years.get(s["source_id"])
        s["years"] = list(lo_hi) if lo_hi else None
    return {"atlas": str(path), "tables": tables, "sources": src}


# --------------------------------------------------------------------------------------------
# building


@dataclass
class Loaded:
    """What one file contributed to a build."""

    file: str
    source_id: str
    loader: str
    rows: int
    years: list[int]
    status: str  # loaded | unchanged | replaced


@dataclass
class BuildReport:
    atlas: str
    loaded: list[Loaded] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "atlas": self.atlas,
            "loaded": [vars(x) for x in self.loaded],
            "unrecognised": self.unrecognised,
            "notes": self.notes,
        }


ProgressFn = Callable[[str, int, int], None]
_DONE: Future = Future()


def _to_arrow(name: str, rows: list[dict[str, str]]) -> pa.Table:
    t = schema.table(name)
    required = [c.name for c in t.columns if not c.nullable]
    # rows without a required value (e.g. the EU as a member of a framework, which is not a
    # country) do not belong in the table
    rows = [r for r in rows if all((r.get(c) or "").strip() for c in required)]
    cols: dict[str, list[Any]] = {}
    for c in t.columns:
        vals = [(r.get(c.name) or "").strip() or None for r in rows]
        if c.type in ("DOUBLE",):
            cols[c.name] = [float(v) if v is not None else None for v in vals]
        elif c.type in ("SMALLINT", "INTEGER", "BIGINT"):
            cols[c.name] = [int(v) if v is not None else None for v in vals]
        elif c.type == "DATE":
            cols[c.name] = [_date(v) for v in vals]
        elif c.type == "BOOLEAN":
            cols[c.name] = [None if v is None else v.lower() in ("true", "1", "yes") for v in vals]
        else:
            cols[c.name] = vals
    return pa.table(cols, schema=t.arrow_schema)


def _date(v: str | None) -> dt.date | None:
    if v is None:
        return None
    parts = v.split("-")
    y = int(parts[0])
    m = int(parts[1]) if len(parts) > 1 else 1
    d = int(parts[2]) if len(parts) > 2 else 1
    return dt.date(y, m, d)


def reference_tables(codes: CountryCodes) -> dict[str, pa.Table]:
    """The reference tables built from the package's curated data."""
    out: dict[str, pa.Table] = {"countries": codes.to_arrow()}
    for name in REFERENCE_TABLES:
        if name == "countries":
            continue
        rows = reference.rows(name)
        if rows is not None:
            out[name] = _to_arrow(name, rows)
    return out


def _create_schema(con: duckdb.DuckDBPyConnection) -> None:
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    for name in schema.tables():
        if name not in present:
            con.execute(schema.ddl(name))


def _insert(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> None:
    cols = schema.table(name).column_names
    if "_line" in data.column_names:
        data = data.drop_columns(["_line"])
    con.register("_incoming", data)
    try:
        quoted = ", ".join(f'"{c}"' for c in cols)
        con.execute(f'INSERT INTO "{name}" ({quoted}) SELECT {quoted} FROM _incoming')
    finally:
        con.unregister("_incoming")


def _source_row(meta: SourceMeta, file: Path, digest: str, rows: int) -> pa.Table:
    return pa.table({
        "source_id": [meta.source_id], "family": [meta.family], "release": [meta.release],
        "publisher": [meta.publisher], "title": [meta.title], "file": [file.name],
        "sha256": [digest], "licence": [meta.licence], "url": [meta.url],
        "loaded_at": pa.array([dt.datetime.now(dt.UTC).replace(tzinfo=None)], pa.timestamp("us")),
        "rows": pa.array([rows], pa.int64()),
    })


def load_parsed(con: duckdb.DuckDBPyConnection, parsed: Parsed, file: Path, digest: str,
                ctx: Context, *, replace: bool = True) -> int:
    """Validate ``parsed`` and load it into ``con``, replacing rows of the same source id."""
    validated: dict[str, pa.Table] = {}
    for name, data in parsed.tables.items():
        validated[name] = schema.validate(
            name, data, file=str(file), iso3=ctx.codes.iso3,
            minerals=ctx.minerals if "mineral" in schema.table(name).column_names else None,
        )
    sid = parsed.meta.source_id
    if replace:  # rows of an earlier version of this source go
        for name in DATA_TABLES:
            con.execute(f'DELETE FROM "{name}" WHERE source_id = ?', [sid])
        con.execute("DELETE FROM sources WHERE source_id = ?", [sid])
    rows = 0
    for name, data in validated.items():
        _insert(con, name, data)
        rows += data.num_rows
    _insert(con, "sources", _source_row(parsed.meta, file, digest, rows))
    return rows


def context(codes: CountryCodes | None = None) -> Context:
    codes = codes or country_codes()
    return Context(codes=codes, minerals=frozenset(reference.minerals()))


def build(
    dirs: Iterable[str | Path],
    db: str | Path | None = None,
    *,
    fresh: bool = False,
    progress: ProgressFn | None = None,
    _after_file: Callable[[Path], None] | None = None,
) -> BuildReport:
    """Load every recognised file below ``dirs`` into the atlas at ``db``, atomically.

    ``fresh`` starts from an empty atlas instead of the current one. ``progress(label, done,
    total)`` is called per file. ``_after_file`` is a test hook called after each file loads.
    """
    from critmin.sources import detect

    db = Path(db) if db is not None else default_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    files = list(iter_files([Path(d) for d in dirs]))
    report = BuildReport(atlas=str(db))
    plan = []
    for f in files:
        mod = detect(f)
        if mod is None and _is_code_table(f):
            report.notes.append(f"{f.name}: code table, used to translate codes")
        elif mod is None:
            report.unrecognised.append(str(f))
        else:
            plan.append((f, mod))

    _remove_stale_builds(db)
    codes = country_codes()
    ctx = context(codes)
    # one transaction for the whole build: the temporary file is the unit of atomicity
    with atomic_update(db, tag="building", copy=not fresh) as con:
        _load_baci_country_files(codes, [f for f, m in plan if m.__name__.endswith(".baci")])
        with ThreadPoolExecutor(max_workers=2) as pool:
            for i, (f, mod, digest, job) in enumerate(_parse_ahead(pool, plan, ctx, report)):
                if progress:
                    progress(f.name, i, len(plan))
                sid = _peek_source_id(mod, f)
                if sid is None:  # the loader can only tell its source id by parsing
                    sid = job.result().meta.source_id
                old = con.execute("SELECT sha256 FROM sources WHERE source_id = ?",
                                  [sid]).fetchall()
                if old and old[0][0] == digest:
                    job.cancel()
                    report.loaded.append(Loaded(str(f), sid, mod.NAME, 0, [], "unchanged"))
                    continue
                parsed = job.result()
                existed = bool(old)
                rows = load_parsed(con, parsed, f, digest, ctx, replace=existed)
                report.notes.extend(f"{f.name}: {n}" for n in parsed.notes)
                report.loaded.append(Loaded(str(f), parsed.meta.source_id, mod.NAME, rows,
                                            parsed.years(), "replaced" if existed else "loaded"))
                if _after_file:
                    _after_file(f)
        if progress:
            progress("reference tables", len(plan), len(plan))
        _refresh_reference(con, codes)
    return report


@contextlib.contextmanager
def atomic_update(path: Path, *, tag: str, copy: bool = True
                  ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a temporary copy of the atlas at ``path`` (an empty atlas when ``copy`` is
    false or none exists yet), with the schema created, inside one transaction.

    On a clean exit the transaction is committed, the file checkpointed and swapped into place
    with :func:`os.replace`; on any exception (or a kill) ``path`` is untouched and the temporary
    file ``.<name>.<tag>-<pid>`` is removed (a killed process's file is removed by the next
    build, see :func:`_remove_stale_builds`).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{tag}-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        if copy and path.exists():
            shutil.copy2(path, tmp)
        con = duckdb.connect(str(tmp))
        try:
            con.execute("BEGIN TRANSACTION")
            _create_schema(con)
            yield con
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _parse_ahead(pool: ThreadPoolExecutor, plan: list[tuple[Path, Any]], ctx: Context,
                 report: BuildReport, lookahead: int = 2) -> Iterator[tuple[Path, Any, str, Future]]:
    """Yield (file, loader, sha256, future parse result) in order, parsing up to ``lookahead``
    files ahead on a thread pool (DuckDB and Arrow release the GIL, so parsing the next file
    overlaps with loading the current one). Files with the same content as an earlier one are
    skipped with a note. Parses of files found unchanged are cancelled or discarded."""
    seen: dict[str, str] = {}
    todo: list[tuple[Path, Any, str]] = []
    for f, mod in plan:
        digest = sha256(f)
        if digest in seen:
            report.notes.append(f"{f}: same content as {seen[digest]}, skipped")
            continue
        seen[digest] = str(f)
        todo.append((f, mod, digest))
    jobs: list[Future] = []
    for i, (f, mod, digest) in enumerate(todo):
        while len(jobs) <= min(i + lookahead, len(todo) - 1):
            g, gmod, _d = todo[len(jobs)]
            jobs.append(pool.submit(gmod.parse, g, ctx))
        yield f, mod, digest, jobs[i]
        jobs[i] = _DONE


def _remove_stale_builds(db: Path) -> None:
    """Delete temporary files left by builds that were killed (their process is gone)."""
    for stale in db.parent.glob(f".{db.name}.building-*"):
        pid = stale.name.rsplit("-", 1)[-1].split(".")[0]
        alive = False
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                alive = int(pid) != os.getpid()
            except OSError:
                alive = False
        if not alive:
            stale.unlink(missing_ok=True)


def _is_code_table(f: Path) -> bool:
    import re

    return bool(re.match(r"(country|product)_codes_.*\.csv$", f.name, re.IGNORECASE))


def _peek_source_id(mod: Any, f: Path) -> str | None:
    meta_for = getattr(mod, "meta_for", None)
    return meta_for(f).source_id if meta_for else None


def _load_baci_country_files(codes: CountryCodes, baci_files: list[Path]) -> None:
    """Add the country tables of the BACI releases being loaded (they may be newer than the one
    critmin ships)."""
    from critmin.sources import baci

    for d in sorted({f.parent for f in baci_files}):
        cfile = baci.country_file_beside(d / "x")
        if cfile is not None:
            codes.load_baci_table(list(baci._read_country_file(cfile)))


def _refresh_reference(con: duckdb.DuckDBPyConnection, codes: CountryCodes) -> None:
    for name, data in reference_tables(codes).items():
        con.execute(f'DELETE FROM "{name}"')
        _insert(con, name, data)


def create_empty(db: str | Path) -> None:
    """Create an atlas with the schema and reference tables but no data (atomically)."""
    build([], db, fresh=True)


__all__ = ["Atlas", "BuildReport", "CritminError", "InputError", "build", "default_path", "info"]
