"""Exposure layer: direct supply loss of each importer when exporters cut exports, no re-routing.

For importer X, mineral M at chain stage s and shocked exporters Y with cut c_Y (0-1) aimed at
targets T_Y (importers):

    loss_X   = sum_Y c_Y * q(Y -> X) * [X in T_Y]                       (t/yr)
    supply_X = production_X + imports_X                                  (t/yr)
    loss_share_X = loss_X / supply_X

with q the base-year BACI quantity in tonnes of product (see :mod:`critmin.scenarios.data`) and
production_X the USGS production of M at the matching stage (mine for ``mine`` and ``all``,
refinery for ``refined``). A missing production figure counts as zero (which overstates the share;
``production_known`` says so).

>>> flows = pd.DataFrame({"exporter": ["CHN", "MOZ"], "importer": ["JPN", "JPN"],
...                       "quantity_t": [80.0, 20.0]})
>>> t = exposure(flows, [ShockInput("CHN", 0.5, None)], pd.Series({"JPN": 100.0}))
>>> t[["importer", "loss_t", "supply_t", "loss_share"]].to_dict("records")
[{'importer': 'JPN', 'loss_t': 40.0, 'supply_t': 200.0, 'loss_share': 0.2}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ShockInput:
    """A resolved shock on one mineral-stage: ``cut`` of ``exporter``'s exports to ``targets``
    (a set of importers; ``None`` = all importers)."""

    exporter: str
    cut: float
    targets: frozenset[str] | None


COLUMNS = ["importer", "imports_t", "production_t", "production_known", "supply_t",
           "imports_from_shocked_t", "loss_t", "loss_share"]


def losses(flows: pd.DataFrame, shocks: Sequence[ShockInput]) -> pd.DataFrame:
    """Per shocked flow: ``exporter, importer, quantity_t, cut, loss_t`` (t/yr), one row per
    (shock, importer) with a positive base flow in ``targets``."""
    parts = []
    for s in shocks:
        f = flows[(flows.exporter == s.exporter) & (flows.quantity_t > 0)]
        if s.targets is not None:
            f = f[f.importer.isin(s.targets)]
        parts.append(f[["exporter", "importer", "quantity_t"]].assign(cut=s.cut))
    if not parts:
        return pd.DataFrame(columns=["exporter", "importer", "quantity_t", "cut", "loss_t"])
    out = pd.concat(parts, ignore_index=True)
    return out.assign(loss_t=out.quantity_t * out.cut)


def exposure(flows: pd.DataFrame, shocks: Sequence[ShockInput],
             production_t: pd.Series | None = None) -> pd.DataFrame:
    """Direct loss per importer (see module docstring), one row per importer with imports.

    ``flows``: ``exporter, importer, quantity_t`` of one mineral-stage; ``production_t``: Series
    indexed by ISO3. Columns: :data:`COLUMNS`; sorted by ``loss_t`` descending.
    """
    prod = production_t if production_t is not None else pd.Series(dtype=float)
    imports = flows.groupby("importer").quantity_t.sum()
    lo = losses(flows, shocks)
    loss = lo.groupby("importer").loss_t.sum() if len(lo) else pd.Series(dtype=float)
    shocked = flows[flows.exporter.isin({s.exporter for s in shocks})]
    from_shocked = shocked.groupby("importer").quantity_t.sum()
    out = pd.DataFrame({"importer": imports.index, "imports_t": imports.to_numpy(float)})
    p = out.importer.map(prod)
    out["production_t"] = p.fillna(0.0).astype(float)
    out["production_known"] = p.notna()
    out["supply_t"] = out.production_t + out.imports_t
    out["imports_from_shocked_t"] = out.importer.map(from_shocked).fillna(0.0).astype(float)
    out["loss_t"] = out.importer.map(loss).fillna(0.0).astype(float)
    out["loss_share"] = (out.loss_t / out.supply_t.where(out.supply_t > 0)).astype(float)
    return out.sort_values(["loss_t", "importer"], ascending=[False, True],
                           ignore_index=True)[COLUMNS]
