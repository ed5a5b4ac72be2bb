"""SQL kept as package files, run on the atlas's engine with bound parameters.

The queries live in ``critmin/metrics/sql/*.sql``, read with :mod:`importlib.resources`. A file
holds named queries and fragments, each starting with a ``-- name: NAME`` line (the yesql/aiosql
convention). Inside a query:

- ``$name`` is a parameter, always bound (never pasted into the text): DuckDB binds it natively;
  for Spark the query is parsed by sqlglot, each parameter replaced by a literal node of the
  syntax tree, and the tree written in Spark's dialect (so a value is never spliced as text);
- ``{{slot}}`` is replaced by a fragment of the package's SQL files, chosen by the caller by name
  (``NAME`` in the same file, or ``FILE:NAME``; a fixed allow-list: the files' own fragments),
  e.g. the published or critmin's material map;
- ``{{gpv(expr)}}``, ``{{share(amount, total)}}``, ``{{world_total(named, rest, published)}}``
  are formulas of :mod:`critmin.metrics.formulas` (:data:`FORMULAS`), the one home of the g(PV)
  weight, shares and world totals, applied to the SQL expressions given.

Parameters are typed in the query (``CAST($x AS VARCHAR[])``), so ``None`` binds as a typed NULL.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, TypeVar

import pandas as pd

from critmin.errors import CritminError
from critmin.metrics.formulas import GPV_SQL, SHARE_SQL, WORLD_TOTAL_FLAG_SQL, WORLD_TOTAL_SQL

T = TypeVar("T")

#: SQL formulas a query may call as ``{{name(expr, ...)}}``: the template and its arguments.
FORMULAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gpv": (GPV_SQL, ("pv",)),
    "share": (SHARE_SQL, ("amount", "total")),
    "world_total": (WORLD_TOTAL_SQL, ("named", "rest", "published")),
    "world_total_flag": (WORLD_TOTAL_FLAG_SQL, ("named", "rest", "published")),
}

_NAME = re.compile(r"^-- name: (\w+)[ \t]*$", re.MULTILINE)
_SLOT = re.compile(r"\{\{(\w+)(?:\(([^{}]*)\))?\}\}")
_PARAM = re.compile(r"\$(\w+)")


@functools.cache
def queries(file: str) -> dict[str, str]:
    """The named queries and fragments of ``critmin/metrics/sql/FILE``."""
    text = resources.files("critmin.metrics").joinpath("sql", file).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def render(file: str, name: str, **slots: str) -> str:
    """Query ``name`` of ``file`` with its ``{{slot}}`` and ``{{formula(expr)}}`` markers filled.

    ``slots`` maps each slot to a fragment: ``NAME`` of the same file or ``FILE:NAME``; a slot
    without one, or an unknown fragment, raises.
    """

    def fill(m: re.Match[str]) -> str:
        slot, arg = m.group(1), m.group(2)
        if arg is not None:
            template, names = FORMULAS[slot]
            args = _split_args(arg)
            if len(args) != len(names):
                raise ValueError(f"{file}: {slot}() takes {len(names)} arguments: {arg!r}")
            return template.format(**dict(zip(names, args, strict=True)))
        where, _, fragment = slots[slot].rpartition(":")
        known = queries(where or file)
        if fragment not in known:
            raise ValueError(f"{where or file}: no fragment {fragment!r} for slot {slot!r}")
        return _SLOT.sub(fill, known[fragment])

    return _SLOT.sub(fill, queries(file)[name])


def _split_args(text: str) -> list[str]:
    """The comma-separated arguments of a formula call, commas inside parentheses kept."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    return [*out, cur.strip()]


class Runner:
    """Runs the DuckDB-dialect queries on the engine holding the atlas tables."""

    def has_table(self, name: str) -> bool:
        raise NotImplementedError

    def columns_of(self, name: str) -> set[str]:
        """The column names of table ``name``."""
        raise NotImplementedError

    def df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def column(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The first column of ``sql``'s result."""
        return list(self.df(sql, params).iloc[:, 0])

    def kept(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()``, which reads only this runner's tables; a runner that remembers its
        answers while the atlas cannot change keeps it under ``key``; this one computes it each
        time."""
        return compute()


class DuckDBRunner(Runner):
    """A DuckDB connection, or an Ibis DuckDB backend: parameters bound by DuckDB."""

    def __init__(self, con: Any, *, atlas: Any = None) -> None:
        """``atlas``: the :class:`critmin.atlas.Atlas` whose connection ``con`` is; a query a
        command line prefetched on it (:func:`critmin.plans.prefetch`) is taken from there."""
        self.con = con
        self.atlas = atlas
        self._tables: set[str] | None = None

    def has_table(self, name: str) -> bool:
        if self._tables is None:  # (one lookup for the runner's several checks)
            self._tables = set(self.column("SELECT table_name FROM information_schema.tables"))
        return name in self._tables

    def columns_of(self, name: str) -> set[str]:
        return set(self.column("SELECT column_name FROM information_schema.columns "
                               "WHERE table_name = $name", {"name": name}))

    def df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if hasattr(self.con, "raw_sql"):  # an Ibis backend
            return self.con.raw_sql(sql, parameters=_used(sql, params)).df()
        return self._fetch(sql, params, lambda result: result.df())

    def column(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The first column of ``sql``'s result, as Python values (no DataFrame is built: the
        input checks run several such lookups before the main query)."""
        if hasattr(self.con, "raw_sql"):
            return super().column(sql, params)
        return self._fetch(sql, params, lambda result: [r[0] for r in result.fetchall()])

    def _fetch(self, sql: str, params: Mapping[str, Any] | None, fetch: Callable[[Any], T]
               ) -> T:
        """``fetch`` of the result of ``sql``: the one a command line started ahead on the
        atlas (:func:`critmin.plans.prefetched_query`, the same query and parameters run on
        the same connection), else run now."""
        used = _used(sql, params)
        if self.atlas is not None:
            from critmin import plans

            ahead = plans.prefetched_query(self.atlas, sql, used)
            if ahead is not None:
                try:
                    return fetch(ahead)
                finally:
                    ahead.close()
        return fetch(self.con.execute(sql, used))


class SparkRunner(Runner):
    """A Spark session whose catalog holds the atlas tables as views: the query transpiled by
    sqlglot, each parameter a literal node of the syntax tree, run by Spark SQL."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def has_table(self, name: str) -> bool:
        return bool(self.session.catalog.tableExists(name))

    def columns_of(self, name: str) -> set[str]:
        return set(self.session.table(name).columns)

    def df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        import sqlglot
        from sqlglot import exp

        values = _used(sql, params)

        def bind(node: exp.Expression) -> exp.Expression:
            return _literal(values[node.name]) if isinstance(node, exp.Placeholder) else node

        tree = sqlglot.parse_one(sql, read="duckdb").transform(bind)
        return self.session.sql(tree.sql(dialect="spark")).toPandas()


def _literal(value: Any) -> Any:
    """A sqlglot literal for a parameter value: scalars, lists, and dicts as structs."""
    from sqlglot import exp

    if isinstance(value, Mapping):
        return exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier(k), expression=_literal(v))
            for k, v in value.items()])
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[_literal(v) for v in value])
    return exp.convert(value)


def _used(sql: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters ``sql`` names (DuckDB refuses unused ones); a missing one raises."""
    names = set(_PARAM.findall(sql))
    params = params or {}
    missing = names - set(params)
    if missing:
        raise ValueError(f"unbound SQL parameters: {sorted(missing)}")
    return {k: params[k] for k in names}


def runner(source: Any, tables: tuple[str, ...]) -> Runner:
    """The runner for ``source``: an :class:`critmin.atlas.Atlas`, a
    :class:`critmin.engine.ParquetAtlas` (DuckDB or Spark; ``tables`` are registered as views of
    their names first) or an Ibis DuckDB backend holding the atlas tables."""
    from critmin.atlas import Atlas
    from critmin.engine import ParquetAtlas

    if isinstance(source, ParquetAtlas):
        for name in tables:  # reading a table registers it as a view of its name
            with contextlib.suppress(CritminError):  # a table the export lacks
                source.table(name)
        return SparkRunner(source.session) if source.engine == "spark" else DuckDBRunner(
            source.con)
    if isinstance(source, Atlas):
        return DuckDBRunner(source.duckdb_connection, atlas=source)
    if getattr(source, "name", None) == "duckdb":
        return DuckDBRunner(source)
    raise CritminError(f"cannot run SQL on {type(source).__name__}: pass an Atlas, a "
                       "ParquetAtlas or an Ibis DuckDB backend")
