"""The cooperation registry over HTTP: read (everyone) and edit (analysts).

Edits are validated by :class:`critmin.cooperation.registry.Registry` (the same checks as
``critmin coop add``), stored in the operational database (``registry_edits``, with an audit
entry) and replayed over the atlas's registry: the atlas file itself stays read-only while it is
served. ``GET /api/v1/coop/{table}`` shows the registry with the edits applied.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from critmin.api import watch
from critmin.api._core import (
    AtlasPool,
    FmtPath,
    client_ip,
    fail,
    fresh_copy,
    json_response,
    principal,
    render_frame,
    require,
)
from critmin.auth import Principal
from critmin.errors import SpecError
from critmin.output import Format
from critmin.storage import audit
from critmin.storage.models import RegistryEdit

router = APIRouter(tags=["cooperation"])


class RegistryTable(str, Enum):
    frameworks = "frameworks"
    agreements = "agreements"
    projects = "projects"
    memberships = "memberships"
    groups = "groups"


class Overlay:
    """The atlas's registry with the stored edits replayed (cached by the last edit id), and the
    rendered list responses of that registry state (dropped with it).

    Every read asks the operational database for the last edit id, so an edit made through any
    worker process is seen by the next request to every worker.
    """

    max_responses = 256

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reg: Any = None
        self._last: int | None = -1
        self._responses: OrderedDict[Any, Response] = OrderedDict()

    def current(self, pool: AtlasPool, s: Any) -> Any:
        from critmin.cooperation.registry import Registry

        last = s.scalar(select(func.max(RegistryEdit.id)))
        with self.lock:
            if self._reg is not None and self._last == last:
                return self._reg
            reg = Registry.from_atlas(pool.atlas())
            for e in s.scalars(select(RegistryEdit).order_by(RegistryEdit.id)):
                apply(reg, e.table_name, e.action, e.record_id, e.payload)
            self._reg, self._last = reg, last
            self._responses.clear()
            return reg

    def response(self, reg: Any, key: Any, render: Callable[[], Response]) -> Response:
        """``render()``'s response for registry state ``reg`` (from :meth:`current`), kept while
        ``reg`` is the current state; a fresh copy is returned each time."""
        with self.lock:
            hit = self._responses.get(key) if reg is self._reg else None
            if hit is not None:
                self._responses.move_to_end(key)
        if hit is None:
            hit = render()
            with self.lock:
                if reg is self._reg:
                    self._responses[key] = hit
                    while len(self._responses) > self.max_responses:
                        self._responses.popitem(last=False)
        return fresh_copy(hit)

    def invalidate(self) -> None:
        with self.lock:
            self._reg, self._last = None, -1
            self._responses.clear()


def apply(reg: Any, table: str, action: str, record_id: str, payload: dict[str, Any]) -> str:
    return str(reg.apply_edit(table, action, record_id, payload))


def _list(request: Request, table: RegistryTable, country: str | None, mineral: str | None,
          fmt: Format) -> Response:
    pool: AtlasPool = request.app.state.atlas
    overlay: Overlay = request.app.state.overlay
    with request.app.state.store.session() as s:
        reg = overlay.current(pool, s)

    def render() -> Response:
        df = reg.list(table.value, country=country, mineral=mineral)
        atlas_name = "country_groups" if table is RegistryTable.memberships else table.value
        return render_frame(df, fmt, name=table.value, ann=pool.annotations([atlas_name]))

    return overlay.response(reg, (table, country, mineral, fmt), render)


Country = Annotated[str | None, Query(max_length=3, description="ISO3: records involving it.")]
MineralQ = Annotated[str | None, Query(max_length=60, description="Mineral id.")]


@router.get("/coop/registry/{table}.{fmt}", summary="Registry records in a chosen format")
def list_records_fmt(request: Request, table: RegistryTable, fmt: FmtPath, country: Country = None,
                     mineral: MineralQ = None) -> Response:
    """Registry records (with edits made through the service), filtered as `critmin coop list`."""
    return _list(request, table, country, mineral, Format(fmt))


@router.get("/coop/registry/{table}", summary="Registry records")
def list_records(request: Request, table: RegistryTable, country: Country = None,
                 mineral: MineralQ = None) -> Response:
    """Registry records (with edits made through the service), filtered as `critmin coop list`."""
    return _list(request, table, country, mineral, Format.json)


def _edit(request: Request, who: Principal, table: RegistryTable, action: str, record_id: str,
          payload: dict[str, Any]) -> Response:
    require(who, check=lambda p: p.can_analyse, what="edit the registry")
    state = request.app.state
    overlay: Overlay = state.overlay
    with state.store.session() as s:
        reg = copy.deepcopy(overlay.current(state.atlas, s))
        try:
            rid = apply(reg, table.value, action, record_id, payload)
        except SpecError as exc:  # unknown record: 404; invalid record: 422
            if "has no record" in str(exc):
                raise fail(404, str(exc)) from None
            raise
        s.add(RegistryEdit(table_name=table.value, record_id=rid, action=action,
                           payload=payload, user_id=who.user_id))
        audit(s, f"registry.{action}", actor=who.username, user_id=who.user_id,
              target=f"{table.value}:{rid}", detail=payload, ip=client_ip(request))
    overlay.invalidate()
    resp = json_response({"ok": True, "table": table.value, "action": action, "id": rid},
                         status=201 if action == "add" else 200)
    resp.background = watch.after_registry_edit(state.store, state.atlas)
    return resp


Record = Annotated[dict[str, Any], Body(description="Fields of the record (as in the registry "
                                        "CSVs; lists as JSON arrays or ';'-separated text).")]


@router.post("/coop/registry/{table}", status_code=201, summary="Add a record (analysts)")
def add_record(request: Request, table: RegistryTable, record: Record,
               who: Principal = Depends(principal)) -> Response:
    """Validate a record and add it to the registry (as `critmin coop add`)."""
    return _edit(request, who, table, "add", "", record)


@router.patch("/coop/registry/{table}/{record_id}", summary="Edit a record (analysts)")
def edit_record(request: Request, table: RegistryTable,
                record_id: Annotated[str, Path(max_length=120)], changes: Record,
                who: Principal = Depends(principal)) -> Response:
    """Change fields of one record; the whole record is validated again."""
    return _edit(request, who, table, "edit", record_id, changes)


@router.delete("/coop/registry/{table}/{record_id}", summary="Remove a record (analysts)")
def remove_record(request: Request, table: RegistryTable,
                  record_id: Annotated[str, Path(max_length=120)],
                  who: Principal = Depends(principal)) -> Response:
    """Remove one record (refused while other records refer to it)."""
    if not record_id:
        raise fail(404, "no record id")
    return _edit(request, who, table, "remove", record_id, {})
