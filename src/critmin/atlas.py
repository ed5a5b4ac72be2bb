"""The atlas: one embedded DuckDB database holding critmin's canonical tables, read through Ibis.

Location: ``$CRITMIN_ATLAS`` if set, else ``<user data dir>/critmin/atlas.duckdb`` (platformdirs).
Opening an atlas never writes anything; the starter atlas the package ships is installed by an
explicit step (:func:`critmin.starter.install`, ``critmin atlas starter``; the command line does
it on first use so that the quick start works on a fresh machine).

Building is atomic: :func:`build` copies the current atlas (if any) to a temporary file next to it,
loads into the copy, and swaps it into place with :func:`os.replace` only when every file loaded;
a crash or a bad file leaves the previous atlas untouched. A file whose SHA-256 is already recorded
under its source id is skipped, so loading the same file twice changes nothing, and a build that
loads nothing new leaves the atlas file untouched (byte for byte). A file that would leave its
source with no rows, or far fewer rows than what it replaces (under :data:`SHRINK_THRESHOLD`), is
refused unless ``allow_shrink`` is given: the earlier version of its source id, or the earlier
release of its family for the years and parts it covers (:func:`replaced_releases`: an MCS2027
file against MCS2026, BACI V202701 against V202601 for its year and HS revision).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from critmin import provenance, reference, schema
from critmin.countries import CountryCodes, country_codes
from critmin.errors import AtlasError, CritminError, InputError

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pyarrow as pa

    from critmin.sources.base import Context, Parsed, SourceMeta

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
#: Environment variable pinning releases (comma-separated labels) when none is given.
RELEASE_ENV = "CRITMIN_RELEASE"
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
    label, e.g. ``"MCS2024"``, default ``$CRITMIN_RELEASE``; an unknown label is a
    :class:`CritminError` naming the releases
    the atlas holds); the other tables are plain views. Cursors of the connection see the same
    views. All releases stay in the file: :meth:`Atlas.table` with ``all_releases=True``.
    """
    path = Path(path)
    if not path.exists():
        raise AtlasError(f"no atlas at {path}: run 'critmin atlas build DIR...'")
    if release is None:  # critmin --release ID (the CLI), or the environment
        release = [r.strip() for r in os.environ.get(RELEASE_ENV, "").split(",") if r.strip()]
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
        _create_release_active(con, path, release_rule_sql(pins, present))
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


def _create_release_active(con: duckdb.DuckDBPyConnection, path: Path, rule: str) -> None:
    """``CREATE TABLE _release_active AS rule``, the rows kept in the user cache as a Parquet
    file per atlas file (path, inode, size, modification time: a rebuild or a load is a new
    key) and rule text (pins, tables, code): computing them scans every data table (a third of
    the time it takes to open the full atlas) and they change only with the file. Off with
    ``$CRITMIN_SQL_CACHE=0``; at most :data:`SQL_CACHE_FILES` files (:func:`evict`); a cache
    that cannot be read or written is skipped."""
    import hashlib

    key = f"{_file_identity(path)}|{duckdb.__version__}|{rule}"
    cached = (sql_cache_dir() / "release"
              / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.parquet")
    use_cache = sql_cache_enabled()
    if use_cache and cached.exists():
        with contextlib.suppress(duckdb.Error):
            con.execute("CREATE TABLE _release_active AS SELECT * FROM read_parquet(?)",
                        [str(cached)])
            return
    con.execute(f"CREATE TABLE _release_active AS {rule}")
    if use_cache:
        tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.parquet")
        with contextlib.suppress(OSError, duckdb.Error):
            cached.parent.mkdir(parents=True, exist_ok=True)
            quoted = str(tmp).replace("'", "''")
            con.execute(f"COPY _release_active TO '{quoted}' (FORMAT parquet)")
            os.replace(tmp, cached)
            evict(cached.parent, "*.parquet", SQL_CACHE_FILES)


def view_source_ids(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The distinct source ids of the rows of ``table`` as a connection of :func:`connect`
    reads it (sorted). For a table read one release per family, the sources the release rule
    kept (each covers some rows, so these are the ids of the view's rows, without a scan)."""
    if table in RELEASE_PART and con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE table_name = '_release_active'").fetchall():
        rows = con.execute("SELECT DISTINCT source_id FROM _release_active WHERE tbl = ?",
                           [table]).fetchall()
    else:
        rows = con.execute(f'SELECT DISTINCT source_id FROM "{table}"').fetchall()
    return sorted(r[0] for r in rows)


class Atlas:
    """A read-only handle on an atlas file, with Ibis tables reading one release per source
    family (the latest, or the ones pinned by ``release``; see :func:`connect`).

    >>> atlas = Atlas.open()            # doctest: +SKIP
    >>> atlas.table("production").filter(_.mineral == "cobalt")  # doctest: +SKIP
    >>> Atlas.open(release="MCS2024")   # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, release: str | Sequence[str] | None = None,
                 connection: duckdb.DuckDBPyConnection | None = None,
                 made_by_connect: bool = False) -> None:
        """``connection``: a connection (or a cursor of one) to read through instead of
        opening one: cursors of one connection share its database instance (views, buffer
        pool, threads); the server gives each of its threads such an atlas.
        ``made_by_connect``: ``connection`` was made by :func:`connect` for this file and
        release (its views are the atlas's own), so compiled queries and plans
        (:mod:`critmin.plans`) are kept for it as for an atlas that opens its own."""
        self.path = Path(path)
        check_file(self.path)
        self.release = release
        self._con: ibis.BaseBackend | None = None
        self._duckdb: duckdb.DuckDBPyConnection | None = connection
        self._given = connection is not None and not made_by_connect
        self._opening: Future[duckdb.DuckDBPyConnection] | None = None
        self._lock = threading.Lock()
        #: Work running on cursors of the connection (critmin.plans), waited for by close().
        self._background: list[Future[Any]] = []
        #: The atlas this one reads beside, on a cursor of its connection
        #: (:func:`critmin.plans.in_background`): queries prefetched there serve this one too.
        self.reads_beside: Atlas | None = None

    @classmethod
    def open(cls, path: str | Path | None = None, *,
             release: str | Sequence[str] | None = None) -> Atlas:
        """Open the atlas at ``path`` (default :func:`default_path`). Writes nothing: when there is
        no atlas, this raises :class:`AtlasError` saying how to install or build one.
        ``release`` pins source families to a release (e.g. ``"MCS2024"``); by default each
        family's latest release counts."""
        return cls(path if path is not None else default_path(), release=release)

    @property
    def duckdb_connection(self) -> duckdb.DuckDBPyConnection:
        """The plain DuckDB connection over the one-release views (:func:`connect`), on which
        the package SQL queries (:mod:`critmin.metrics._sql`) run without loading Ibis; the Ibis
        backend :attr:`con` reads through the same connection."""
        if self._duckdb is None:
            with self._lock:  # (a prefetching thread may ask at the same time)
                if self._duckdb is None:
                    opening, self._opening = self._opening, None
                    self._duckdb = (opening.result() if opening is not None
                                    else connect(self.path, release=self.release))
        return self._duckdb

    def open_in_background(self, then: Callable[[duckdb.DuckDBPyConnection], None] | None = None
                           ) -> None:
        """Start opening the DuckDB connection (:func:`connect`: attach the file, choose the
        releases, create the views) in a background thread, so that a command line does it
        while it imports pandas; the first use of :attr:`duckdb_connection` waits for it (and
        raises its error, if any). ``then(connection)`` runs on that thread once it is open,
        before anyone else can use it (to make cursors for background queries: a connection
        takes one call at a time); on an open connection it runs at once."""
        if self._duckdb is not None or self._opening is not None:
            if then is not None:
                then(self.duckdb_connection)
            return
        future: Future[duckdb.DuckDBPyConnection] = Future()

        def work() -> None:
            try:
                con = connect(self.path, release=self.release)
            except BaseException as exc:  # handed to the first user of the connection
                future.set_exception(exc)
                return
            if then is not None:
                with contextlib.suppress(Exception):  # (its own errors are its own)
                    then(con)
            future.set_result(con)

        threading.Thread(target=work, name="critmin-atlas-open", daemon=True).start()
        self._opening = future

    @property
    def con(self) -> ibis.BaseBackend:
        """The Ibis DuckDB backend over the one-release views (read-only data)."""
        if self._con is None:
            if self._given:
                import ibis

                self._con = ibis.duckdb.from_connection(self.duckdb_connection)
            else:
                self._con = _caching_backend().from_connection(self.duckdb_connection)
                self._con._critmin_cache_key = atlas_identity(self.path, self.release)
        return self._con

    @property
    def given_connection(self) -> bool:
        """True when the caller passed the DuckDB connection in (its views are the caller's)."""
        return self._given

    def table(self, name: str, *, all_releases: bool = False) -> ir.Table:
        """An Ibis table expression for atlas table ``name``: one release per source family, or
        every release loaded when ``all_releases`` is true (the read is recorded for provenance,
        see :mod:`critmin.provenance`)."""
        schema.table(name)  # raises for unknown names
        provenance.record(name)
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

    def source_ids(self, table: str) -> list[str]:
        """The distinct source ids of the rows of ``table`` as this atlas reads it (sorted;
        :func:`view_source_ids`)."""
        return view_source_ids(self.duckdb_connection, table)

    def in_background(self, future: Future[Any]) -> None:
        """Register work running on a cursor of this atlas's connection: :meth:`close` waits
        for it (a connection cannot be closed while a cursor of it runs a query)."""
        self._background.append(future)

    def wait_for_background(self) -> None:
        """Wait for the connection still opening and the work :meth:`in_background` registered
        (the first part of :meth:`close`)."""
        if self._opening is not None:  # (a connection still opening is closed once open)
            with contextlib.suppress(Exception):
                self.duckdb_connection  # noqa: B018
        if self._background:
            import concurrent.futures

            concurrent.futures.wait(self._background)
            self._background.clear()

    def close(self) -> None:
        self.wait_for_background()
        if self._con is not None:
            self._con.disconnect()
            self._con = None
        if self._duckdb is not None:
            self._duckdb.close()
            self._duckdb = None

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> dict[str, Any]:
        """Tables with row counts and the provenance of every loaded file."""
        return info(self.path)


# --------------------------------------------------------------------------------------------
# compiled-query cache

#: Environment variable: ``0`` turns the on-disk compiled-query cache off (the in-process one
#: stays).
SQL_CACHE_ENV = "CRITMIN_SQL_CACHE"
#: Compiled queries kept per atlas identity, and atlas identities (and release tables) kept on
#: disk: past either, the older half goes (:func:`evict`).
SQL_CACHE_ENTRIES, SQL_CACHE_FILES = 2000, 16
_sql_memory: dict[tuple[str, str], str] = {}
_backend_cls: type | None = None


def atlas_identity(path: Path, release: str | Sequence[str] | None, *,
                   compiler: str | None = None) -> str:
    """What a compiled query of this atlas depends on besides the expression: the file (path,
    inode, size, modification time: a rebuild is a new file), the pinned releases, and the
    versions of Ibis, sqlglot and DuckDB that compile and run it (``compiler``: the Ibis and
    sqlglot part, given by a caller that does not import them)."""
    if compiler is None:
        import ibis
        import sqlglot

        compiler = f"ibis {ibis.__version__}|sqlglot {sqlglot.__version__}"
    if release is None:
        release = [r.strip() for r in os.environ.get(RELEASE_ENV, "").split(",") if r.strip()]
    pins = [release] if isinstance(release, str) else list(release or ())
    return (f"{_file_identity(path)}|{','.join(sorted(p.lower() for p in pins))}|{compiler}|"
            f"duckdb {duckdb.__version__}")


def _file_identity(path: Path) -> str:
    """The atlas file as cached artefacts know it: path, inode, size, modification time (a
    rebuild or a load is a new identity)."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


def sql_cache_enabled() -> bool:
    """False when ``$CRITMIN_SQL_CACHE=0`` turns the on-disk caches (compiled queries, plans,
    release tables) off."""
    return os.environ.get(SQL_CACHE_ENV, "1") != "0"


#: Name prefix of :func:`reference_memtable` tables, whose names fingerprint their content.
REFERENCE_MEMTABLE_PREFIX = "critmin_ref_"


def reference_memtable(label: str, columns: Mapping[str, Sequence[Any]],
                       schema: Mapping[str, str]) -> ir.Table:
    """An Ibis in-memory table of reference data (``columns``, typed by ``schema``) named
    ``critmin_ref_<label>_<digest of content and schema>``: the same data has the same name in
    every process, so an expression reading it keeps a stable :func:`expression_key` and its
    compiled query can be cached (Ibis registers the table under that name before each run)."""
    import hashlib
    import json

    import ibis
    from ibis.expr import operations as ops

    text = json.dumps([sorted(schema.items()), {k: list(v) for k, v in columns.items()}],
                      sort_keys=True, default=str)
    name = f"{REFERENCE_MEMTABLE_PREFIX}{label}_{hashlib.sha256(text.encode()).hexdigest()[:20]}"
    if name not in _reference_memtables:  # one node per name: Ibis refuses two of one name
        op = ibis.memtable(dict(columns), schema=dict(schema)).op()
        _reference_memtables[name] = ops.InMemoryTable(name=name, schema=op.schema,
                                                       data=op.data).to_expr()
    return _reference_memtables[name]


_reference_memtables: dict[str, Any] = {}


def expression_key(expr: Any) -> str | None:
    """A fingerprint of an Ibis expression's shape that is the same in every process (node types
    and arguments, tables by name and schema; not the backend object), or None when the
    expression holds something without a stable text form (an in-memory table other than a
    :func:`reference_memtable`, an object printed with its address): such expressions are
    compiled every time."""
    import hashlib

    from ibis.common.grounds import Concrete
    from ibis.expr import operations as ops

    memo: dict[int, str] = {}

    def val(x: Any) -> str:
        if isinstance(x, Concrete) and hasattr(x, "__argnames__"):
            return node(x)
        if isinstance(x, (tuple, list)):
            return "(" + ",".join(val(v) for v in x) + ")"
        if isinstance(x, Mapping):
            return "{" + ",".join(f"{val(k)}:{val(v)}" for k, v in x.items()) + "}"
        text = f"{type(x).__name__}:{x!r}"
        if " at 0x" in text:
            raise _Unstable
        return text

    def node(op: Any) -> str:
        key = id(op)
        if key not in memo:
            if isinstance(op, ops.InMemoryTable):
                if not op.name.startswith(REFERENCE_MEMTABLE_PREFIX):
                    raise _Unstable
                # a reference_memtable: its name is a digest of its content and schema
                memo[key] = op.name
                return op.name
            parts = [type(op).__module__, type(op).__qualname__]
            for name, arg in zip(op.__argnames__, op.__args__, strict=True):
                if not (name == "source" and isinstance(op, ops.DatabaseTable)):
                    parts.append(f"{name}={val(arg)}")
            memo[key] = hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]
        return memo[key]

    try:
        return node(expr.op())
    except _Unstable:
        return None


class _Unstable(Exception):
    """An expression without a process-independent fingerprint."""


def sql_cache_dir() -> Path:
    """Where compiled queries are kept between runs: ``<user cache dir>/critmin/sql``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("critmin", appauthor=False)) / "sql"


#: The folders of :func:`_sql_cache_folder` (32 hex digits: not ``plans`` or ``release``).
_IDENTITY_FOLDERS = "[0-9a-f]" * 32


def _sql_cache_folder(identity: str) -> Path:
    import hashlib

    return sql_cache_dir() / hashlib.sha256(identity.encode()).hexdigest()[:32]


def evict(folder: Path, pattern: str, most: int) -> None:
    """The one rule of the on-disk caches (compiled queries, plans, release tables): keep at
    most ``most`` entries of ``folder`` matching ``pattern``; past that, the older half by
    modification time goes (a file deleted, a folder with its content). Names starting with a
    dot (a write in progress) are neither counted nor removed. An entry that cannot be read or
    removed raises :class:`OSError`: the caller skips the cache, which only saves time."""
    entries = [p for p in folder.glob(pattern) if not p.name.startswith(".")]
    if len(entries) <= most:
        return
    entries.sort(key=lambda p: p.stat().st_mtime_ns)
    for old in entries[:len(entries) // 2]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def _load_sql(identity: str, key: str) -> str | None:
    """The compiled query saved for this atlas identity and expression key, if any."""
    try:
        return (_sql_cache_folder(identity) / f"{key}.sql").read_text(encoding="utf-8")
    except OSError:
        return None


def _save_sql(identity: str, key: str, sql: str) -> None:
    """Save one compiled query (a temporary file and :func:`os.replace`, so a reader never sees
    half a query); keep at most :data:`SQL_CACHE_ENTRIES` queries per atlas identity and
    :data:`SQL_CACHE_FILES` identities (:func:`evict`). A cache that cannot be written is
    skipped silently: it only saves time."""
    folder = _sql_cache_folder(identity)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "identity.txt").write_text(identity, encoding="utf-8")
        tmp = folder / f".{key}.{os.getpid()}"
        tmp.write_text(sql, encoding="utf-8")
        os.replace(tmp, folder / f"{key}.sql")
        evict(folder, "*.sql", SQL_CACHE_ENTRIES)
        evict(folder.parent, _IDENTITY_FOLDERS, SQL_CACHE_FILES)
    except OSError:
        pass


def _caching_backend() -> type:
    """Ibis' DuckDB backend with a compiled-query cache: compiling an expression whose shape
    (:func:`expression_key`) was compiled before for the same atlas identity returns the saved
    SQL instead of running Ibis' compiler again; the SQL is kept in the process and in
    :func:`sql_cache_dir` (unless ``$CRITMIN_SQL_CACHE=0``), so a new process starts warm."""
    global _backend_cls
    if _backend_cls is None:
        from ibis.backends.duckdb import Backend

        class AtlasBackend(Backend):  # type: ignore[misc]
            _critmin_cache_key: str | None = None

            def compile(self, expr: Any, /, *, limit: Any = None, params: Any = None,
                        pretty: bool = False) -> str:
                identity = self._critmin_cache_key
                key = None if (identity is None or params or pretty) else expression_key(expr)
                if key is None:
                    return super().compile(expr, limit=limit, params=params, pretty=pretty)
                if limit is not None:
                    key = f"{key}-{limit}"
                disk = sql_cache_enabled()
                sql = _sql_memory.get((identity, key))
                if sql is None and disk:
                    sql = _load_sql(identity, key)
                if sql is None:
                    sql = super().compile(expr, limit=limit)
                    if disk:
                        _save_sql(identity, key, sql)
                if len(_sql_memory) >= SQL_CACHE_ENTRIES:
                    _sql_memory.clear()
                _sql_memory[(identity, key)] = sql
                return sql

        _backend_cls = AtlasBackend
    return _backend_cls


#: The first bytes of every DuckDB database file (after an 8-byte checksum).
_DUCKDB_MAGIC = b"DUCK"


def check_file(path: Path) -> None:
    """Raise :class:`AtlasError` unless ``path`` is a DuckDB database file (one line, no
    traceback: a folder, a text file or a file of another format are all reported plainly)."""
    if not path.exists():
        raise AtlasError(f"no atlas at {path}: install the starter atlas with 'critmin atlas "
                         "starter' or build one with 'critmin atlas build DIR...'")
    if path.is_dir():
        raise AtlasError(f"{path} is a folder, not an atlas file")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise AtlasError(f"cannot read atlas {path}: {exc.strerror}") from None
    if head[8:12] != _DUCKDB_MAGIC:
        raise AtlasError(f"{path} is not a DuckDB atlas file")


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    check_file(path)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise AtlasError(f"cannot open atlas {path}: {str(exc).splitlines()[0]}") from None


def info(path: str | Path) -> dict[str, Any]:
    """``{"atlas": path, "tables": {name: rows}, "sources": [...]}`` for the atlas at ``path``."""
    path = Path(path)
    con = _connect(path, read_only=True)
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
    #: False when nothing new was loaded and the atlas file was left untouched.
    changed: bool = True
    #: Folder where the registry edits of the replaced atlas were saved, if any.
    registry_backup: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "atlas": self.atlas,
            "changed": self.changed,
            "loaded": [vars(x) for x in self.loaded],
            "unrecognised": self.unrecognised,
            "notes": self.notes,
            "registry_backup": self.registry_backup,
        }


ProgressFn = Callable[[str, int, int], None]
_DONE: Future = Future()


def _to_arrow(name: str, rows: list[dict[str, str]], *, file: str | None = None,
              codes: CountryCodes | None = None, minerals: frozenset[str] | None = None
              ) -> pa.Table:
    """Reference rows as table ``name``, validated like every loaded file (types, allowed values,
    bounds, keys; country codes and mineral ids when given)."""
    import pyarrow as pa

    t = schema.table(name)
    required = [c.name for c in t.columns if not c.nullable and c.default is None]
    # rows without a required value (e.g. the EU as a member of a framework, which is not a
    # country) do not belong in the table
    kept = [(i, r) for i, r in enumerate(rows, start=2)
            if all((r.get(c) or "").strip() for c in required)]
    data = schema.from_text_rows(name, [r for _i, r in kept], file=file)
    data = data.set_column(data.schema.get_field_index("_line"), "_line",
                           pa.array([i for i, _r in kept], pa.int64()))
    if "mineral" not in t.column_names:
        minerals = None
    data = schema.validate(name, data, file=file, iso3=codes.iso3 if codes else None,
                           minerals=minerals)
    return data.drop_columns(["_line"])


def reference_tables(codes: CountryCodes) -> dict[str, pa.Table]:
    """The reference tables built from the package's curated data."""
    out: dict[str, pa.Table] = {"countries": schema.validate("countries", codes.to_arrow(),
                                                             file="country codes")}
    minerals = frozenset(reference.minerals())
    factors = {(r["hs_code"], r["hs_revision"], r["mineral"]): r["content_factor"]
               for r in reference.rows("content_factors") or []}
    for name in REFERENCE_TABLES:
        if name == "countries":
            continue
        rows = reference.rows(name)
        if rows is not None and name == "hs_map":  # only a cited factor counts
            rows = [{**r, "content_factor": factors.get(
                (r["hs_code"], r["hs_revision"], r["mineral"]), "")}
                for r in rows]
        if rows is not None:
            out[name] = _to_arrow(name, rows, file=f"{name}.csv (critmin reference data)",
                                  codes=codes, minerals=minerals)
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
    import pyarrow as pa

    return pa.table({
        "source_id": [meta.source_id], "family": [meta.family], "release": [meta.release],
        "publisher": [meta.publisher], "title": [meta.title], "file": [file.name],
        "sha256": [digest], "licence": [meta.licence], "url": [meta.url],
        "loaded_at": pa.array([dt.datetime.now(dt.UTC).replace(tzinfo=None)], pa.timestamp("us")),
        "rows": pa.array([rows], pa.int64()),
    })


#: A new file whose row count is below this share of the rows of what it replaces (the earlier
#: version of its source id, or the earlier release of its family for the years and parts it
#: covers) is refused (a truncated download, a header-only file) unless the build allows
#: shrinking.
SHRINK_THRESHOLD = 0.5


@dataclass(frozen=True)
class Replaced:
    """Rows of an earlier release of a family that a new file would replace (see
    :func:`replaced_releases`): ``rows`` of ``release`` (``source_ids``) against ``new_rows`` of
    the new file, for ``years``."""

    release: str
    source_ids: list[str]
    rows: int
    new_rows: int
    years: list[int]

    def text(self) -> str:
        return (f"{self.rows:,} rows of release {self.release} ({', '.join(self.source_ids)}) "
                f"for {_years_text(self.years)}")


def replaced_releases(con: duckdb.DuckDBPyConnection, meta: SourceMeta,
                      tables: dict[str, pa.Table]) -> list[Replaced]:
    """The earlier releases of ``meta.family`` that a file of release ``meta.release`` holding
    ``tables`` would replace under the one-release-per-family rule (:func:`release_rule_sql`),
    latest first.

    For each data table, year and part (:data:`RELEASE_PART`: the mineral, the HS revision or
    the WGI indicator) the new file covers, the source that counts today is found among the
    other sources of the family; where its release is earlier than the new file's, the new file
    takes over and the two row counts are compared. Parts and families the file does not cover
    are not replaced (BACI HS17 does not replace HS92; a WGI file of the ``pv`` indicator only
    replaces ``pv``), and a file without a release label (Comtrade, DataWeb) replaces nothing.
    A file with no rows is compared with the family's rows in the years its name promises.
    """
    import pyarrow as pa

    release = meta.release or ""
    names = [t for t in RELEASE_PART if t in tables] or list(RELEASE_PART)
    if not release:
        return []
    empty = not any(tables[t].num_rows for t in names if t in tables)
    if empty and meta.years is None:
        return []
    counts = []
    for t in names:
        if t in tables and tables[t].num_rows:
            part = tables[t].column(RELEASE_PART[t]).cast(pa.string())
            g = pa.table({"year": tables[t].column("year"), "part": part}).group_by(
                ["year", "part"]).aggregate([([], "count_all")])
            counts.append(pa.table({"tbl": pa.array([t] * g.num_rows, pa.string()),
                                    "year": g.column("year").cast(pa.int32()),
                                    "part": g.column("part"),
                                    "n": g.column("count_all")}))
    old = " UNION ALL ".join(
        f"SELECT '{t}' AS tbl, source_id, CAST(year AS INTEGER) AS year, "
        f"CAST({RELEASE_PART[t]} AS VARCHAR) AS part, count(*) AS n FROM \"{t}\" "
        f"WHERE source_id IN (SELECT source_id FROM fam) AND "
        + ("year BETWEEN $y0 AND $y1" if empty
           else f"year IN (SELECT year FROM _new_cov WHERE tbl = '{t}')")
        + " GROUP BY ALL" for t in names)
    new_cov = ("SELECT tbl, year, part, 0 AS n FROM old GROUP BY ALL" if empty
               else "SELECT * FROM _new_cov")
    sql = f"""
        WITH fam AS (SELECT source_id, coalesce(release, '') AS release FROM sources
                     WHERE family = $family AND source_id <> $sid),
        old AS ({old}),
        new AS ({new_cov}),
        win AS (SELECT old.*, fam.release FROM old JOIN fam USING (source_id)
                QUALIFY row_number() OVER (PARTITION BY tbl, year, part
                                           ORDER BY fam.release DESC, source_id) = 1)
        SELECT win.release, list(DISTINCT win.source_id ORDER BY win.source_id),
               sum(win.n), sum(new.n), list(DISTINCT win.year ORDER BY win.year)
        FROM win JOIN new USING (tbl, year, part)
        WHERE win.release < $release
        GROUP BY win.release ORDER BY win.release DESC"""
    params: dict[str, Any] = {"family": meta.family, "sid": meta.source_id, "release": release}
    if empty:
        params |= {"y0": meta.years[0], "y1": meta.years[1]} if meta.years else {}
    else:
        con.register("_new_cov", pa.concat_tables(counts))
    try:
        rows = con.execute(sql, params).fetchall()
    finally:
        if not empty:
            con.unregister("_new_cov")
    return [Replaced(r, list(ids), int(n_old), int(n_new), list(ys))
            for r, ids, n_old, n_new, ys in rows]


def _shrink_check(con: duckdb.DuckDBPyConnection, meta: SourceMeta, file: Path,
                  tables: dict[str, pa.Table]) -> None:
    """Refuse (``InputError``) a file that has no rows, or fewer than :data:`SHRINK_THRESHOLD`
    times the rows of the version of its source id it replaces, or of the earlier release of
    its family it replaces for the years and parts it covers (:func:`replaced_releases`)."""
    new_rows = sum(t.num_rows for t in tables.values())
    hint = " (use --allow-shrink to load it anyway)"
    old = con.execute("SELECT rows, file FROM sources WHERE source_id = ?",
                      [meta.source_id]).fetchall()
    earlier = replaced_releases(con, meta, tables)
    this = f"release {meta.release}" if meta.release else meta.source_id
    if new_rows == 0:
        over = (f" over {old[0][0]:,} rows from {old[0][1]}" if old
                else f" of {this} over {earlier[0].text()}" if earlier else "")
        raise InputError(file, "no data rows: refusing to load an empty file" + over + hint)
    if old and new_rows < SHRINK_THRESHOLD * old[0][0]:
        raise InputError(file, f"{new_rows:,} rows would replace {old[0][0]:,} rows of "
                         f"{meta.source_id} (from {old[0][1]}): refusing to shrink a source "
                         f"below {SHRINK_THRESHOLD:.0%}" + hint)
    n_new, n_old = sum(e.new_rows for e in earlier), sum(e.rows for e in earlier)
    if earlier and n_new < SHRINK_THRESHOLD * n_old:
        raise InputError(file, f"{n_new:,} rows of {this} would replace "
                         + "; ".join(e.text() for e in earlier)
                         + f": refusing to shrink a source family below {SHRINK_THRESHOLD:.0%}"
                         + hint)


def load_parsed(con: duckdb.DuckDBPyConnection, parsed: Parsed, file: Path, digest: str,
                ctx: Context, *, replace: bool = True, allow_shrink: bool = False) -> int:
    """Validate ``parsed`` and load it into ``con``, replacing rows of the same source id.

    Refuses (``InputError``) a file with no rows, or with fewer than :data:`SHRINK_THRESHOLD`
    times the rows of what it replaces (the version of its source id, or the earlier release of
    its family for the years and parts it covers), unless ``allow_shrink``.
    """
    validated: dict[str, pa.Table] = {}
    for name, data in parsed.tables.items():
        validated[name] = schema.validate(
            name, data, file=str(file), iso3=ctx.codes.iso3,
            minerals=ctx.minerals if "mineral" in schema.table(name).column_names else None,
            years=parsed.meta.years, fields=parsed.fields,
        )
    sid = parsed.meta.source_id
    if not allow_shrink:
        _shrink_check(con, parsed.meta, file, validated)
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
    from critmin.sources.base import Context

    codes = codes or country_codes()
    return Context(codes=codes, minerals=frozenset(reference.minerals()))


def build(
    dirs: Iterable[str | Path],
    db: str | Path | None = None,
    *,
    fresh: bool = False,
    allow_shrink: bool = False,
    progress: ProgressFn | None = None,
) -> BuildReport:
    """Load every recognised file below ``dirs`` into the atlas at ``db``, atomically.

    ``fresh`` starts from an empty atlas instead of the current one. ``allow_shrink`` loads a
    file even when it has no rows or far fewer than the version it replaces. ``progress(label,
    done, total)`` is called before each file and once for the reference tables. When nothing
    new is loaded and the reference tables are current, the atlas file is not rewritten
    (``report.changed`` is False).
    """
    from critmin.sources import detect, loaders, reference_file
    from critmin.sources.base import iter_files

    db = Path(db) if db is not None else default_path()
    if db.exists():
        check_file(db)
    files = list(iter_files([Path(d) for d in dirs]))
    report = BuildReport(atlas=str(db))
    plan = []
    for f in files:
        mod = detect(f)
        ref = reference_file(f) if mod is None else None
        if ref is not None:
            report.notes.append(f"{f.name}: {ref.NAME} code table, used to translate codes")
        elif mod is None:
            report.unrecognised.append(str(f))
        else:
            plan.append((f, mod))

    codes = country_codes()
    for mod in loaders():
        prepare = getattr(mod, "prepare", None)
        if prepare is not None:
            prepare([f for f, m in plan if m is mod], codes)
    ctx = context(codes)
    if not fresh and _unchanged(db, plan, codes):
        report.changed = False
        report.loaded = [Loaded(str(f), sid, mod.NAME, 0, [], "unchanged")
                         for (f, mod), sid in zip(plan, _loaded_ids(db, plan), strict=True)]
        return report
    db.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(db)
    # one transaction for the whole build: the temporary file is the unit of atomicity
    with atomic_update(db, tag="building", copy=not fresh) as con:
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
                rows = load_parsed(con, parsed, f, digest, ctx, replace=existed,
                                   allow_shrink=allow_shrink)
                report.notes.extend(f"{f.name}: {n}" for n in parsed.notes)
                report.loaded.append(Loaded(str(f), parsed.meta.source_id, mod.NAME, rows,
                                            parsed.years(), "replaced" if existed else "loaded"))
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


def _loaded_ids(db: Path, plan: list[tuple[Path, Any]]) -> list[str]:
    """The source id under which each planned file (known unchanged) is recorded."""
    from critmin.sources.base import sha256

    con = _connect(db, read_only=True)
    try:
        by = {(f, d): sid for sid, f, d in con.execute(
            "SELECT source_id, file, sha256 FROM sources").fetchall()}
    finally:
        con.close()
    return [by[(f.name, sha256(f))] for f, _m in plan]


def _unchanged(db: Path, plan: list[tuple[Path, Any]], codes: CountryCodes) -> bool:
    """Whether building ``plan`` into the atlas at ``db`` would change nothing: every file is
    recorded with the same name and SHA-256, and the reference tables equal the package's."""
    from critmin.sources.base import sha256

    if not db.exists():
        return False
    con = _connect(db, read_only=True)
    try:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        if set(schema.tables()) - present:
            return False
        recorded = set(con.execute("SELECT file, sha256 FROM sources").fetchall())
        if any((f.name, sha256(f)) not in recorded for f, _m in plan):
            return False
        for name, data in reference_tables(codes).items():
            cols = ", ".join(f'"{c}"' for c in data.column_names)
            have = con.sql(f'SELECT {cols} FROM "{name}"').to_arrow_table()
            if _rows_of(have) != _rows_of(data.cast(have.schema)):
                return False
    finally:
        con.close()
    return True


def _rows_of(t: pa.Table) -> list[tuple[str, ...]]:
    return sorted(tuple(repr(v) for v in r.values()) for r in t.to_pylist())


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
    from critmin.sources.base import sha256

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


def _peek_source_id(mod: Any, f: Path) -> str | None:
    meta_for = getattr(mod, "meta_for", None)
    return meta_for(f).source_id if meta_for else None


def _refresh_reference(con: duckdb.DuckDBPyConnection, codes: CountryCodes) -> None:
    for name, data in reference_tables(codes).items():
        con.execute(f'DELETE FROM "{name}"')
        _insert(con, name, data)


def create_empty(db: str | Path) -> None:
    """Create an atlas with the schema and reference tables but no data (atomically)."""
    build([], db, fresh=True)


__all__ = ["Atlas", "BuildReport", "CritminError", "InputError", "build", "default_path", "info"]
