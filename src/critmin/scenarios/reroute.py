"""Re-routing layer: a linear programme that lets other exporters fill the gap.

Given the loss L_j (t/yr) of each importer j (from :mod:`critmin.scenarios.exposure`), the spare
capacity K_i (t/yr) of each exporter i that is not shocked, and the friction theta in [0, 1]:

    minimise   sum_j w_j sum_k (1 + k) s_jk  +  eps * sum_ij c_ij x_ij
    subject to sum_i x_ij + sum_k s_jk = L_j              (every lost tonne is re-sourced or short)
               sum_j x_ij <= theta * K_i                  (only a theta share of spare capacity moves)
               x_ij >= 0,  0 <= s_jk <= L_j / n_seg       (k = 0 .. n_seg-1)

x_ij is the extra flow from i to j and s_j = sum_k s_jk the shortfall. The shortfall is split into
``n_seg`` equal segments with rising weights so that, among allocations with the least total
shortfall, the burden is shared in proportion to the losses rather than arbitrarily. The re-routing
cost c_ij is 1, plus ``new_partner_cost`` when i did not supply j in the base year, plus 1 when i
is outside the preferred groups; eps is small enough that cost never outweighs a tonne of
shortfall. With theta = 0 nothing moves (the exposure layer); with theta = 1 and ample capacity
every loss is covered. World shortfall >= sum_j L_j - theta * sum_i K_i.

Spare capacity (default rule, :func:`spare_capacity`): K_i = f x max(production_i, exports_i), a
fraction f of exporter i's base-year supply (USGS production at the stage, or its exports in tonnes
of product when larger or when production is unknown); or an explicit table of tonnes.

Stockpiles (:func:`stockpile_cover`): a stock of d days of base-year imports, S_j = d/365 x
imports_j, covers a remaining shortfall s_j for 365 x S_j / s_j days; over a shock of m months the
draw-down is min(S_j, s_j x m/12).

The LP is built with :mod:`scipy.sparse` and solved by HiGHS (``scipy.optimize.linprog``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from critmin.errors import CritminError

#: Cost scale of re-routing relative to one tonne of shortfall.
EPS = 1e-4


@dataclass
class RerouteResult:
    """LP answer: ``importers`` (per importer: loss_t, rerouted_t, shortfall_t) and ``flows``
    (per new flow: exporter, importer, rerouted_t, new_partner)."""

    importers: pd.DataFrame
    flows: pd.DataFrame
    status: str


def spare_capacity(exports_t: pd.Series, production_t: pd.Series | None,
                   spare: float | Mapping[str, float]) -> pd.Series:
    """Spare capacity per exporter (t/yr): ``spare`` x max(production, exports), or the table
    ``spare`` (ISO3 -> tonnes; exporters not listed have none)."""
    if isinstance(spare, Mapping):
        return pd.Series(dict(spare), dtype=float)
    base = exports_t.astype(float)
    if production_t is not None and len(production_t):
        base = pd.concat([base, production_t.astype(float)], axis=1).max(axis=1)
    return (spare * base).astype(float)


def solve(losses_t: pd.Series, capacity_t: pd.Series, *, theta: float,
          existing: Iterable[tuple[str, str]] = (), preferred: Iterable[str] | None = None,
          new_partner_cost: float = 1.0, weights: Mapping[str, float] | None = None,
          exclude: Iterable[str] = (), n_seg: int = 4) -> RerouteResult:
    """Solve the re-routing LP (see module docstring).

    ``losses_t``: loss per importer (t/yr); ``capacity_t``: spare capacity per exporter (t/yr);
    ``existing``: (exporter, importer) pairs that traded in the base year; ``preferred``: exporters
    drawn on first (None = no preference); ``exclude``: exporters that cannot re-route (the shocked
    ones); ``weights``: per-importer weight of a tonne of shortfall (default 1).
    """
    loss = losses_t[losses_t > 0].astype(float).sort_index()
    excl = set(exclude)
    cap = capacity_t[(capacity_t > 0) & ~capacity_t.index.isin(list(excl))].astype(float)
    cap = cap.groupby(level=0).sum().sort_index()
    imp = loss.index.to_numpy(dtype=object)
    exp = cap.index.to_numpy(dtype=object)
    nj, ni = len(imp), len(exp)
    empty_flows = pd.DataFrame({"exporter": pd.Series(dtype=object),
                                "importer": pd.Series(dtype=object),
                                "rerouted_t": pd.Series(dtype=float),
                                "new_partner": pd.Series(dtype=bool)})
    if nj == 0:
        return RerouteResult(_importer_table(loss, np.zeros(0)), empty_flows, "no loss")
    scale = float(loss.max())
    L = loss.to_numpy() / scale
    # capacity beyond the total loss never binds; clipping keeps the scaled LP well conditioned
    K = np.minimum(theta * cap.to_numpy(), float(loss.sum())) / scale
    # candidate pairs: every exporter with capacity to every importer with a loss (not itself)
    ii, jj = np.meshgrid(np.arange(ni), np.arange(nj), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    keep = exp[ii] != imp[jj]
    if theta <= 0:
        keep[:] = False
    ii, jj = ii[keep], jj[keep]
    npair = len(ii)
    existing_set = set(existing)
    is_new = np.fromiter(((exp[a], imp[b]) not in existing_set for a, b in zip(ii, jj, strict=True)),
                         dtype=bool, count=npair)
    pref = set(preferred) if preferred is not None else None
    cost_x = 1.0 + new_partner_cost * is_new
    if pref is not None:
        cost_x = cost_x + np.array([e not in pref for e in exp[ii]], dtype=float)
    w = np.array([(weights or {}).get(j, 1.0) for j in imp], dtype=float)
    seg_w = np.arange(1, n_seg + 1, dtype=float)
    cost_s = (w[:, None] * seg_w[None, :]).ravel()
    c = np.concatenate([EPS * cost_x, cost_s])
    nv = npair + nj * n_seg
    # equality: sum_i x_ij + sum_k s_jk = L_j
    rows = np.concatenate([jj, np.repeat(np.arange(nj), n_seg)])
    cols = np.arange(nv)
    a_eq = sp.csr_array((np.ones(nv), (rows, cols)), shape=(nj, nv))
    # capacity: sum_j x_ij <= theta K_i
    a_ub = sp.csr_array((np.ones(npair), (ii, np.arange(npair))), shape=(ni, nv))
    ub = np.concatenate([np.full(npair, np.inf), np.repeat(L / n_seg, n_seg)])
    bounds = np.column_stack([np.zeros(nv), ub])
    res = linprog(c, A_ub=a_ub if ni else None, b_ub=K if ni else None, A_eq=a_eq, b_eq=L,
                  bounds=bounds, method="highs")
    if res.status != 0:
        raise CritminError(f"re-routing LP failed: {res.message}")
    x = np.clip(res.x[:npair], 0.0, None) * scale
    s = np.clip(res.x[npair:], 0.0, None).reshape(nj, n_seg).sum(axis=1) * scale
    flows = pd.DataFrame({"exporter": exp[ii], "importer": imp[jj], "rerouted_t": x,
                          "new_partner": is_new})
    flows = flows[flows.rerouted_t > 1e-9 * scale].sort_values(
        ["importer", "rerouted_t"], ascending=[True, False], ignore_index=True)
    return RerouteResult(_importer_table(loss, s), flows if len(flows) else empty_flows,
                         "optimal")


def _importer_table(loss: pd.Series, shortfall: np.ndarray) -> pd.DataFrame:
    s = np.minimum(shortfall, loss.to_numpy())
    return pd.DataFrame({"importer": loss.index.to_numpy(dtype=object),
                         "loss_t": loss.to_numpy(float), "rerouted_t": loss.to_numpy(float) - s,
                         "shortfall_t": s})


def stockpile_cover(shortfall_t: pd.Series, stock_t: pd.Series,
                    duration_months: float) -> pd.DataFrame:
    """Draw-down and days covered of stockpiles against a shortfall rate (t/yr).

    Columns: ``stockpile_t, days_covered`` (inf when there is no shortfall, 0 without a stock),
    ``drawdown_t`` = min(stock, shortfall x months/12), ``residual_shortfall_t`` = shortfall over
    the shock minus the draw-down.

    >>> stockpile_cover(pd.Series({"JPN": 365.0}), pd.Series({"JPN": 60.0}), 12).round(1)
         stockpile_t  days_covered  drawdown_t  residual_shortfall_t
    JPN         60.0          60.0        60.0                 305.0
    """
    idx = shortfall_t.index
    stock = stock_t.reindex(idx).fillna(0.0).astype(float)
    short = shortfall_t.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(short > 0, 365.0 * stock / short.where(short > 0, 1.0), np.inf)
    need = short * duration_months / 12.0
    draw = np.minimum(stock, need)
    return pd.DataFrame({"stockpile_t": stock, "days_covered": days, "drawdown_t": draw,
                         "residual_shortfall_t": need - draw}, index=idx)
