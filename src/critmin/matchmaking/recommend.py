"""Transparent partner recommendations: a score for every pair of participants, with its reasons.

The score of the ordered pair ``(a, b)`` ("b for a") is a weighted sum of four parts, each in [0, 1]:

``score = 0.45 * complementarity + 0.20 * chain_adjacency + 0.15 * partner_country
        + 0.20 * text_similarity``

- *complementarity*: the share of ``a``'s needs that ``b`` offers (same mineral; same stage or
  either stage unspecified), averaged with the share of ``b``'s needs that ``a`` offers;
- *chain adjacency*: 1 when some role of ``a`` sits one step from a role of ``b`` along
  exploration → mining → refining → precursor/cathode, anode/graphite → cell → pack → recycling
  (0.5 when a finance, equipment or offtake/trading role serves a physical role);
- *partner country*: 1 when both countries are in the event's partner list and differ, 0.5 when
  both are partners from the same country, else 0;
- *text similarity*: cosine of TF-IDF vectors of ``a``'s needs text and ``b``'s offers text (and
  vice versa, averaged), with ``idf(w) = ln((1 + N) / (1 + df(w))) + 1`` over all profiles'
  offer and need texts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from critmin.matchmaking.profiles import CHAIN_ORDER, Item, Profile, Role

WEIGHTS = {"complementarity": 0.45, "chain": 0.20, "country": 0.15, "text": 0.20}
_SERVICE = {Role.FINANCE, Role.EQUIPMENT, Role.OFFTAKE_TRADING}
_WORD = re.compile(r"[a-z][a-z0-9\-]+")
_STOP = frozenset(
    [
        "and", "the", "for", "of", "to", "in", "with", "a", "an", "on", "by", "from", "our", "we",
        "us", "per", "t", "tpa", "yr", "year", "years", "is", "are", "be", "as", "at", "or",
    ]
)


@dataclass(frozen=True)
class Recommendation:
    """A suggested counterpart ``target`` for ``participant``, its score in [0, 1] and reasons."""

    participant: str
    target: str
    score: float
    parts: dict[str, float]
    reasons: tuple[str, ...]


def tokens(text: str) -> list[str]:
    """Lower-case word tokens without stop words.

    >>> tokens("Lithium hydroxide, battery-grade, 5 ktpa")
    ['lithium', 'hydroxide', 'battery-grade', 'ktpa']
    """
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def tfidf_matrix(docs: list[str]) -> np.ndarray:
    """Row-normalised TF-IDF matrix of ``docs`` (rows) over their vocabulary (columns).

    ``tfidf(d, w) = tf(d, w) * (ln((1 + N) / (1 + df(w))) + 1)``, then each row scaled to unit
    Euclidean length (rows without words stay zero), so a dot product is the cosine similarity.

    >>> m = tfidf_matrix(["lithium cathode", "lithium cathode", "graphite"])
    >>> round(float(m[0] @ m[1]), 6), float(m[0] @ m[2])
    (1.0, 0.0)
    """
    toks = [tokens(d) for d in docs]
    vocab = {w: i for i, w in enumerate(sorted({w for t in toks for w in t}))}
    mat = np.zeros((len(docs), max(len(vocab), 1)))
    for r, t in enumerate(toks):
        for w in t:
            mat[r, vocab[w]] += 1.0
    df = (mat > 0).sum(axis=0)
    idf = np.log((1.0 + len(docs)) / (1.0 + df)) + 1.0
    mat *= idf
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.divide(mat, norms, out=np.zeros_like(mat), where=norms > 0)


def _item_text(items: list[Item]) -> str:
    return " ".join(
        f"{i.mineral} {i.stage.value.replace('_', ' ') if i.stage else ''} {i.text}" for i in items
    )


def _matches(need: Item, offer: Item) -> bool:
    return need.mineral == offer.mineral and (
        need.stage is None or offer.stage is None or need.stage == offer.stage
    )


def complementarity(a: Profile, b: Profile) -> tuple[float, list[str]]:
    """Mean of the share of ``a``'s needs met by ``b``'s offers and vice versa, with reasons.

    >>> a = Profile(id="a", name="A", country_iso3="IND", needs=[Item(mineral="lithium")])
    >>> b = Profile(id="b", name="B", country_iso3="JPN", offers=[Item(mineral="Lithium")])
    >>> complementarity(a, b)
    (0.5, ['B offers lithium that A needs'])
    """
    reasons: list[str] = []
    shares = []
    for x, y in ((a, b), (b, a)):
        if not x.needs:
            shares.append(0.0)
            continue
        met = [n for n in x.needs if any(_matches(n, o) for o in y.offers)]
        shares.append(len(met) / len(x.needs))
        for n in met:
            stage = f" ({n.stage.value.replace('_', '/')})" if n.stage else ""
            reasons.append(f"{y.name} offers {n.mineral}{stage} that {x.name} needs")
    return sum(shares) / 2, reasons


def chain_adjacency(a: Profile, b: Profile) -> tuple[float, list[str]]:
    """1 for adjacent physical value-chain steps, 0.5 for a service serving a physical role."""
    best, reason = 0.0, []
    for ra in a.roles:
        for rb in b.roles:
            if ra in CHAIN_ORDER and rb in CHAIN_ORDER and abs(CHAIN_ORDER[ra] - CHAIN_ORDER[rb]) == 1:
                return 1.0, [f"adjacent value-chain steps: {ra.value} ↔ {rb.value}"]
            if best < 0.5 and ((ra in _SERVICE) != (rb in _SERVICE)):
                best, reason = 0.5, [f"{ra.value} ↔ {rb.value} services the chain"]
    return best, reason


def country_eligibility(a: Profile, b: Profile, partners: list[str]) -> tuple[float, list[str]]:
    """1 for two different partner countries, 0.5 for the same partner country, else 0."""
    if not partners or a.country_iso3 not in partners or b.country_iso3 not in partners:
        return 0.0, []
    if a.country_iso3 != b.country_iso3:
        return 1.0, [f"cross-border partner pair {a.country_iso3}–{b.country_iso3}"]
    return 0.5, []


def score_matrix(
    profiles: list[Profile], partner_countries: list[str] | None = None
) -> list[list[Recommendation | None]]:
    """Every ordered pair's :class:`Recommendation` (``None`` on the diagonal)."""
    partners = partner_countries or []
    n = len(profiles)
    needs = tfidf_matrix([_item_text(p.needs) for p in profiles] + [_item_text(p.offers)
                                                                   for p in profiles])
    need_vec, offer_vec = needs[:n], needs[n:]
    text = 0.5 * (need_vec @ offer_vec.T + offer_vec @ need_vec.T)  # symmetric
    out: list[list[Recommendation | None]] = []
    for i, a in enumerate(profiles):
        row: list[Recommendation | None] = []
        for j, b in enumerate(profiles):
            if i == j:
                row.append(None)
                continue
            comp, r1 = complementarity(a, b)
            chain, r2 = chain_adjacency(a, b)
            country, r3 = country_eligibility(a, b, partners)
            sim = float(text[i, j])
            parts = {"complementarity": comp, "chain": chain, "country": country, "text": sim}
            score = sum(WEIGHTS[k] * v for k, v in parts.items())
            reasons = [*r1, *r2, *r3]
            if sim >= 0.1:
                reasons.append(f"similar offer/need wording (cosine {sim:.2f})")
            row.append(Recommendation(a.id, b.id, round(score, 4),
                                      {k: round(v, 4) for k, v in parts.items()}, tuple(reasons)))
        out.append(row)
    return out


def recommend(
    profiles: list[Profile],
    *,
    participant: str | None = None,
    top_k: int = 5,
    partner_countries: list[str] | None = None,
    exclude_pairs: set[frozenset[str]] | None = None,
) -> list[Recommendation]:
    """The ``top_k`` best counterparts for ``participant`` (or for everyone), best first.

    Ties break by counterpart id so the order is deterministic; pairs with a zero score and pairs
    in ``exclude_pairs`` (e.g. already requested) are left out.
    """
    matrix = score_matrix(profiles, partner_countries)
    exclude = exclude_pairs or set()
    out: list[Recommendation] = []
    for i, a in enumerate(profiles):
        if participant is not None and a.id != participant:
            continue
        recs = [
            r for r in matrix[i]
            if r is not None and r.score > 0 and frozenset((r.participant, r.target)) not in exclude
        ]
        recs.sort(key=lambda r: (-r.score, r.target))
        out.extend(recs[: max(top_k, 0)])
    if participant is not None and not any(p.id == participant for p in profiles):
        from critmin.errors import SpecError

        raise SpecError(f"unknown participant {participant!r}")
    return out


def _isfinite(x: float) -> bool:
    return math.isfinite(x)
