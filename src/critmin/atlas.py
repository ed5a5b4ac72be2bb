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
import csv
import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from critmin import schema
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


# --------------------------------------------------------------------------------------------
# one release per source family

#: What one file of a data table covers besides the year: a later release of the same family
#: replaces an earlier one for each (year, part) it covers. Production and reserves: the mineral
#: (MCS 2022 covers 12 minerals, MCS 2024 all of them); trade: the HS nomenclature (HS92 and HS17
#: files are different products; :func:`critmin.metrics.trade.mineral_trade` picks one
#: nomenclature per mineral so that they never add up); governance: the WGI indicator (the 2025
#: release carries only ``pv``).
RELEASE_PART: dict[str, str] = {"production": "mineral", "reserves": "mineral",
                                "trade_flows": "hs_revision", "governance": "indicator",
                                "reported_reliance": "mineral"}
#: Name under which the atlas file is attached to a reading connection.
_FILE_DB = "atlas_file"


def release_rule_sql(pins: Sequence[str] = (), tables: Iterable[str] | None = None) -> str:
    """SQL selecting ``(tbl, source_id, year, part)``: the one source that counts for each data
    table, family, year and part (:data:`RELEASE_PART`).

    The rule: within a source family, the latest release (``sources.release``, compared as text:
    ``MCS2026`` > ``MCS2024``, ``V202601`` > ``V202401b``) wins for every year and part it covers;
    a family pinned in ``pins`` (release labels) uses only that release. Two files of one release
    covering the same year and part (the wide and the long CSV of an MCS edition carry the same
    facts) never add up: the first source id counts.
    """
    names = RELEASE_PART if tables is None else [t for t in RELEASE_PART if t in set(tables)]
    cov = " UNION ALL ".join(
        f"SELECT '{t}' AS tbl, source_id, year, CAST({RELEASE_PART[t]} AS VARCHAR) AS part "
        f'FROM {_FILE_DB}.main."{t}" GROUP BY ALL' for t in names)
    pin_list = ", ".join("'" + p.replace("'", "''").lower() + "'" for p in pins)
    pinned = (f"lower(coalesce(s.release, '')) IN ({pin_list})" if pins else "false")
    return f"""
        WITH cov AS ({cov}),
        src AS (
            SELECT s.source_id, s.family, coalesce(s.release, '') AS release,
                   bool_or({pinned}) OVER (PARTITION BY s.family) AS family_pinned,
                   {pinned} AS is_pin
            FROM {_FILE_DB}.main.sources s)
        SELECT tbl, source_id, year, part FROM cov JOIN src USING (source_id)
        WHERE NOT family_pinned OR is_pin
        QUALIFY row_number() OVER (PARTITION BY tbl, family, year, part
                                   ORDER BY release DESC, source_id) = 1"""


def connect(path: str | Path, *, release: str | Sequence[str] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection on which every atlas table reads one release per source family.

    The atlas file is attached read-only as ``atlas_file``; each data table is a view of the rows
    of the sources :func:`release_rule_sql` selects (``release`` pins families to a release
    label, e.g. ``"MCS2024"``; an unknown label is a :class:`CritminError` naming the releases
    the atlas holds); the other tables are plain views. Cursors of the connection see the same
    views. All releases stay in the file: :meth:`Atlas.table` with ``all_releases=True``.
    """
    path = Path(path)
    if not path.exists():
        raise AtlasError(f"no atlas at {path}: run 'critmin atlas build DIR...'")
    pins = [release] if isinstance(release, str) else list(release or ())
    try:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS {_FILE_DB} (READ_ONLY)")
    except duckdb.Error as exc:
        raise AtlasError(f"cannot open atlas {path}: {exc}") from None
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
        [_FILE_DB]).fetchall()}
    if pins:
        known = sorted({r[0] for r in con.execute(
            f"SELECT DISTINCT release FROM {_FILE_DB}.main.sources WHERE release IS NOT NULL"
        ).fetchall()}) if "sources" in present else []
        bad = [p for p in pins if p.lower() not in {k.lower() for k in known}]
        if bad:
            raise CritminError(f"unknown release {bad[0]!r}: the atlas holds "
                               + (", ".join(known) or "no releases"))
    rule = "sources" in present and any(t in present for t in RELEASE_PART)
    if rule:
        con.execute(f"CREATE TABLE _release_active AS {release_rule_sql(pins, present)}")
    for name in schema.tables():
        if name not in present:
            continue
        part = RELEASE_PART.get(name)
        if part and rule:  # (a table of a newer schema missing in an older atlas: no view)
            body = (f'SELECT t.* FROM {_FILE_DB}.main."{name}" t SEMI JOIN _release_active a '
                    f"ON a.tbl = '{name}' AND a.source_id = t.source_id AND a.year = t.year "
                    f"AND a.part = CAST(t.{part} AS VARCHAR)")
        else:
            body = f'SELECT * FROM {_FILE_DB}.main."{name}"'
        con.execute(f'CREATE VIEW "{name}" AS {body}')
    return con


class Atlas:
    """A read-only handle on an atlas file, with Ibis tables reading one release per source
    family (the latest, or the ones pinned by ``release``; see :func:`connect`).

    >>> atlas = Atlas.open()            # doctest: +SKIP
    >>> atlas.table("production").filter(_.mineral == "cobalt")  # doctest: +SKIP
    >>> Atlas.open(release="MCS2024")   # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, release: str | Sequence[str] | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise AtlasError(f"no atlas at {self.path}: run 'critmin atlas build DIR...'")
        self.release = release
        self._con: ibis.BaseBackend | None = None

    @classmethod
    def open(cls, path: str | Path | None = None, *,
             release: str | Sequence[str] | None = None) -> Atlas:
        """Open the atlas at ``path`` (default :func:`default_path`), building the starter atlas
        first when the default location holds none. ``release`` pins source families to a
        release (e.g. ``"MCS2024"``); by default each family's latest release counts."""
        if path is None:
            path = default_path()
            if not Path(path).exists():
                from critmin import starter

                starter.install(Path(path))
        return cls(path, release=release)

    @property
    def con(self) -> ibis.BaseBackend:
        """The Ibis DuckDB backend over the one-release views (read-only data)."""
        if self._con is None:
            import ibis

            self._con = ibis.duckdb.from_connection(connect(self.path, release=self.release))
        return self._con

    def table(self, name: str, *, all_releases: bool = False) -> ir.Table:
        """An Ibis table expression for atlas table ``name``: one release per source family, or
        every release loaded when ``all_releases`` is true."""
        schema.table(name)  # raises for unknown names
        con = self.con
        try:
            if all_releases:
                return con.table(name, database=(_FILE_DB, "main"))
            return con.table(name)
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


def _reference_rows(name: str) -> list[dict[str, str]] | None:
    """Rows of a reference table shipped in the package (``reference/`` or ``data/``)."""
    for pkg in ("critmin.reference", "critmin.data"):
        with contextlib.suppress(ModuleNotFoundError, FileNotFoundError):
            f = resources.files(pkg).joinpath(f"{name}.csv")
            if f.is_file():
                return list(csv.DictReader(f.read_text("utf-8").splitlines()))
    return None


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
    factors = {(r["hs_code"], r["hs_revision"], r["mineral"]): r["content_factor"]
               for r in _reference_rows("content_factors") or []}
    for name in REFERENCE_TABLES:
        if name == "countries":
            continue
        rows = _reference_rows(name)
        if rows is not None and name == "hs_map":  # the cited factor is the one that counts
            rows = [{**r, "content_factor": factors.get(
                (r["hs_code"], r["hs_revision"], r["mineral"]), r["content_factor"])}
                for r in rows]
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
    rows = _reference_rows("minerals") or []
    return Context(codes=codes, minerals=frozenset(r["mineral"] for r in rows))


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
    report.notes.extend(superseded(db))
    return report


def superseded(path: str | Path) -> list[str]:
    """One line per (table, family, earlier release, later release): the years for which the
    later release replaces the earlier one (see :func:`release_rule_sql`)."""
    con = connect(path)
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                           "'_release_active'").fetchall()[0][0]:
            return []
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
            [_FILE_DB]).fetchall()}
        cov = " UNION ALL ".join(
            f"SELECT DISTINCT '{t}' AS tbl, source_id, year, CAST({c} AS VARCHAR) AS part "
            f'FROM {_FILE_DB}.main."{t}"' for t, c in RELEASE_PART.items() if t in present)
        rows = con.execute(f"""
            WITH cov AS ({cov}),
            s AS (SELECT source_id, family, coalesce(release, '') AS release
                  FROM {_FILE_DB}.main.sources),
            c AS (SELECT cov.*, family, release FROM cov JOIN s USING (source_id)),
            a AS (SELECT a.*, family, release FROM _release_active a JOIN s USING (source_id))
            SELECT c.tbl, c.family, c.release, a.release, list(DISTINCT c.year ORDER BY c.year)
            FROM c JOIN a ON a.tbl = c.tbl AND a.family = c.family AND a.year = c.year
                          AND a.part = c.part AND a.release <> c.release
            GROUP BY ALL ORDER BY ALL""").fetchall()
    finally:
        con.close()
    return [f"{tbl}: {fam} release {new} replaces {old or '(none)'} for {_years_text(ys)}"
            for tbl, fam, old, new, ys in rows]


def _years_text(years: list[int]) -> str:
    """``2018-2021, 2023`` for [2018, 2019, 2020, 2021, 2023]."""
    out: list[str] = []
    for y in years:
        if out and out[-1].split("-")[-1] == str(y - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{y}"
        else:
            out.append(str(y))
    return ", ".join(out)


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
