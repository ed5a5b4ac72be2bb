"""Synthetic BACI-shaped trade data of any size, for benchmarks only (values kUSD, quantities t).

Writes yearly CSVs ``BACI_HS92_Y{year}_V{release}.csv`` with BACI's columns ``t,i,j,k,v,q`` (year,
exporter and importer as BACI numeric country codes, HS6 code, value in thousand USD, quantity
in metric tons, ``NA`` where unknown), so ``critmin atlas build DIR`` loads them like the real
release. The shapes mimic real trade:

- country popularity is Zipf-like: exporter and importer c are drawn with probability
  proportional to 1 / rank(c)^``zipf_country`` (separate random rankings for exporting and
  importing), over every code of BACI's country table;
- product popularity is Zipf-like over real HS92 six-digit codes (BACI's product table), with
  exponent ``zipf_product``;
- values are lognormal (median exp(``value_mu``) kUSD, log-sd ``value_sigma``): many small flows
  and a few very large ones; quantities are value / unit price, with a lognormal unit price per
  product and per flow; ``na_share`` of quantities are ``NA`` (about 5 % in real BACI);
- (year, exporter, importer, product) is unique, as in BACI: each chunk of a year draws from its
  own slice of the products (round-robin by popularity), and duplicates within a chunk are
  dropped.

Generation is vectorised with numpy, one chunk of ``chunk_rows`` rows at a time, so memory stays
bounded whatever the total. The rows are split evenly over as many years as needed for at most
``rows_per_year`` a year (full BACI has about 11 million), the last one being ``last_year``.

>>> zipf_weights(3, 1.0).round(3).tolist()
[0.545, 0.273, 0.182]
"""

from __future__ import annotations

import csv
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from critmin.errors import CritminError

RELEASE = "V202401b"


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Probabilities proportional to 1 / rank^exponent for ranks 1..n."""
    w = 1.0 / np.arange(1, n + 1, dtype="float64") ** exponent
    return w / w.sum()


def _find_shared(*parts: str) -> Path | None:
    here = Path.cwd()
    for base in (here, *here.parents, Path(__file__).resolve().parents[3]):
        p = base.joinpath("shared", "data", *parts)
        if p.exists():
            return p
        p = base.joinpath("..", "shared", "data", *parts).resolve()
        if p.exists():
            return p
    return None


def baci_countries(path: str | Path | None = None) -> np.ndarray:
    """BACI numeric country codes, one per economy: from BACI's ``country_codes_V*.csv``
    (``path``, else the one in ``shared/data/baci``), else critmin's own BACI code table.

    Where several codes stand for one ISO3 economy over time (Sudan: 729, and 736 up to 2011),
    the current one is kept, so no two synthetic flows share a key once codes become ISO3."""
    path = Path(path) if path else _find_shared("baci", f"country_codes_{RELEASE}.csv")
    by_iso3: dict[str, int] = {}
    if path is not None and path.exists():
        with path.open(encoding="utf-8") as f:
            for r in csv.DictReader(f):
                code, iso3 = int(r["country_code"]), r.get("country_iso3") or r["country_code"]
                if iso3 not in by_iso3 or "(..." not in r.get("country_name", ""):
                    by_iso3[iso3] = code
        return np.array(sorted(by_iso3.values()), "int64")
    from critmin.countries import country_codes

    for code, iso3 in sorted(country_codes().by_baci.items()):
        by_iso3.setdefault(str(iso3), code)
    return np.array(sorted(by_iso3.values()), "int64")


def hs6_codes(path: str | Path | None = None) -> np.ndarray:
    """Real six-digit HS codes: BACI's product table (``code`` column) or an HS nomenclature CSV
    (``hscode`` and ``level`` columns, rows of level 6)."""
    path = Path(path) if path else _find_shared("baci", f"product_codes_HS92_{RELEASE}.csv")
    if path is None or not path.exists():
        raise CritminError("no HS6 product list: pass --products with BACI's product_codes_HS92_"
                           "V*.csv or an HS nomenclature CSV (code, level columns)")
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if rows and "code" in rows[0]:
        codes = [r["code"].strip().zfill(6) for r in rows]
    else:
        codes = [r["hscode"].strip() for r in rows if r.get("level", "").strip() == "6"]
    codes = sorted({c for c in codes if len(c) == 6 and c.isdigit()})
    if not codes:
        raise CritminError(f"{path}: no six-digit HS codes found")
    return np.array(codes)


@dataclass
class SyntheticReport:
    out: str
    rows: int = 0
    files: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)


def generate(out: str | Path, rows: int, *, last_year: int = 2022,
             rows_per_year: int = 11_000_000, chunk_rows: int = 1_000_000, seed: int = 0,
             countries: str | Path | None = None, products: str | Path | None = None,
             zipf_country: float = 1.1, zipf_product: float = 0.9, value_mu: float = 2.5,
             value_sigma: float = 2.5, na_share: float = 0.05,
             progress: Callable[[int, int], None] | None = None) -> SyntheticReport:
    """Write about ``rows`` synthetic BACI rows as yearly CSVs into ``out`` (see the module
    docstring); returns what was written. BACI's country table is copied beside the files when
    found, so the atlas build translates the codes with it. ``progress(done, total)`` is called
    after each chunk. """
    if rows <= 0:
        raise CritminError("--rows must be positive")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ccodes = baci_countries(countries)
    pcodes = hs6_codes(products)
    cfile = Path(countries) if countries else _find_shared("baci", f"country_codes_{RELEASE}.csv")
    if cfile is not None and cfile.exists():
        shutil.copyfile(cfile, out / cfile.name)
    nc, npr = len(ccodes), len(pcodes)
    p_exp = zipf_weights(nc, zipf_country)[np.argsort(rng.permutation(nc))]
    p_imp = zipf_weights(nc, zipf_country)[np.argsort(rng.permutation(nc))]
    prod_rank = rng.permutation(npr)              # product index of each popularity rank
    p_prod = zipf_weights(npr, zipf_product)
    price = rng.lognormal(0.0, 1.5, npr)           # kUSD per tonne, per product
    report = SyntheticReport(out=str(out))
    n_years = math.ceil(rows / rows_per_year)
    done = 0
    for y in range(n_years):
        year = last_year - n_years + 1 + y
        target = rows // n_years + (1 if y < rows % n_years else 0)  # even split
        n_chunks = max(1, math.ceil(target / chunk_rows))
        path = out / f"BACI_HS92_Y{year}_V{RELEASE[1:]}.csv"
        with path.open("wb") as f:
            f.write(b"t,i,j,k,v,q\n")
            for g in range(n_chunks):
                m = target // n_chunks + (1 if g < target % n_chunks else 0)
                table = _chunk(rng, m, year, g, n_chunks, ccodes, pcodes, p_exp, p_imp,
                               prod_rank, p_prod, price, value_mu, value_sigma, na_share)
                pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False,
                                                             quoting_style="none"))
                done += table.num_rows
                report.rows += table.num_rows
                if progress:
                    progress(done, rows)
        report.files.append(str(path))
        report.years.append(year)
    return report


def _chunk(rng: np.random.Generator, m: int, year: int, g: int, n_chunks: int,
           ccodes: np.ndarray, pcodes: np.ndarray, p_exp: np.ndarray, p_imp: np.ndarray,
           prod_rank: np.ndarray, p_prod: np.ndarray, price: np.ndarray, value_mu: float,
           value_sigma: float, na_share: float) -> pa.Table:
    """One chunk: ``m`` unique flows over this chunk's slice of the products."""
    nc = len(ccodes)
    ranks = np.arange(g, len(pcodes), n_chunks)    # this chunk's products, round-robin by rank
    prods = prod_rank[ranks]
    w = p_prod[ranks] / p_prod[ranks].sum()
    i = j = k = key = np.empty(0, "int64")
    for _attempt in range(8):  # top up until m unique keys (the space is far larger than m)
        draw = int((m - len(key)) * 1.5) + 100
        di = rng.choice(nc, draw, p=p_exp)
        dj = rng.choice(nc, draw, p=p_imp)
        dj = np.where(di == dj, (dj + 1 + rng.integers(0, nc - 1, draw)) % nc, dj)
        dk = prods[rng.choice(len(prods), draw, p=w)]
        dkey = (di.astype("int64") * nc + dj) * len(pcodes) + dk
        i, j, k = np.concatenate([i, di]), np.concatenate([j, dj]), np.concatenate([k, dk])
        key = np.concatenate([key, dkey])
        _u, first = np.unique(key, return_index=True)
        first = np.sort(first)
        i, j, k, key = i[first], j[first], k[first], key[first]
        if len(key) >= m:
            break
    keep = np.sort(rng.permutation(len(key))[:m])
    keep = keep[np.argsort(key[keep], kind="stable")]  # BACI files are sorted by i, j, k
    i, j, k = i[keep], j[keep], k[keep]
    n = len(keep)
    v = np.round(rng.lognormal(value_mu, value_sigma, n), 3)
    v = np.maximum(v, 0.001)
    q = np.round(v / (price[k] * rng.lognormal(0.0, 0.5, n)), 3)
    qs = pc.cast(pa.array(q), pa.string())
    qs = pc.if_else(pa.array(rng.random(n) < na_share), pa.scalar("NA"), qs)
    return pa.table({
        "t": pa.array(np.full(n, year, "int32")),
        "i": pa.array(ccodes[i]),
        "j": pa.array(ccodes[j]),
        "k": pa.array(pcodes[k]),
        "v": pa.array(v),
        "q": qs,
    })
