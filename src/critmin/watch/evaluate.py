"""Evaluate every active rule against the atlas and the registries; store what fired.

One evaluation computes each watched indicator once (:func:`critmin.watch.indicators.compute`),
compares it with what each rule saw last time (``watch_states``), and in **one transaction**
writes the new alerts, one pending delivery per alert and active channel, and the rules' new
states. Notifications are sent afterwards (:mod:`critmin.watch.delivery`), so an alert is never
lost: it is in the database before anything is sent, and a delivery that fails stays pending.

Alerts are deduplicated by a key built from the rule and the data it fired on (the unique
``alerts.dedupe_key``): evaluating twice on the same atlas, or two evaluations racing, never
raise the same alert twice.

Triggers: ``atlas-build`` (after ``critmin atlas build``), ``registry`` (after a registry edit
through the service; event rules only) and ``on-demand`` (``critmin watch check``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from critmin.storage.models import Alert, Delivery, RegistryEdit, WatchChannel, WatchRule, WatchState
from critmin.watch import indicators
from critmin.watch.rules import RuleSpec, holds, moved

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from critmin.atlas import Atlas
    from critmin.storage import Store

TRIGGERS = ("atlas-build", "registry", "on-demand")


@dataclass
class Evaluation:
    """What one evaluation did: rules evaluated, indicators computed and alert ids raised."""

    trigger: str
    rules: int = 0
    readings: int = 0
    alerts: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "rules": self.rules, "readings": self.readings,
                "alerts": self.alerts}


def spec_of(rule: WatchRule) -> RuleSpec:
    """The :class:`RuleSpec` of a stored rule."""
    return RuleSpec(country=rule.country, mineral=rule.mineral, indicator=rule.indicator,
                    kind=rule.kind, stage=rule.stage, supplier=rule.supplier, op=rule.op,
                    value=rule.value, watchlist=rule.watchlist)


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class _Fired:
    rule: WatchRule
    dedupe: str
    title: str
    old_value: float | None = None
    new_value: float | None = None
    old_release: dict[str, Any] = field(default_factory=dict)
    new_release: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def evaluate(store: Store, atlas: Atlas | None = None, *, trigger: str = "on-demand",
             user_id: int | None = None, events_only: bool = False,
             restrictions: pd.DataFrame | None = None, now: dt.datetime | None = None
             ) -> Evaluation:
    """Evaluate the active rules (of ``user_id``, or everyone's) and store the alerts.

    ``restrictions`` is the export-restriction registry to compare with (default: critmin's,
    :func:`critmin.scenarios.restrictions.registry`); projects come from the atlas's registry
    with the edits made through the service replayed. ``events_only`` skips the indicator rules
    (a registry change moves no indicator).
    """
    from critmin.atlas import Atlas

    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    atlas = atlas or Atlas.open()
    out = Evaluation(trigger)
    with store.session() as s:
        q = select(WatchRule).where(WatchRule.active.is_(True))
        if user_id is not None:
            q = q.where(WatchRule.user_id == user_id)
        if events_only:
            q = q.where(WatchRule.kind == "event")
        rules = list(s.scalars(q.order_by(WatchRule.id)))
    if not rules:
        return out
    specs = {r.id: spec_of(r) for r in rules}
    readings = indicators.compute(atlas, [x for x in specs.values() if x.kind != "event"])
    out.rules, out.readings = len(rules), len(readings)
    ev = _Events(atlas, store, restrictions) if any(x.kind == "event" for x in specs.values()) \
        else None
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for attempt in range(3):  # a concurrent evaluation may create the same states first
        try:
            out.alerts = _write(store, rules, specs, readings, ev, trigger, now)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    return out


def _write(store: Store, rules: list[WatchRule], specs: dict[int, RuleSpec],
           readings: dict[indicators.Key, indicators.Reading], ev: _Events | None, trigger: str,
           now: dt.datetime) -> list[int]:
    """Compare, then write states, alerts and deliveries in one transaction; new alert ids."""
    alerts: list[int] = []
    with store.session() as s:
        states = {st.rule_id: st for st in s.scalars(
            select(WatchState).where(WatchState.rule_id.in_(list(specs))).with_for_update())}
        fired: list[_Fired] = []
        for r in rules:
            spec, st = specs[r.id], states.get(r.id)
            if spec.kind == "event":
                assert ev is not None
                f, data = ev.check(r, spec, st)
                value = None
            else:
                reading = readings[indicators.key(spec)]
                f, data = _check_metric(r, spec, reading, st)
                value = reading.value
            fired.extend(f)
            if st is None:
                s.add(WatchState(rule_id=r.id, value=value, data=data, evaluated_at=now))
            else:
                st.value, st.data, st.evaluated_at = value, data, now
        channels = _channels(s, {r.user_id for r in rules})
        for f in fired:
            alert_id = _store_alert(s, f, trigger, now, channels.get(f.rule.user_id, []))
            if alert_id is not None:
                alerts.append(alert_id)
    return alerts


def _check_metric(rule: WatchRule, spec: RuleSpec, reading: indicators.Reading,
                  st: WatchState | None) -> tuple[list[_Fired], dict[str, Any]]:
    fp = reading.fingerprint()
    held = holds(spec, reading.value) if spec.kind == "threshold" else False
    data = {"fingerprint": fp, "release": reading.release(), "held": held,
            "detail": reading.detail}
    old = st.data if st is not None else {}
    old_value = st.value if st is not None else None
    fired: list[_Fired] = []
    base = f"{spec.describe()}: "
    if spec.kind == "threshold":
        if held and not old.get("held", False):
            fired.append(_Fired(
                rule, _key(rule.id, "threshold", fp), base + f"{_num(reading.value)} "
                f"(was {_num(old_value)})", old_value, reading.value, old.get("release", {}),
                reading.release(), reading.release(), reading.detail))
    elif st is not None and old.get("fingerprint") != fp and moved(spec, old_value,
                                                                   reading.value):
        fired.append(_Fired(
            rule, _key(rule.id, "change", old.get("fingerprint"), fp),
            base + f"{_num(old_value)} -> {_num(reading.value)}", old_value, reading.value,
            old.get("release", {}), reading.release(), reading.release(),
            {**reading.detail, "change": None if reading.value is None or old_value is None
             else reading.value - old_value}))
    return fired, data


class _Events:
    """Export restrictions and projects, and the trade shares a restriction covers."""

    def __init__(self, atlas: Atlas, store: Store, restrictions: pd.DataFrame | None) -> None:
        from critmin.scenarios import restrictions as rx

        self.atlas = atlas
        df = restrictions if restrictions is not None else rx.registry()
        self.restrictions = [{k: ("" if pd.isna(v) else str(v)) for k, v in row.items()}
                             for row in df.to_dict("records")]
        self.store = store
        self._projects: list[dict[str, Any]] | None = None
        self._ctx: indicators.Context | None = None

    def projects(self) -> list[dict[str, Any]]:
        if self._projects is None:
            reg = current_registry(self.atlas, self.store)
            self._projects = [{"id": p.id, "name": p.name, "country": p.country,
                               "mineral": p.mineral, "stage": p.stage, "status": p.status}
                              for p in reg.projects]
        return self._projects

    def ctx(self) -> indicators.Context:
        if self._ctx is None:
            self._ctx = indicators.Context(self.atlas)
        return self._ctx

    def covered_share(self, country: str, mineral: str, exporter: str, stage: str
                      ) -> tuple[float | None, int | None]:
        """Share of ``country``'s imports of ``mineral`` (value, latest BACI year) coming from
        ``exporter``: what a measure by ``exporter`` covers."""
        ctx = self.ctx()
        year = ctx.trade_year
        if year is None:
            return None, None
        chain = {"mine": "mine", "refined": "refined"}.get(stage, "all")
        by_pair = indicators.supplier_values(ctx, chain, year, {mineral},
                                             ctx.expand(country, year))
        values = indicators.import_values(ctx, by_pair, country, mineral, year)
        total = sum(values.values())
        if total <= 0:
            return None, year
        sup = ctx.expand(exporter, year)
        return sum(v for e, v in values.items() if e in sup) / total, year

    def check(self, rule: WatchRule, spec: RuleSpec, st: WatchState | None
              ) -> tuple[list[_Fired], dict[str, Any]]:
        seen: dict[str, Any] = (st.data or {}).get("seen", {}) if st is not None else {}
        fired: list[_Fired] = []
        if spec.indicator == "restriction":
            current = {r["id"]: r for r in self.restrictions if self._applies(r, spec)}
            for rid, row in current.items():
                if st is None or seen.get(rid) == row:
                    continue
                old = seen.get(rid)
                share, year = self.covered_share(spec.country, spec.mineral, row["exporter"],
                                                 row.get("stage", "all"))
                changed = sorted(k for k in row if old is not None and old.get(k) != row[k])
                what = "changed" if old is not None else "new"
                pct = "n/a" if share is None else f"{share:.1%}"
                fired.append(_Fired(
                    rule, _key(rule.id, "restriction", row),
                    f"{what} export restriction {rid} by {row['exporter']} on {spec.mineral}: "
                    f"covers {pct} of {spec.country}'s imports ({year})",
                    None, share, {}, {"family": "baci", "year": year},
                    {"registry": "export_restrictions", "id": rid,
                     "source_url": row.get("source_url", "")},
                    {"restriction": row, "changed_fields": changed, "covered_share": share,
                     "trade_year": year}))
        else:
            current = {p["id"]: p["status"] for p in self.projects()
                       if p["mineral"] == spec.mineral
                       and (spec.stage == "all" or p["stage"] == spec.stage)}
            names = {p["id"]: p for p in self.projects()}
            for pid, status in current.items():
                if st is None or seen.get(pid) == status:
                    continue
                old = seen.get(pid)
                p = names[pid]
                fired.append(_Fired(
                    rule, _key(rule.id, "project", pid, old, status),
                    f"project {pid} ({p['name']}, {p['country']}, {spec.mineral}): "
                    + (f"status {old} -> {status}" if old else f"added as {status}"),
                    None, None, {"status": old}, {"status": status},
                    {"registry": "projects", "id": pid},
                    {"project": p, "old_status": old, "new_status": status}))
        return fired, {"seen": current}

    def _applies(self, r: dict[str, str], spec: RuleSpec) -> bool:
        if r.get("mineral") != spec.mineral:
            return False
        stage = r.get("stage") or "all"
        chain = {"mine": "mine", "refinery": "refined"}.get(spec.stage, "all")
        if spec.stage != "all" and stage not in ("all", chain):
            return False
        targets = {t.strip().upper() for t in (r.get("target") or "all").split(";")}
        year = self.ctx().trade_year
        watched = self.ctx().expand(spec.country, year) if year is not None else {spec.country}
        if "ALL" in targets:
            return bool(watched - {r.get("exporter")})
        return bool(watched & targets) or spec.country in targets


def current_registry(atlas: Atlas, store: Store) -> Any:
    """The atlas's cooperation registry with the edits made through the service replayed."""
    from critmin.cooperation.registry import Registry

    reg = Registry.from_atlas(atlas)
    with store.session() as s:
        reg.replay(s.scalars(select(RegistryEdit).order_by(RegistryEdit.id)))
    return reg


def _channels(s: Session, users: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for c in s.scalars(select(WatchChannel).where(WatchChannel.user_id.in_(list(users)),
                                                  WatchChannel.active.is_(True))):
        out.setdefault(c.user_id, []).append(c.id)
    return out


def _store_alert(s: Session, f: _Fired, trigger: str, now: dt.datetime, channels: list[int]
                 ) -> int | None:
    """Insert the alert and its deliveries (in a savepoint); None when it exists already."""
    rule = {**spec_of(f.rule).to_dict(), "id": f.rule.id, "text": spec_of(f.rule).describe()}
    try:
        with s.begin_nested():
            a = Alert(user_id=f.rule.user_id, rule_id=f.rule.id, dedupe_key=f.dedupe[:64],
                      rule=rule, title=f.title[:300], old_value=f.old_value,
                      new_value=f.new_value, old_release=f.old_release,
                      new_release=f.new_release, provenance=f.provenance,
                      detail=_jsonable(f.detail), trigger=trigger, created_at=now)
            s.add(a)
            s.flush()
            for cid in channels:
                s.add(Delivery(alert_id=a.id, channel_id=cid, status="pending", attempts=0,
                               next_attempt_at=now))
            s.flush()
    except IntegrityError:
        return None
    return a.id


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=str))
