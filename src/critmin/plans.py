"""Compiled plans: the SQL of a computation's Ibis expressions, kept between runs.

An interactive command (``critmin assess JPN``, ``critmin scenario n-minus-1``) asks the same
questions of the same atlas again and again. Building its Ibis expressions and compiling them to
SQL costs more than DuckDB's work (importing Ibis alone takes longer than the queries), so
:func:`frames` keeps, per computation site and arguments, the compiled SQL of every expression
the computation builds, with what running them needs:

- the in-memory reference tables they read (:func:`critmin.atlas.reference_memtable`, e.g. the
  HS correlation table), registered on the connection before the SQL runs;
- the atlas tables and source families the build recorded (:mod:`critmin.provenance`), recorded
  again on a hit, so that a cached answer cites the same sources.

A plan is valid for one atlas file (path, inode, size, modification time), its pinned releases,
the DuckDB, Ibis and sqlglot installations, and the critmin code and reference data (a
fingerprint of the package files): a rebuilt atlas, an upgrade or an edit of critmin starts from
a new plan. Plans live in ``<user cache dir>/critmin/sql/plans`` (past :data:`MAX_PLANS`, the
older half by time of writing goes: :func:`critmin.atlas.evict`), each written to a temporary
file and swapped in with :func:`os.replace`; ``$CRITMIN_SQL_CACHE=0`` turns the cache off. A
hit runs the SQL on the atlas's plain DuckDB connection without importing Ibis; a miss builds,
compiles, saves and runs the same SQL the same way, so both give the same frames.

Computations on another engine (Spark, a Parquet atlas) or on a connection a caller passed in
run their expressions through Ibis as before.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from critmin import provenance

if TYPE_CHECKING:
    import pandas as pd

    from critmin.atlas import Atlas

#: Most plans kept on disk (each a few kB to a few tens of kB of SQL).
MAX_PLANS = 256
#: Queries of one plan run at once (each on its own cursor of the atlas connection).
PARALLEL_QUERIES = 4
#: Plan file format (bumped when the layout changes).
FORMAT = 1
#: Types a reference memtable column may have (Ibis names), and their DuckDB types.
_SQL_TYPES = {"string": "VARCHAR", "boolean": "BOOLEAN", "float64": "DOUBLE", "int64": "BIGINT"}

_fingerprint: str | None = None
T = TypeVar("T")
#: Names of the plan files :func:`frames` used in this process, in order (for :func:`remember`).
_used: dict[str, None] = {}
#: Plans started by :func:`prefetch`: file name -> (plan, future of its frames, atlas).
_ahead: dict[str, tuple[dict[str, Any], Any, Any]] = {}
#: Package SQL queries (:mod:`critmin.metrics._sql`) run on a DuckDB atlas in this process, by
#: :func:`query_key`, in order (for :func:`remember`).
_used_queries: dict[str, None] = {}
#: Package SQL queries started by :func:`prefetch`: query key -> (future of the cursor holding
#: the result, atlas).
_ahead_queries: dict[str, tuple[Any, Any]] = {}
#: True from :func:`prefetch` to :func:`forget` (a command line's run): only then are package
#: SQL queries remembered (a server asks for many, and remembers none).
_remembering = False


def frames(atlas: Any, site: str, args: Mapping[str, Any],
           build: Callable[[], Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """``{name: DataFrame}`` of the Ibis tables ``build()`` returns (``{name: expression}``),
    for the computation ``site`` (a stable name, e.g. ``"assess.year_tables"``) with JSON-able
    ``args`` that, with the atlas, determine the expressions. See the module docstring."""
    if not _enabled(atlas):
        return {name: expr.to_pandas() for name, expr in build().items()}
    path = _plan_path(atlas, site, args)
    _used[path.name] = None
    ahead = _ahead.pop(path.name, None)
    if ahead is not None and ahead[2] is atlas:  # run by prefetch(), from the same saved plan
        plan, future, _ = ahead
        atlas.duckdb_connection  # noqa: B018  (raises if the atlas did not open: then nothing ran)
        try:
            result = future.result()
        except Exception:  # (the plan run again below reports any real error)
            result = None
        if result is not None:
            provenance.replay({t: set(f) for t, f in plan["reads"].items()})
            return result
    plan = _load(path)
    if plan is None:
        exprs, plan = _compile(atlas, build)
        if plan is None:  # an expression with an unnamed in-memory table: not cacheable
            return {name: expr.to_pandas() for name, expr in exprs.items()}
        _write(path, json.dumps(plan))
    else:
        provenance.replay({t: set(f) for t, f in plan["reads"].items()})
    return run(atlas.duckdb_connection, plan["queries"], plan["memtables"])


def run(con: Any, queries: Mapping[str, str], memtables: Mapping[str, Any] | None = None
        ) -> dict[str, pd.DataFrame]:
    """Run ``queries`` (``{name: SQL}``) on the DuckDB connection ``con``, several at a time,
    each on its own cursor (DuckDB runs them side by side, which a single small query does not
    keep both cores busy enough to match), after registering ``memtables``; then turn each
    result into a DataFrame. Every query runs before any result is converted: the conversion
    needs pandas, which a command line may still be importing, and the queries need not wait
    for it. The cursors are made here, on the calling thread: a connection takes one call at a
    time."""
    names = list(queries)
    cursors = [con.cursor() for _ in names]

    def execute(name: str, cursor: Any) -> Any:
        _register(cursor, memtables or {})
        return cursor.execute(queries[name])  # (the result is held by the cursor until .df())

    try:
        if len(names) <= 1:
            return {n: execute(n, c).df() for n, c in zip(names, cursors, strict=True)}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(len(names), PARALLEL_QUERIES)) as pool:
            results = list(pool.map(execute, names, cursors))
            frames = pool.map(lambda r: r.df(), results)
            return dict(zip(names, frames, strict=True))
    finally:
        for c in cursors:
            c.close()


def prefetch(atlas: Any, run_key: str) -> None:
    """Start the saved plans the last run with ``run_key`` (e.g. a command line) used, each in
    a background thread on a cursor of the atlas connection: :func:`frames` asked for one of
    them then takes its frames instead of running its queries. The plans are found by their
    file names, which fingerprint site, arguments, atlas, release and code (a changed atlas or
    code asks for other plans, and what was fetched is not used). Does nothing on another
    engine or with the cache off."""
    if not _enabled(atlas):
        return
    global _remembering
    _remembering = True
    _used_queries.clear()  # (this run's, not an earlier command's in the same process)
    try:
        saved = json.loads(_run_path(run_key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    names = saved.get("plans") if isinstance(saved, dict) else None
    keys = saved.get("queries") if isinstance(saved, dict) else None
    import threading
    from concurrent.futures import Future

    folder = sql_cache_folder()
    todo = []
    for name in dict.fromkeys(names) if isinstance(names, list) else []:
        plan = _load(folder / str(name))
        if plan is not None and name not in _ahead:
            future: Future[dict[str, pd.DataFrame]] = Future()
            _ahead[str(name)] = (plan, future, atlas)
            todo.append((plan, future))
    asked = []
    for key in dict.fromkeys(keys) if isinstance(keys, list) else []:
        try:
            sql, params = json.loads(key)
        except (TypeError, ValueError):
            continue
        if isinstance(sql, str) and isinstance(params, dict) and key not in _ahead_queries:
            started: Future[Any] = Future()
            _ahead_queries[key] = (started, atlas)
            asked.append((sql, params, started))

    def start(con: Any) -> None:
        """Start each plan and query on a cursor of ``con``, made on this thread (the
        connection takes one call at a time): the threads then use only their own cursors."""
        if asked:
            _start_queries(atlas, con, asked)
        for plan, future in todo:
            atlas.in_background(future)  # (close() waits for it)
            try:
                cursor = con.cursor()
            except BaseException as exc:
                future.set_exception(exc)
                continue

            def work(plan: dict[str, Any] = plan, future: Future[Any] = future,
                     cursor: Any = cursor) -> None:
                try:
                    future.set_result(run(cursor, plan["queries"], plan["memtables"]))
                except BaseException as exc:  # (frames() runs the plan itself then)
                    future.set_exception(exc)
                finally:
                    cursor.close()

            threading.Thread(target=work, name="critmin-prefetch", daemon=True).start()

    if todo or asked:
        atlas.open_in_background(then=start)


def _start_queries(atlas: Any, con: Any, asked: list[tuple[str, dict[str, Any], Any]]) -> None:
    """Run the package SQL queries ``asked`` (SQL, parameters, future), each on its own cursor
    of ``con`` made here, :data:`PARALLEL_QUERIES` at a time in one background thread pool;
    each future gets the cursor holding its result (closed by :func:`prefetched_query`'s
    caller; one nobody asks for is closed with the atlas's connection)."""
    import threading

    jobs = []
    for sql, params, future in asked:
        atlas.in_background(future)  # (close() waits for it)
        try:
            jobs.append((sql, params, future, con.cursor()))
        except BaseException as exc:
            future.set_exception(exc)

    def work(job: tuple[str, dict[str, Any], Any, Any]) -> None:
        sql, params, future, cursor = job
        try:
            cursor.execute(sql, params)
        except BaseException as exc:  # (the caller runs the query itself then)
            cursor.close()
            future.set_exception(exc)
        else:
            future.set_result(cursor)

    def pool() -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(len(jobs), PARALLEL_QUERIES)) as ex:
            list(ex.map(work, jobs))

    if jobs:
        threading.Thread(target=pool, name="critmin-prefetch-sql", daemon=True).start()


def query_key(sql: str, params: Mapping[str, Any]) -> str | None:
    """The key of a package SQL query with its bound parameters (JSON text), or None when the
    parameters do not read back from JSON as the same values (tuples, NaN, other types): such
    a query is neither remembered nor prefetched."""
    try:
        key = json.dumps([sql, dict(params)], sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return key if json.loads(key) == [sql, dict(params)] else None


def prefetched_query(atlas: Any, sql: str, params: Mapping[str, Any]) -> Any | None:
    """The DuckDB cursor holding the result of ``sql`` with ``params`` when :func:`prefetch`
    started that query on ``atlas`` (or on the atlas a background reader of :func:`in_background`
    reads beside) and it succeeded; the caller fetches the result and closes the cursor. None
    otherwise (the caller runs the query). Either way, during a command line's run (from
    :func:`prefetch` to :func:`forget`), the query is remembered for the next run
    (:func:`remember`) when ``atlas`` keeps plans. The query ran in this process on this atlas's
    connection, so its result is the one running it now gives."""
    if not (_remembering or _ahead_queries):  # (a server, a library call: nothing to do)
        return None
    root = getattr(atlas, "reads_beside", None) or atlas
    if not _enabled(root):
        return None
    key = query_key(sql, params)
    if key is None:
        return None
    if _remembering:
        _used_queries[key] = None
    ahead = _ahead_queries.pop(key, None)
    if ahead is None:
        return None
    future, owner = ahead
    if owner is not root:
        return None
    try:
        return future.result()
    except Exception:
        return None


def forget() -> None:
    """Drop what :func:`prefetch` started and nobody asked for: called when a command line's
    work is done (closing the atlas waits for that work, and closing its connection closes
    the cursors)."""
    global _remembering
    _remembering = False
    _ahead_queries.clear()
    _ahead.clear()


def remember(run_key: str) -> None:
    """Save the names of the plans :func:`frames` used in this process, and the package SQL
    queries run (:func:`prefetched_query`), under ``run_key``, for :func:`prefetch` in the next
    run with the same key."""
    from critmin.atlas import sql_cache_enabled

    if (_used or _used_queries) and sql_cache_enabled():
        _write(_run_path(run_key), json.dumps({"plans": list(_used),
                                               "queries": list(_used_queries)}))


def _enabled(atlas: Any) -> bool:
    """Plans are kept for a DuckDB :class:`critmin.atlas.Atlas` whose views are its own, unless
    ``$CRITMIN_SQL_CACHE=0``."""
    from critmin.atlas import Atlas, sql_cache_enabled

    return isinstance(atlas, Atlas) and not atlas.given_connection and sql_cache_enabled()


def _run_path(run_key: str) -> Path:
    return sql_cache_folder() / "runs" / f"{hashlib.sha256(run_key.encode()).hexdigest()[:32]}.json"


def sql_cache_folder() -> Path:
    """Where plans are kept: ``<user cache dir>/critmin/sql/plans``."""
    from critmin.atlas import sql_cache_dir

    return sql_cache_dir() / "plans"


def in_background(atlas: Any, fn: Callable[[Any], T]) -> Callable[[], T]:
    """Start ``fn(reader)`` beside the caller's own queries and return a function that waits for
    its value (or raises its error). On a DuckDB :class:`critmin.atlas.Atlas` the reader reads
    through a cursor of the atlas connection, in a thread that records its reads into the
    caller's provenance; on any other atlas ``fn(atlas)`` runs at once."""
    from critmin.atlas import Atlas

    if not isinstance(atlas, Atlas):
        value = fn(atlas)
        return lambda: value
    import contextvars
    import threading
    from concurrent.futures import Future

    reader = Atlas(atlas.path, release=atlas.release,
                   connection=atlas.duckdb_connection.cursor(),
                   made_by_connect=not atlas.given_connection)
    reader.reads_beside = atlas  # (its queries may take what prefetch() started on atlas)
    context = contextvars.copy_context()  # (the provenance record of the caller)
    future: Future[T] = Future()

    def work() -> None:
        try:
            try:
                value = context.run(fn, reader)
            finally:
                reader.close()  # (before the future is done: close() of the atlas waits for it)
        except BaseException as exc:  # handed to the caller
            future.set_exception(exc)
        else:
            future.set_result(value)

    threading.Thread(target=work, name="critmin-background", daemon=True).start()
    atlas.in_background(future)
    return future.result


def _compile(atlas: Atlas, build: Callable[[], Mapping[str, Any]]
             ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Build the expressions (recording the reads) and compile each to DuckDB SQL: the
    expressions and the plan (None when an expression cannot be kept: it reads an unnamed
    in-memory table)."""
    from ibis.expr import operations as ops

    from critmin.atlas import REFERENCE_MEMTABLE_PREFIX

    with provenance.recording() as reads:
        exprs = dict(build())
    memtables: dict[str, Any] = {}
    for expr in exprs.values():
        for op in expr.op().find(ops.InMemoryTable):
            if not op.name.startswith(REFERENCE_MEMTABLE_PREFIX):
                return exprs, None
            types = {n: str(t).lstrip("!") for n, t in op.schema.items()}
            if any(t not in _SQL_TYPES for t in types.values()):
                return exprs, None
            df = op.data.to_frame()
            memtables[op.name] = {"types": types, "columns": {
                n: [None if v != v else v for v in df[n].tolist()] for n in types}}
    con = atlas.con
    return exprs, {"format": FORMAT, "queries": {n: con.compile(e) for n, e in exprs.items()},
                   "memtables": memtables,
                   "reads": {t: sorted(f, key=str) for t, f in reads.items()}}


def _register(con: Any, memtables: Mapping[str, Any]) -> None:
    """Create the plan's reference tables on the DuckDB connection (once per connection) as
    temporary tables, their rows written as SQL literals: binding Python values would make
    DuckDB look for numpy and pandas, so the queries could not start while the command line
    still imports them."""
    if not memtables:
        return
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()}
    for name, m in memtables.items():
        if name in have:
            continue
        cols = list(m["columns"])
        con.execute(f"CREATE TEMP TABLE {_ident(name)} ("
                    + ", ".join(f"{_ident(c)} {_SQL_TYPES[m['types'][c]]}" for c in cols) + ")")
        rows = list(zip(*(m["columns"][c] for c in cols), strict=True))
        if rows:  # each value a text literal cast to its column's type, as DuckDB reads text
            con.execute(f"INSERT INTO {_ident(name)} VALUES "
                        + ", ".join("(" + ", ".join(map(_literal, r)) + ")" for r in rows))


def _ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    """A plan's reference value (text, number, boolean or None) as an SQL text literal or NULL
    (a float's ``repr`` reads back as the same double)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    return "'" + text.replace("'", "''") + "'"


def _plan_path(atlas: Atlas, site: str, args: Mapping[str, Any]) -> Path:
    from critmin.atlas import atlas_identity

    key = json.dumps([FORMAT, site, dict(args), atlas_identity(atlas.path, atlas.release,
                                                               compiler=_compiler_versions()),
                      code_fingerprint()], sort_keys=True, default=str)
    return sql_cache_folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _compiler_versions() -> str:
    """The installed Ibis and sqlglot, without importing them: their package files' sizes and
    modification times (an upgrade rewrites them)."""
    parts = []
    for name in ("ibis", "sqlglot"):
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            parts.append(f"{name} missing")
            continue
        st = Path(spec.origin).stat()
        parts.append(f"{name} {spec.origin} {st.st_size} {st.st_mtime_ns}")
    return "|".join(parts)


def code_fingerprint() -> str:
    """A fingerprint of critmin's code, SQL and reference data (each package file's path, size
    and modification time), so an edit or an upgrade invalidates the plans."""
    global _fingerprint
    if _fingerprint is None:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for dirpath, dirnames, files in sorted(os.walk(root)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(files):
                if f.endswith((".py", ".sql", ".csv")):
                    st = os.stat(os.path.join(dirpath, f))
                    h.update(f"{dirpath}/{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        _fingerprint = h.hexdigest()[:32]
    return _fingerprint


def _load(path: Path) -> dict[str, Any] | None:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return plan if isinstance(plan, dict) and plan.get("format") == FORMAT else None


def _write(path: Path, text: str) -> None:
    """Write a plan or a remembered run atomically (a temporary file and :func:`os.replace`);
    past :data:`MAX_PLANS` files in its folder, the older half goes. A cache that cannot be
    written is skipped: it only saves time."""
    from critmin.atlas import evict

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        evict(path.parent, "*.json", MAX_PLANS)
    except OSError:
        pass
