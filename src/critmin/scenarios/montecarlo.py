"""Monte Carlo of export restrictions for every exporter x mineral.

Probability model (one year; every exporter i of mineral m decides independently):

    hazard   lambda_im = lambda0 * g(pv_i) * (1 + k * h_im)
    g(pv)    = 2 / (1 + exp(pv))      WGI political stability and absence of violence (-2.5..2.5):
                                      1 at pv = 0, ~1.85 at pv = -2.5, ~0.15 at pv = +2.5
    h_im     = 1 if the registry records a restriction by i on m (any stage, any date),
               0.5 if it records restrictions by i on other minerals only, 0 otherwise
    p_im     = 1 - exp(-lambda_im)    annual probability that i restricts exports of m

Defaults lambda0 = 0.02/yr and k = 4: a country with average stability and no recorded measure
restricts a given mineral about once in 50 years; China on graphite (pv about -0.3, recorded
measure) about once in 9 years. A country without a WGI estimate gets pv = 0 (the neutral value,
not zero risk). When i restricts, it cuts a fraction c ~ Uniform(cut_min, 1) of its exports to
every importer.

Re-routing is the proportional rule (a closed form of the LP when every importer is weighted
alike and there is no preference): the other, unshocked exporters offer theta * spare capacity
(spare x max(production, exports), see :func:`critmin.scenarios.reroute.spare_capacity`), and
every importer's loss is filled at the same rate phi = min(1, offer / total loss). So for run r:

    loss_rj      = sum_i c_ri * q_ij
    shortfall_rj = loss_rj * (1 - phi_r)
    share_rj     = shortfall_rj / (production_j + imports_j)

All runs are drawn at once with numpy (runs x exporters matrices and one matrix product per
mineral); seeded with :func:`numpy.random.default_rng`, so the same seed gives the same table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from critmin.atlas import Atlas

COLUMNS = ["importer", "mineral", "supply_t", "p_any_shock", "mean_loss_t", "mean_shortfall_t",
           "mean_shortfall_share", "p95_shortfall_share", "prob_shortfall_gt_10pct"]


@dataclass(frozen=True)
class Params:
    """Parameters of the probability and re-routing model (see the module docstring)."""

    lambda0: float = 0.02
    k_history: float = 4.0
    cut_min: float = 0.25
    theta: float = 0.5
    spare: float = 0.1
    threshold: float = 0.10


def restriction_probability(pv: pd.Series, history: pd.Series, params: Params = Params()
                            ) -> pd.Series:
    """Annual probability of a restriction: ``1 - exp(-lambda0 * 2/(1+e^pv) * (1 + k h))``.

    ``pv``: WGI political stability per exporter (NaN -> 0); ``history``: h in [0, 1].

    >>> p = restriction_probability(pd.Series({"A": 0.0, "B": 0.0}), pd.Series({"B": 1.0}))
    >>> [round(x, 4) for x in p]
    [0.0198, 0.0952]
    """
    idx = pv.index.union(history.index)
    v = pv.reindex(idx).fillna(0.0).to_numpy(float)
    h = history.reindex(idx).fillna(0.0).to_numpy(float)
    lam = params.lambda0 * 2.0 / (1.0 + np.exp(v)) * (1.0 + params.k_history * h)
    return pd.Series(1.0 - np.exp(-lam), index=idx, name="p_restrict")


def history(registry: pd.DataFrame, mineral: str) -> pd.Series:
    """h per exporter for ``mineral`` from the restrictions registry (see module docstring)."""
    on_m = set(registry.exporter[registry.mineral == mineral])
    any_m = set(registry.exporter)
    return pd.Series({c: 1.0 if c in on_m else 0.5 for c in any_m}, dtype=float)


def simulate(q: np.ndarray, supply: np.ndarray, capacity: np.ndarray, p: np.ndarray, *,
             runs: int, rng: np.random.Generator, params: Params = Params()
             ) -> dict[str, np.ndarray]:
    """Vectorised draws for one mineral.

    ``q``: exporters x importers base flows (t/yr); ``supply``: per importer (t/yr);
    ``capacity``: spare per exporter (t/yr); ``p``: restriction probability per exporter.
    Returns per importer ``mean_loss_t, mean_shortfall_t, mean_share, p95_share, prob_gt`` and
    ``p_any`` (probability that at least one of its suppliers restricts).
    """
    n_e = q.shape[0]
    shocked = rng.random((runs, n_e)) < p[None, :]
    cut = np.where(shocked, rng.uniform(params.cut_min, 1.0, (runs, n_e)), 0.0)
    loss = cut @ q                                         # runs x importers
    offer = params.theta * ((~shocked) @ capacity)         # runs
    total = loss.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(total > 0, np.minimum(1.0, offer / np.where(total > 0, total, 1.0)), 1.0)
    short = loss * (1.0 - phi)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(supply[None, :] > 0, short / np.where(supply > 0, supply, 1.0)[None, :],
                         0.0)
    supplies = q > 0                                       # which exporters supply whom
    p_none = np.exp(np.log1p(-np.minimum(p, 1 - 1e-12)) @ supplies)
    return {"mean_loss_t": loss.mean(axis=0), "mean_shortfall_t": short.mean(axis=0),
            "mean_share": share.mean(axis=0), "p95_share": np.quantile(share, 0.95, axis=0),
            "prob_gt": (share > params.threshold).mean(axis=0), "p_any": 1.0 - p_none}


def montecarlo(atlas: Atlas, *, year: int | None = None, runs: int = 10_000, seed: int = 0,
               importer: str | None = None, minerals: Sequence[str] | None = None,
               stage: str = "all", params: Params = Params(),
               probability: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Distribution of shortfalls per importer x mineral (:data:`COLUMNS`), all minerals with
    trade in ``year`` (default: the latest BACI year) unless ``minerals`` is given.
    ``probability`` overrides the model with a fixed probability per exporter."""
    from critmin.errors import SpecError
    from critmin.scenarios import data
    from critmin.scenarios.reroute import spare_capacity
    from critmin.scenarios.restrictions import registry

    if runs < 1:
        raise SpecError(f"runs: must be >= 1, got {runs}")
    if year is None:
        year = int(atlas.table("trade_flows").year.max().to_pandas())
    flows = data.trade(atlas, year, stage, minerals)
    prod = data.production(atlas, year, data.PRODUCTION_STAGE[stage], minerals)
    pv = data.governance_pv(atlas, year)
    reg = registry()
    rng = np.random.default_rng(seed)
    parts = []
    for mineral, f in flows.groupby("mineral", sort=True):
        exp_codes = np.sort(f.exporter.unique())
        imp_codes = np.sort(f.importer.unique())
        q = (f.pivot_table(index="exporter", columns="importer", values="quantity_t",
                           aggfunc="sum", fill_value=0.0)
             .reindex(index=exp_codes, columns=imp_codes, fill_value=0.0).to_numpy(float))
        pm = prod[prod.mineral == mineral].set_index("country").production_t
        supply = pd.Series(q.sum(axis=0), index=imp_codes) + pm.reindex(imp_codes).fillna(0.0)
        exports = pd.Series(q.sum(axis=1), index=exp_codes)
        cap = spare_capacity(exports, pm, params.spare).reindex(exp_codes).fillna(0.0)
        if probability is not None:
            p = pd.Series(probability, dtype=float).reindex(exp_codes).fillna(0.0)
        else:
            p = restriction_probability(pv, history(reg, str(mineral)), params
                                        ).reindex(exp_codes)
            p = p.fillna(float(restriction_probability(pd.Series({"_": 0.0}),
                                                       pd.Series(dtype=float), params).iloc[0]))
        r = simulate(q, supply.to_numpy(float), cap.to_numpy(float), p.to_numpy(float),
                     runs=runs, rng=rng, params=params)
        parts.append(pd.DataFrame({
            "importer": imp_codes, "mineral": mineral, "supply_t": supply.to_numpy(float),
            "p_any_shock": r["p_any"], "mean_loss_t": r["mean_loss_t"],
            "mean_shortfall_t": r["mean_shortfall_t"], "mean_shortfall_share": r["mean_share"],
            "p95_shortfall_share": r["p95_share"], "prob_shortfall_gt_10pct": r["prob_gt"]}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    if importer is not None:
        out = out[out.importer == importer]
    return out.sort_values(["importer", "mean_shortfall_share"], ascending=[True, False],
                           ignore_index=True)[COLUMNS]
