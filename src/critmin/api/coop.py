"""The cooperation registry over HTTP: read (everyone) and edit (analysts).

Edits are validated by :class:`critmin.cooperation.registry.Registry` (the same checks as
``critmin coop add``), stored in the operational database (``registry_edits``, with an audit
entry) and replayed over the atlas's registry: the atlas file itself stays read-only while it is
served. ``GET /api/v1/coop/{table}`` shows the registry with the edits applied.

Optimistic concurrency: ``GET /api/v1/coop/registry/{table}/{id}`` answers one record with its
version (:func:`critmin.cooperation.registry.record_version`) in the body and as the ``ETag``;
``PATCH`` and ``DELETE`` with ``If-Match: "<version>"`` (or ``"version"`` in the JSON body) apply
only while the record is at that version, else 409. Of concurrent conditional edits of one record
exactly one wins. Without a version a write is still accepted (as before: validated against the
registry as it is when the write is stored).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

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
from critmin.errors import ConflictError, SpecError
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
    worker process is seen by the next request to every worker. Replaying never fails: a stored
    edit that no longer applies (a second ``remove`` of one record, a second ``add`` of one id,
    both stored by the race of versions before revision 0005_httphard) is skipped, and its id is listed
    in :attr:`skipped`.
    """

    max_responses = 256

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reg: Any = None
        self._last: int | None = -1
        self._responses: OrderedDict[Any, Response] = OrderedDict()
        self._views: dict[Any, Any] = {}
        self.skipped: list[int] = []

    def current(self, pool: AtlasPool, s: Any) -> Any:
        """The registry as of the last stored edit."""
        return self.state(pool, s)[0]

    def state(self, pool: AtlasPool, s: Any) -> tuple[Any, int]:
        """``(registry, id of the last edit replayed into it)`` (0 when there is no edit)."""
        from critmin.cooperation.registry import Registry

        last = s.scalar(select(func.max(RegistryEdit.id))) or 0
        with self.lock:
            if self._reg is not None and self._last == last:
                return self._reg, last
            if self._reg is not None and self._last is not None and 0 <= self._last < last:
                # edits commit in id order (each names the one before it), so the newer ones
                # are applied to a copy of the cached state
                reg, since, skipped = self._reg.copy(), self._last, list(self.skipped)
            else:
                reg, since, skipped = Registry.from_atlas(pool.atlas()), 0, []
            skipped += reg.replay(s.scalars(
                select(RegistryEdit).where(RegistryEdit.id > since, RegistryEdit.id <= last)
                .order_by(RegistryEdit.id)))
            self._reg, self._last, self.skipped = reg, last, skipped
            self._responses.clear()
            self._views.clear()
            return reg, last

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

    def view(self, reg: Any, key: Any, compute: Callable[[Any], Any]) -> Any:
        """``compute(reg)`` for registry state ``reg`` (from :meth:`current`), kept while
        ``reg`` is the current state (a page's tables and charts: the value is shared, callers
        must not change it)."""
        with self.lock:
            if reg is self._reg and key in self._views:
                return self._views[key]
        value = compute(reg)
        with self.lock:
            if reg is self._reg:
                self._views[key] = value
        return value

    def invalidate(self) -> None:
        with self.lock:
            self._reg, self._last = None, -1
            self._responses.clear()
            self._views.clear()


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


#: How often a write re-validates after losing the race for the next edit to other records.
MAX_RETRIES = 50


def _edit(request: Request, who: Principal, table: RegistryTable, action: str, record_id: str,
          payload: dict[str, Any], version: str | None = None) -> Response:
    """Validate one change against the current registry and append it as the next edit.

    Writers race for the next place in the chain of edits (the unique ``prev_id``): exactly one
    wins a given registry state. A loser re-reads the registry and tries again, unless a
    concurrent edit touched the same record: then the change was validated against a record
    that no longer is as it saw it, and the answer is 409. Adding an id that exists, and removing
    or editing a record that a stored edit removed, are 409 as well; a record that never existed
    is 404; an invalid record is 422. With ``version`` (from ``If-Match`` or the body), the
    change applies only while the record is at that version, checked against the state the edit
    is chained to: a stale version is 409, so of concurrent conditional edits exactly one wins."""
    require(who, check=lambda p: p.can_analyse, what="edit the registry")
    state = request.app.state
    overlay: Overlay = state.overlay
    target = record_id or _payload_id(table.value, payload)
    for _ in range(MAX_RETRIES):
        with state.store.session() as s:
            current, last = overlay.state(state.atlas, s)
            try:
                current.check_version(table.value, record_id, version)
                reg = current.copy()
                rid = apply(reg, table.value, action, record_id, payload)
            except ConflictError as exc:
                raise fail(409, str(exc)) from None
            except SpecError as exc:
                raise _refused(s, table.value, target, str(exc)) from None
        try:
            with state.store.session() as s:
                s.add(RegistryEdit(table_name=table.value, record_id=rid, action=action,
                                   payload=payload, user_id=who.user_id, prev_id=last))
                s.flush()
                audit(s, f"registry.{action}", actor=who.username, user_id=who.user_id,
                      target=f"{table.value}:{rid}", detail=payload, ip=client_ip(request))
        except IntegrityError:  # another writer appended an edit to the state we validated
            with state.store.session() as s:
                raced = s.scalars(select(RegistryEdit.record_id).where(
                    RegistryEdit.id > last, RegistryEdit.table_name == table.value)).all()
            if target is not None and target in raced:
                raise fail(409, f"{table.value} record {target!r} was changed by a concurrent "
                           "request: read it again and retry") from None
            continue
        new_version = None if action == "remove" else reg.version(table.value, rid)
        resp = json_response({"ok": True, "table": table.value, "action": action, "id": rid,
                              "version": new_version}, status=201 if action == "add" else 200,
                             headers={"ETag": f'"{new_version}"'} if new_version else None)
        resp.background = watch.after_registry_edit(state.store, state.atlas)
        return resp
    raise fail(409, "the registry is changing too fast: retry")


def _payload_id(table: str, payload: dict[str, Any]) -> str | None:
    """The id a new record of ``table`` would have (None when the payload does not say)."""
    from critmin.cooperation.models import MODELS

    value = payload.get(MODELS[table].id_field)
    return value.strip() if isinstance(value, str) else None


def _refused(s: Any, table: str, target: str | None, message: str) -> Exception:
    """The HTTP error for a change the registry refused: 409 when the record exists already or
    a stored edit removed it, 404 when it never existed, else the validation error (422)."""
    if "id exists already" in message or "duplicate" in message:
        return fail(409, message)
    if "has no record" in message:
        removed = target is not None and s.scalar(select(RegistryEdit.id).where(
            RegistryEdit.table_name == table, RegistryEdit.record_id == target,
            RegistryEdit.action == "remove").limit(1)) is not None
        if removed:
            return fail(409, f"{table} record {target!r} was removed by an earlier edit")
        return fail(404, message)
    return SpecError(message)


Record = Annotated[dict[str, Any], Body(description="Fields of the record (as in the registry "
                                        "CSVs; lists as JSON arrays or ';'-separated text).")]
RecordId = Annotated[str, Path(max_length=120)]
IfMatch = Annotated[str | None, Header(
    alias="If-Match", max_length=200,
    description='The version of the record the change is made against, as GET answers it in '
    '`ETag` (`"<version>"`): a record at another version is not changed (409).')]


def _version(if_match: str | None, body: dict[str, Any] | None) -> str | None:
    """The version a write is conditional on: the ``If-Match`` entity tag (quotes and ``W/``
    taken off; ``*`` is no condition) or the body's ``version`` (taken out of the body)."""
    from_body = body.pop("version", None) if body is not None else None
    if from_body is not None and not isinstance(from_body, str):
        raise fail(422, "version: expected the record's version as text (as GET answers it)")
    tag = None
    if if_match is not None and if_match.strip() != "*":
        if "," in if_match:
            raise fail(400, "If-Match: give one entity tag (the record's version)")
        tag = if_match.strip().removeprefix("W/").strip().strip('"')
    if tag is not None and from_body is not None and tag != from_body.strip():
        raise fail(400, "If-Match and the body's version differ")
    return tag if tag is not None else from_body


@router.get("/coop/registry/{table}/{record_id}", summary="One record and its version")
def get_record(request: Request, table: RegistryTable, record_id: RecordId) -> Response:
    """One registry record (with edits made through the service) and its version, also sent as
    the `ETag`: send it back as `If-Match` to edit or remove the record only if nobody changed it
    in between."""
    state = request.app.state
    with state.store.session() as s:
        reg = state.overlay.current(state.atlas, s)
    rec = reg.get(table.value, record_id)
    version = reg.version(table.value, record_id)
    return json_response({"ok": True, "table": table.value, "id": record_id, "version": version,
                          "record": rec.row()}, headers={"ETag": f'"{version}"'})


@router.post("/coop/registry/{table}", status_code=201, summary="Add a record (analysts)")
def add_record(request: Request, table: RegistryTable, record: Record,
               who: Principal = Depends(principal)) -> Response:
    """Validate a record and add it to the registry (as `critmin coop add`)."""
    return _edit(request, who, table, "add", "", record)


@router.patch("/coop/registry/{table}/{record_id}", summary="Edit a record (analysts)")
def edit_record(request: Request, table: RegistryTable, record_id: RecordId, changes: Record,
                who: Principal = Depends(principal), if_match: IfMatch = None) -> Response:
    """Change fields of one record; the whole record is validated again. With `If-Match` (or
    `"version"` in the body): only if the record is still at that version, else 409."""
    version = _version(if_match, changes)
    return _edit(request, who, table, "edit", record_id, changes, version)


@router.delete("/coop/registry/{table}/{record_id}", summary="Remove a record (analysts)")
def remove_record(request: Request, table: RegistryTable, record_id: RecordId,
                  who: Principal = Depends(principal), if_match: IfMatch = None,
                  body: Annotated[dict[str, Any] | None, Body(
                      description='Optional: {"version": "<version>"} (as If-Match).')] = None,
                  ) -> Response:
    """Remove one record (refused while other records refer to it). With `If-Match` (or
    `"version"` in the body): only if the record is still at that version, else 409."""
    if not record_id:
        raise fail(404, "no record id")
    version = _version(if_match, dict(body) if body else None)
    return _edit(request, who, table, "remove", record_id, {}, version)
