"""Engines: run the same Ibis analytics on DuckDB (one machine) or Apache Spark (a cluster).

critmin's metrics are Ibis expressions over atlas tables, so they do not care which backend
evaluates them. This module supplies the atlas tables on each backend:

- ``duckdb`` (default): the atlas file itself (:class:`critmin.atlas.Atlas`), or a Parquet export
  of it read by an in-memory DuckDB;
- ``spark``: a Parquet export of the atlas (:func:`export_parquet`, one Parquet dataset per table
  with the schema-as-data column types) read by a Spark session through Ibis' PySpark backend.
  The Parquet folder may be local or on an object store (``s3a://...``, ``abfss://...``,
  ``gs://...``: whatever the cluster's Hadoop file systems can read).

The engine comes from the ``engine`` argument, else ``$CRITMIN_ENGINE``, else ``duckdb``; the
Parquet folder from ``parquet``, else ``$CRITMIN_PARQUET``; the Spark master from ``master``,
else ``$CRITMIN_SPARK_MASTER``, else ``local[*]``. Spark is optional: without it the ``spark``
engine fails with the install hint ``pip install 'critmin[spark]'``.

>>> engine_name("duckdb")
'duckdb'
>>> with open_atlas("duckdb", parquet=export_dir) as atlas:   # doctest: +SKIP
...     production_concentration(atlas.table("production")).to_pandas()
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from critmin import provenance, schema
from critmin.errors import AtlasError, CritminError

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir

    from critmin.atlas import Atlas

#: The engines critmin can run its analytics on.
ENGINES: tuple[str, ...] = ("duckdb", "spark")
#: What to install for the Spark engine.
SPARK_HINT = "pip install 'critmin[spark]'"
#: What to install for Spark's JVM.
JAVA_HINT = "install a Java 17 or 21 runtime, e.g. apt-get install openjdk-17-jre-headless"
#: The manifest written beside the Parquet datasets of an export.
MANIFEST = "_critmin_atlas.json"


def engine_name(engine: str | None = None) -> str:
    """The engine to use: ``engine``, else ``$CRITMIN_ENGINE``, else ``duckdb``.

    >>> engine_name("SPARK")
    'spark'
    """
    name = (engine or os.environ.get("CRITMIN_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise CritminError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)} "
                           "(--engine or $CRITMIN_ENGINE)")
    return name


def _is_remote(path: str | Path) -> bool:
    return "://" in str(path)


def _join(base: str | Path, name: str) -> str:
    return str(base).rstrip("/") + "/" + name if _is_remote(base) else str(Path(base) / name)


# --------------------------------------------------------------------------------------------
# Parquet export


def _select_sql(name: str, present: set[str]) -> str:
    """SELECT casting every column of ``name`` to its schema type (missing columns as NULL)."""
    cols = []
    for c in schema.table(name).columns:
        src = f'"{c.name}"' if c.name in present else "NULL"
        cols.append(f'CAST({src} AS {c.type}) AS "{c.name}"')
    return f'SELECT {", ".join(cols)} FROM "{name}"'


def export_parquet(out: str | Path, *, atlas: str | Path | Atlas | None = None,
                   tables: list[str] | None = None, overwrite: bool = False) -> dict[str, int]:
    """Write each atlas table as a Parquet dataset ``OUT/<table>/`` and return rows per table.

    Column names and types follow the schema tables (``SMALLINT`` year -> Parquet INT16,
    ``DATE`` -> date32, ...), so every engine reads the same types. ``OUT/_critmin_atlas.json``
    records the tables, their columns (type, unit, nullability) and row counts. ``out`` may be a
    local folder or an object-store URL DuckDB can write (``s3://`` with the httpfs extension).
    An existing non-empty local folder is refused unless ``overwrite``.
    """
    from critmin.atlas import Atlas, connect, default_path

    if atlas is None:
        path = default_path()
        if not path.exists():
            path = Atlas.open().path
    else:
        path = atlas.path if isinstance(atlas, Atlas) else Path(atlas)
    if not Path(path).exists():
        raise AtlasError(f"no atlas at {path}: run 'critmin atlas build DIR...'")
    names = list(tables) if tables else list(schema.tables())
    for n in names:
        schema.table(n)  # raises for unknown names
    if not _is_remote(out):
        outp = Path(out)
        if outp.exists() and any(outp.iterdir()):
            if not overwrite:
                raise CritminError(f"{outp} is not empty: choose an empty folder or overwrite")
            for n in names:
                shutil.rmtree(outp / n, ignore_errors=True)
        outp.mkdir(parents=True, exist_ok=True)
    con = connect(path)  # one release per source family, as every analysis reads
    rows: dict[str, int] = {}
    try:
        con.execute("SET enable_progress_bar = false")
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        for n in names:
            if n not in present:
                continue
            cols = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                [n]).fetchall()}
            target = _join(out, n)
            if not _is_remote(out):
                Path(target).mkdir(parents=True, exist_ok=True)
            dest = _join(target, "part-0.parquet")
            con.execute(f"COPY ({_select_sql(n, cols)}) TO '{dest}' "
                        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
            rows[n] = con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]
    finally:
        con.close()
    manifest = {
        "format": "critmin-atlas-parquet/1",
        "atlas": str(path),
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tables": {
            n: {"rows": rows[n], "path": f"{n}/",
                "columns": [{"name": c.name, "type": c.type, "unit": c.unit,
                             "nullable": c.nullable} for c in schema.table(n).columns]}
            for n in rows
        },
    }
    _write_text(_join(out, MANIFEST), json.dumps(manifest, indent=2))
    return rows


def _write_text(path: str, text: str) -> None:
    if _is_remote(path):
        import pyarrow.fs as pafs

        fs, p = pafs.FileSystem.from_uri(path)
        with fs.open_output_stream(p) as f:
            f.write(text.encode("utf-8"))
    else:
        Path(path).write_text(text, encoding="utf-8")


def _read_manifest(parquet: str | Path) -> dict[str, Any] | None:
    path = _join(parquet, MANIFEST)
    try:
        if _is_remote(path):
            import pyarrow.fs as pafs

            fs, p = pafs.FileSystem.from_uri(path)
            with fs.open_input_stream(p) as f:
                return json.loads(f.read().decode("utf-8"))
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Spark


def require_spark() -> None:
    """Raise :class:`CritminError` with the install hint when PySpark is missing."""
    try:
        import ibis.backends.pyspark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise CritminError(f"the Spark engine needs pyspark ({exc.name} is not installed): "
                           f"{SPARK_HINT}") from None


def java_path() -> str | None:
    """The ``java`` Spark would start: ``$JAVA_HOME/bin/java``, else the first on ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    if home:
        exe = Path(home) / "bin" / "java"
        return str(exe) if exe.is_file() else None
    return shutil.which("java")


def require_java() -> None:
    """Raise :class:`CritminError` (one line) when no Java runtime is found for Spark."""
    if java_path() is None:
        where = (f"$JAVA_HOME ({os.environ['JAVA_HOME']}) has no bin/java"
                 if os.environ.get("JAVA_HOME") else "no 'java' on PATH and $JAVA_HOME is unset")
        raise CritminError(f"the Spark engine needs Java: {where} ({JAVA_HINT})")


def spark_session(master: str | None = None, *, app_name: str = "critmin",
                  conf: dict[str, str] | None = None) -> Any:
    """A Spark session for critmin (the active one when there is one).

    ``master`` defaults to ``$CRITMIN_SPARK_MASTER`` or ``local[*]``. For a local master the
    session binds to 127.0.0.1, disables the web UI and uses few shuffle partitions (a laptop
    has a few cores, not 200); ``$CRITMIN_SPARK_DRIVER_MEMORY`` sets the driver heap (default
    4g). ``conf`` adds or overrides Spark settings.
    """
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = master or os.environ.get("CRITMIN_SPARK_MASTER") or "local[*]"
    settings: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if master.startswith("local"):
        settings.update({
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": os.environ.get("CRITMIN_SPARK_SHUFFLE_PARTITIONS", "4"),
            "spark.driver.memory": os.environ.get("CRITMIN_SPARK_DRIVER_MEMORY", "4g"),
        })
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for k, v in settings.items():
        builder = builder.config(k, v)
    require_java()
    from pyspark.errors import PySparkRuntimeError

    try:
        session = builder.getOrCreate()
    except PySparkRuntimeError as exc:  # the JVM did not start (no or a broken Java)
        raise CritminError(f"the Spark engine could not start Java: {str(exc).splitlines()[0]}"
                           f" ({JAVA_HINT})") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


# --------------------------------------------------------------------------------------------
# the Atlas-compatible handle


class ParquetAtlas:
    """Atlas tables read from a Parquet export, on DuckDB or Spark, with :class:`Atlas`'s
    ``.table(name)`` API so every metric runs unchanged.

    Build it with :func:`open_atlas`. On Spark the tables are temporary views, named like the
    atlas tables (so SQL over them works too), in a session of this object's own. ``close()``
    stops the Spark application only when this object started it, and removes the temporary
    export it made, if any.
    """

    def __init__(self, engine: str, parquet: str | Path, con: ibis.BaseBackend, *,
                 session: Any = None, owns_session: bool = False,
                 tmpdir: str | None = None) -> None:
        self.engine = engine
        self.parquet = str(parquet)
        self.con = con
        self.session = session
        self._owns_session = owns_session
        self._tmpdir = tmpdir
        self._tables: dict[str, ir.Table] = {}
        self._root: Any = session  # the session to stop when this object started it
        manifest = _read_manifest(parquet)
        self.tables_available: list[str] | None = (
            list(manifest["tables"]) if manifest else None)

    def __repr__(self) -> str:
        return f"ParquetAtlas(engine={self.engine!r}, parquet={self.parquet!r})"

    def table(self, name: str) -> ir.Table:
        """An Ibis table expression for atlas table ``name`` on this engine."""
        schema.table(name)  # raises for unknown names
        provenance.record(name)
        t = self._load(name)
        if name != "sources" and "sources" not in self._tables:
            # metrics pick a source family through the backend's 'sources' table
            with contextlib.suppress(AtlasError):  # an export without it: no family filter
                self._load("sources")
        return t

    def _load(self, name: str) -> ir.Table:
        """Register atlas table ``name`` as a view of the same name (once) and return it."""
        if name in self._tables:
            return self._tables[name]
        if self.tables_available is not None and name not in self.tables_available:
            raise AtlasError(f"the Parquet atlas {self.parquet} has no table {name!r}: "
                             "export it again with 'critmin atlas export --parquet DIR'")
        path = _join(self.parquet, name)
        view = name  # plain names, so raw SQL over the tables works too
        try:
            if self.engine == "spark":
                df = self.session.read.parquet(path)
                df.createOrReplaceTempView(view)
                t = self.con.table(view)
            else:
                t = self.con.read_parquet(_join(path, "*.parquet"), table_name=view)
        except Exception as exc:
            raise AtlasError(f"cannot read table {name!r} from {path}: {exc}") from exc
        self._tables[name] = t
        return t

    def close(self) -> None:
        if self.engine == "spark":
            if self._owns_session and self._root is not None:
                self._root.stop()
        else:
            self.con.disconnect()
        self.session = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> ParquetAtlas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_atlas(engine: str | None = None, *, parquet: str | Path | None = None,
               path: str | Path | None = None, master: str | None = None,
               session: Any = None) -> Atlas | ParquetAtlas:
    """The atlas on ``engine`` (see the module docstring for defaults).

    - ``duckdb`` without ``parquet``: :meth:`critmin.atlas.Atlas.open` on ``path``;
    - ``duckdb`` with ``parquet``: an in-memory DuckDB reading the Parquet export;
    - ``spark``: a Spark session (``session``, else one on ``master``) reading the Parquet
      export at ``parquet``; without one, the DuckDB atlas at ``path`` is exported to a
      temporary folder first (fine on one machine; on a cluster, export to shared storage).
    """
    from critmin.atlas import Atlas

    name = engine_name(engine)
    parquet = parquet or os.environ.get("CRITMIN_PARQUET") or None
    if name == "duckdb":
        if parquet is None:
            return Atlas.open(path)
        import ibis

        con = ibis.duckdb.connect()
        con.raw_sql("SET enable_progress_bar = false")
        return ParquetAtlas("duckdb", parquet, con)
    require_spark()
    require_java()
    import ibis

    tmpdir = None
    if parquet is None:
        tmpdir = tempfile.mkdtemp(prefix="critmin-parquet-")
        export_parquet(tmpdir, atlas=path, overwrite=True)
        parquet = tmpdir
    from pyspark.sql import SparkSession

    owns = session is None and SparkSession.getActiveSession() is None
    root = session or spark_session(master)
    # a session of its own (same SparkContext): its temporary views, named like the atlas
    # tables, cannot collide with those of another atlas opened on the same Spark application
    own = root.newSession()
    atlas = ParquetAtlas("spark", parquet, ibis.pyspark.connect(own), session=own,
                         owns_session=owns, tmpdir=tmpdir)
    atlas._root = root
    return atlas


__all__ = ["ENGINES", "ParquetAtlas", "engine_name", "export_parquet", "open_atlas",
           "spark_session"]
