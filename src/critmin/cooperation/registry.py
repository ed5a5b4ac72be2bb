"""The cooperation registry: who cooperates with whom, on what, and which projects they back.

Five tables of validated records (:mod:`critmin.cooperation.models`):

========== ==================== =============================================================
name       atlas table          content
========== ==================== =============================================================
groups     ``groups``           country groups whose memberships are listed (MSP, IPEF, ...)
frameworks ``frameworks``       frameworks and partnerships (MSP, IPEF-SCA, QUAD-CMI, ...)
memberships ``country_groups``  dated memberships of countries in groups
agreements ``agreements``       bilateral agreements, memoranda and dialogues
projects   ``projects``         supply projects with capacity, stage, status and sponsors
========== ==================== =============================================================

Load it from the package's curated CSVs (:meth:`Registry.from_package`), a CSV folder
(:meth:`Registry.from_folder`) or an atlas (:meth:`Registry.from_atlas`); list and filter with
:meth:`Registry.list`; edit with :meth:`Registry.add` / :meth:`Registry.edit` /
:meth:`Registry.remove` (each change is validated before it is applied; ``version=`` makes
it conditional on the record's :func:`record_version`, for optimistic concurrency); save with
:meth:`Registry.save_csv` or :meth:`Registry.save_atlas` (atomic: a temporary copy is written
and swapped into place with :func:`os.replace`).

>>> reg = Registry.from_package()
>>> sorted(reg.list("projects", country="IND", mineral="rare_earths").id)[:2]
['IREL-OSCOM-REO', 'IREL-REPM-VIZAG']
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from critmin import inputs
from critmin.cooperation.models import (
    MODELS,
    Agreement,
    Context,
    Framework,
    Group,
    Membership,
    Project,
    Record,
    parse,
)
from critmin.errors import ChoiceError, ConflictError, InputError, SpecError

#: Registry tables and the atlas / CSV table each is stored in.
TABLES: dict[str, str] = {
    "groups": "groups",
    "frameworks": "frameworks",
    "memberships": "country_groups",
    "agreements": "agreements",
    "projects": "projects",
}
#: Frameworks whose memberships are listed under another group id in ``country_groups``.
FRAMEWORK_GROUP: dict[str, str] = {"IPEF-SCA": "IPEF", "QUAD-CMI": "QUAD"}


class Registry:
    """All cooperation records, validated together (ids unique, references resolved)."""

    def __init__(self, records: dict[str, list[Record]], ctx: Context) -> None:
        self.records = {t: list(records.get(t, [])) for t in TABLES}
        self.ctx = ctx

    def copy(self) -> Registry:
        """A registry that edits do not share with this one. Records are never changed in
        place (an edit replaces the edited record and its table's list: :meth:`_apply`), so the
        lists are copied and the records shared: O(records) pointers instead of a deep copy of
        every record (which a server paid on every edit)."""
        return Registry(self.records, self.ctx)

    # ---------------------------------------------------------------- loading

    @classmethod
    def from_rows(cls, rows: dict[str, Iterable[dict[str, Any]]], ctx: Context | None = None
                  ) -> Registry:
        """Validate raw rows per table. Every record is checked; the error names the first
        problem and how many more there are."""
        base = ctx or Context.default()
        problems: list[str] = []
        parsed: dict[str, list[Record]] = {}
        # groups and frameworks first: their launch dates validate memberships
        for t in ("frameworks", "groups"):
            parsed[t] = _parse_all(t, rows.get(t, []), base, problems)
        ctx = base.with_launched(_launched(parsed["frameworks"], parsed["groups"]))
        for t in ("memberships", "agreements", "projects"):
            parsed[t] = _parse_all(t, rows.get(t, []), ctx, problems)
        reg = cls(parsed, ctx)
        problems += reg.cross_problems()
        if problems:
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise SpecError(problems[0] + more)
        return reg

    @classmethod
    def from_package(cls, ctx: Context | None = None) -> Registry:
        """The curated records shipped in ``critmin/data`` (see its SOURCES.md)."""
        from critmin import reference

        return cls.from_rows({t: reference.rows(f) or [] for t, f in TABLES.items()}, ctx)

    @classmethod
    def from_folder(cls, folder: str | Path, ctx: Context | None = None) -> Registry:
        """Records from ``<folder>/<table>.csv`` (``country_groups.csv`` for memberships)."""
        folder = Path(folder)
        rows: dict[str, list[dict[str, str]]] = {}
        for t, f in TABLES.items():
            path = folder / f"{f}.csv"
            if not path.exists():
                raise InputError(path, f"missing registry file {f}.csv")
            rows[t] = inputs.read_csv_records(path, "registry")
        return cls.from_rows(rows, ctx)

    @classmethod
    def from_atlas(cls, atlas: Any = None, ctx: Context | None = None) -> Registry:
        """Records stored in an atlas (an :class:`~critmin.atlas.Atlas`, a path, or None for the
        default atlas)."""
        import duckdb

        from critmin.atlas import Atlas

        path = atlas.path if isinstance(atlas, Atlas) else Atlas.open(atlas).path
        con = duckdb.connect(str(path), read_only=True)
        try:
            present = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()}
            rows: dict[str, list[dict[str, Any]]] = {}
            for t, name in TABLES.items():
                if name not in present:
                    raise SpecError(f"atlas {path} has no {name} table: rebuild it with "
                                    "'critmin atlas build'")
                rows[t] = con.sql(f'SELECT * FROM "{name}"').to_arrow_table().to_pylist()
        finally:
            con.close()
        return cls.from_rows(rows, ctx)

    # ---------------------------------------------------------------- checks

    def cross_problems(self) -> list[str]:
        """Problems between records: duplicate ids and references to unknown records."""
        out: list[str] = []
        for t in ("groups", "frameworks", "agreements", "projects"):
            seen: set[str] = set()
            for r in self.records[t]:
                rid = r.record_id()
                if rid in seen:
                    out.append(f"{t} record {rid!r}: duplicate id")
                seen.add(rid)
        seen_m: set[tuple[str, str, Any]] = set()
        for m in self._memberships():
            key = (m.group_id, m.iso3 or m.member_group or "", m.joined)
            if key in seen_m:
                out.append(f"memberships record {m.record_id()!r}: duplicate membership")
            seen_m.add(key)
        known = self._ids("frameworks") | self._ids("groups") | self._ids("agreements")
        for p in self._projects():
            out += [f"projects record {p.id!r}, field 'frameworks': unknown framework, group or "
                    f"agreement id {f!r}" for f in p.frameworks if f not in known]
        return out

    # ---------------------------------------------------------------- reading

    def get(self, table: str, record_id: str) -> Record:
        for r in self._table(table):
            if r.record_id() == record_id:
                return r
        raise SpecError(f"{table} has no record {record_id!r}")

    def version(self, table: str, record_id: str) -> str:
        """The version of one record (:func:`record_version`): what ``version=`` of
        :meth:`edit` and :meth:`remove`, and the HTTP ``ETag`` / ``If-Match``, compare."""
        return record_version(self.get(table, record_id))

    def check_version(self, table: str, record_id: str, version: str | None) -> None:
        """Raise :class:`ConflictError` unless record ``record_id`` of ``table`` is at
        ``version`` (None: no condition; a missing record raises ``SpecError``)."""
        if version is None:
            return
        current = self.version(table, record_id)
        if current != version.strip():
            raise ConflictError(f"{table} record {record_id!r} is at version {current}, not "
                                f"{version.strip()}: it was changed since it was read; read it "
                                "again and retry")

    def frame(self, table: str) -> pd.DataFrame:
        """All records of ``table`` as a DataFrame (lists kept as Python lists)."""
        model = MODELS[self._check(table)]
        return pd.DataFrame([r.model_dump() for r in self.records[table]],
                            columns=list(model.model_fields))

    def members(self, group_id: str, on: dt.date | None = None) -> list[str]:
        """ISO3 codes of the countries in ``group_id`` (a group or a framework id) on date
        ``on`` (default: today; a null ``joined`` counts as always)."""
        gid = FRAMEWORK_GROUP.get(group_id, group_id)
        on = on or dt.date.today()
        return sorted({m.iso3 for m in self._memberships() if m.group_id == gid and m.iso3
                       and (m.joined is None or m.joined <= on)
                       and (m.left is None or m.left >= on)})

    def list(self, table: str, *, country: str | None = None, mineral: str | None = None
             ) -> pd.DataFrame:
        """Records of ``table``, filtered.

        ``country`` keeps projects hosted in or partnered by the country, agreements it is a
        party to, frameworks and groups it is a current member of, and its memberships.
        ``mineral`` keeps projects of that mineral and agreements naming it (it does not apply to
        frameworks, groups or memberships, which are not mineral-specific).
        """
        df = self.frame(self._check(table))
        if mineral is not None:
            if mineral not in self.ctx.minerals:
                raise ChoiceError("mineral", mineral, sorted(self.ctx.minerals))
            if table == "projects":
                df = df[df.mineral == mineral]
            elif table == "agreements":
                df = df[df.minerals.map(lambda ms: mineral in ms)]
            else:
                raise SpecError(f"{table} are not mineral-specific: filter projects or "
                                "agreements by mineral")
        if country is not None:
            c = country.upper()
            if c not in self.ctx.iso3:
                raise SpecError(f"unknown country code {country!r}: use ISO 3166 alpha-3")
            if table == "projects":
                df = df[(df.country == c) | df.partner_countries.map(lambda ps: c in ps)]
            elif table == "agreements":
                df = df[df.parties.map(lambda ps: c in ps)]
            elif table == "memberships":
                df = df[df.iso3 == c]
            else:
                key = "group_id" if table == "groups" else "id"
                df = df[df[key].map(lambda g: c in self.members(g))]
        if table == "frameworks":
            df = df.assign(members=[";".join(self.members(g)) or None for g in df.id])
        return df.reset_index(drop=True)

    # ---------------------------------------------------------------- editing

    def add(self, table: str, row: dict[str, Any]) -> Record:
        """Validate ``row`` and add it; refuses a duplicate id."""
        rec = parse(self._check(table), row, self.ctx)
        if table != "memberships" and rec.record_id() in self._ids(table):
            raise SpecError(f"{table} record {rec.record_id()!r}: id exists already; use edit")
        self._apply(table, [*self.records[table], rec])
        return rec

    def edit(self, table: str, record_id: str, changes: dict[str, Any], *,
             version: str | None = None) -> Record:
        """Change fields of one record (validated as a whole after the change); with
        ``version``, only if the record is at that version (:meth:`check_version`)."""
        old = self.get(self._check(table), record_id)
        self.check_version(table, record_id, version)
        rec = parse(table, {**old.model_dump(), **changes}, self.ctx)
        self._apply(table, [rec if r is old else r for r in self.records[table]])
        return rec

    def remove(self, table: str, record_id: str, *, version: str | None = None) -> Record:
        """Remove one record; refuses when another record refers to it; with ``version``, only
        if the record is at that version (:meth:`check_version`)."""
        old = self.get(self._check(table), record_id)
        self.check_version(table, record_id, version)
        users = [p.id for p in self._projects() if record_id in p.frameworks]
        if table in ("frameworks", "groups", "agreements") and users:
            raise SpecError(f"{table} record {record_id!r} is referenced by projects "
                            f"{', '.join(users)}: edit or remove them first")
        if table == "groups" and any(m.group_id == record_id for m in self._memberships()):
            raise SpecError(f"groups record {record_id!r} has memberships: remove them first")
        self._apply(table, [r for r in self.records[table] if r is not old])
        return old

    def apply_edit(self, table: str, action: str, record_id: str, payload: dict[str, Any]) -> str:
        """Replay one stored edit (``add``, ``edit`` or ``remove``); returns the record id."""
        if action == "add":
            return str(self.add(table, payload).record_id())
        if action == "edit":
            return str(self.edit(table, record_id, payload).record_id())
        self.remove(table, record_id)
        return record_id

    def replay(self, edits: Iterable[Any]) -> list[int]:
        """Apply stored edits (objects with ``id``, ``table_name``, ``action``, ``record_id``,
        ``payload``) in order. Replaying never fails: an edit that no longer applies (a second
        ``remove`` of one record or a second ``add`` of one id, as stored by the write race of
        versions before migration 0005_httphard) is skipped with a warning; the ids of the
        skipped edits are returned."""
        import logging

        skipped = []
        for e in edits:
            try:
                self.apply_edit(e.table_name, e.action, e.record_id, e.payload)
            except SpecError as exc:
                skipped.append(e.id)
                logging.getLogger("critmin.cooperation").warning(
                    "registry edit %s (%s %s:%s) skipped on replay: %s", e.id, e.action,
                    e.table_name, e.record_id, exc)
        return skipped

    def _apply(self, table: str, new: list[Record]) -> None:
        trial = Registry({**self.records, table: new}, self.ctx)
        problems = trial.cross_problems()
        if problems:
            raise SpecError(problems[0])
        self.records[table] = new

    # ---------------------------------------------------------------- saving

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Flat rows of ``table`` (lists joined with ';', dates ISO)."""
        return [r.row() for r in self._table(table)]

    def save_csv(self, folder: str | Path) -> list[Path]:
        """Write one CSV per table into ``folder`` (each written to a temp file, then swapped)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for t, name in TABLES.items():
            path = folder / f"{name}.csv"
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(MODELS[t].model_fields), lineterminator="\n")
                w.writeheader()
                w.writerows(self.rows(t))
            os.replace(tmp, path)
            out.append(path)
        return out

    def save_atlas(self, path: str | Path | None = None) -> Path:
        """Replace the registry tables of the atlas at ``path`` (default atlas) with these
        records, atomically: the atlas is copied to a temporary file beside it, updated there and
        swapped into place with :func:`os.replace`. Memberships without an ISO3 code (the EU) are
        kept in the CSVs only: the atlas table lists countries."""
        from critmin import atlas as _atlas

        path = Path(path) if path is not None else _atlas.Atlas.open(None).path
        if not path.exists():
            raise SpecError(f"no atlas at {path}")
        with _atlas.atomic_update(path, tag="registry") as con:
            for t, name in TABLES.items():
                rows = [{k: (None if v is None else str(v)) for k, v in r.items()}
                        for r in self.rows(t)]
                con.execute(f'DELETE FROM "{name}"')
                _atlas._insert(con, name, _atlas._to_arrow(name, rows))
        return path

    # ---------------------------------------------------------------- helpers

    def _check(self, table: str) -> str:
        if table not in TABLES:
            raise SpecError(f"unknown registry table {table!r}; use one of {', '.join(TABLES)}")
        return table

    def _table(self, table: str) -> list[Record]:
        return self.records[self._check(table)]

    def _ids(self, table: str) -> set[str]:
        return {r.record_id() for r in self.records[table]}

    def _projects(self) -> list[Project]:
        return [r for r in self.records["projects"] if isinstance(r, Project)]

    def _memberships(self) -> list[Membership]:
        return [r for r in self.records["memberships"] if isinstance(r, Membership)]

    @property
    def projects(self) -> list[Project]:
        return self._projects()

    @property
    def agreements(self) -> list[Agreement]:
        return [r for r in self.records["agreements"] if isinstance(r, Agreement)]

    @property
    def frameworks(self) -> list[Framework]:
        return [r for r in self.records["frameworks"] if isinstance(r, Framework)]


def record_version(rec: Record) -> str:
    """A record's version: the first 16 hex digits of the SHA-256 of its fields (as JSON with
    sorted keys). It changes with every change of the record, whoever made it (the HTTP API,
    ``critmin coop``, a rebuilt atlas), and is the same in every process.

    >>> reg = Registry.from_package()
    >>> len(record_version(reg.get("projects", "IREL-OSCOM-REO")))
    16
    """
    import hashlib
    import json

    text = json.dumps(rec.row(), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _parse_all(table: str, rows: Iterable[dict[str, Any]], ctx: Context,
               problems: list[str]) -> list[Record]:
    out = []
    for row in rows:
        try:
            out.append(parse(table, dict(row), ctx))
        except SpecError as exc:
            problems.append(str(exc))
    return out


def _launched(frameworks: list[Record], groups: list[Record]) -> dict[str, dt.date]:
    out: dict[str, dt.date] = {}
    for f in frameworks:
        if isinstance(f, Framework):
            out[f.id] = f.launched
    for g in groups:  # memberships refer to groups: their dates win
        if isinstance(g, Group):
            out[g.group_id] = g.launched
    return out


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows from a ``.json`` file (an object or a list of objects) or a ``.csv`` file."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.suffix.lower() == ".json":
        data = inputs.load_json(path, "registry")
        data = [data] if isinstance(data, dict) else data
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise InputError(path, "expected a JSON object or a list of objects")
        return data
    if path.suffix.lower() == ".csv":
        return inputs.read_csv_records(path, "registry")
    raise InputError(path, "expected a .json or .csv file")
