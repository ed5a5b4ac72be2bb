"""Country codes: one ISO 3166 alpha-3 code per economy, translated from every publisher's codes.

The ``countries`` table is built from ISO 3166 (via :mod:`pycountry`: part 1 for current countries,
part 3 for former ones) plus ``critmin/reference/country_aliases.csv``, which lists the codes and
names publishers use that are not ISO 3166 (CEPII BACI numeric codes, World Bank codes such as
``ROM`` or ``ZAR``, USGS names such as ``Congo (Kinshasa)``). Residual aggregates ("Europe EFTA,
nes") get ISO 3166 user-assigned ``X..`` codes with ``kind = 'residual'``; regions and groups never
appear in country columns.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def _norm(name: str) -> str:
    """Case-, accent- and punctuation-insensitive key for country names."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in s).split())


@dataclass
class CountryCodes:
    """Lookup tables from every known code system to ISO3."""

    rows: dict[str, dict[str, object]] = field(default_factory=dict)
    by_baci: dict[int, str] = field(default_factory=dict)
    by_m49: dict[int, str] = field(default_factory=dict)
    by_wb: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)

    @property
    def iso3(self) -> frozenset[str]:
        return frozenset(self.rows)

    def from_name(self, name: str) -> str | None:
        """ISO3 for a country name as publishers write it, or None."""
        return self.by_name.get(_norm(name))

    def from_wb(self, code: str) -> str | None:
        """ISO3 for a World Bank / WGI code (most are ISO3 already), or None."""
        code = code.strip().upper()
        return self.by_wb.get(code) or (code if code in self.rows else None)

    def add_baci(self, code: int, iso3: str) -> None:
        """Map BACI ``code`` to ``iso3``; the country's ``baci_code`` is its first (lowest) code,
        so current codes win over historic ones (BEL 56 over 58 Belgium-Luxembourg ...1998)."""
        self.by_baci[code] = iso3
        if self.rows[iso3].get("baci_code") is None:
            self.rows[iso3]["baci_code"] = code

    def load_baci_table(self, pairs: list[tuple[int, str]]) -> None:
        """Add a BACI release's country table: (code, ISO3 as BACI writes it). BACI's non-ISO
        codes (S19, R20, ZA1) are ignored here; critmin's alias table maps their numbers."""
        for code, iso3 in sorted(pairs):
            if code in self.by_baci and self.by_baci[code] != iso3:
                continue  # an alias (e.g. 490 -> TWN) wins
            if iso3 in self.rows:
                self.add_baci(code, iso3)

    def to_arrow(self) -> pa.Table:
        """The ``countries`` table."""
        cols = ["iso3", "iso2", "m49", "baci_code", "wb_code", "name", "kind"]
        data = {c: [r.get(c) for r in self.rows.values()] for c in cols}
        import pyarrow as pa

        from critmin.schema import table

        return pa.table(data, schema=table("countries").arrow_schema)


@cache
def _aliases() -> list[dict[str, str]]:
    text = resources.files("critmin.reference").joinpath("country_aliases.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def _baci_table() -> list[tuple[int, str]]:
    """BACI's country table as shipped (release V202401b; CEPII, Etalab 2.0)."""
    text = resources.files("critmin.reference").joinpath("baci_country_codes.csv").read_text("utf-8")
    return [(int(r["baci_code"]), r["iso3"]) for r in csv.DictReader(text.splitlines())]


@cache
def iso3166_alpha3() -> frozenset[str]:
    """The current ISO 3166-1 alpha-3 codes of the installed pycountry (every one is a row of
    :func:`country_codes`), read from its data file without importing pycountry: its import
    reads its own package metadata, 15-40 ms a command line such as ``critmin assess JPN``
    waits for. Empty when the file cannot be read (callers then take the full table)."""
    import json
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("pycountry")
    if spec is None or spec.origin is None:
        return frozenset()
    try:
        text = (Path(spec.origin).parent / "databases" / "iso3166-1.json").read_text("utf-8")
        return frozenset(str(c["alpha_3"]) for c in json.loads(text)["3166-1"])
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()


def country_codes() -> CountryCodes:
    """A fresh :class:`CountryCodes` from ISO 3166 and the alias table (BACI codes come from the
    BACI release's own country file when one is loaded, see :func:`add_baci_file`)."""
    import pycountry

    cc = CountryCodes()
    for c in pycountry.countries:
        m49 = int(c.numeric)
        cc.rows[c.alpha_3] = {
            "iso3": c.alpha_3, "iso2": c.alpha_2, "m49": m49, "baci_code": None,
            "wb_code": c.alpha_3, "name": getattr(c, "common_name", None) or c.name,
            "kind": "country",
        }
        cc.by_m49[m49] = c.alpha_3
        for n in {c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)}:
            if n:
                cc.by_name[_norm(n)] = c.alpha_3
    for c in pycountry.historic_countries:
        if c.alpha_3 not in cc.rows:
            cc.rows[c.alpha_3] = {
                "iso3": c.alpha_3, "iso2": None,
                "m49": int(c.numeric) if getattr(c, "numeric", None) else None,
                "baci_code": None, "wb_code": None, "name": c.name, "kind": "former",
            }
            cc.by_name.setdefault(_norm(c.name), c.alpha_3)
    baci = [a for a in _aliases() if a["system"] == "baci"]
    for a in baci:  # the alias table's BACI codes first: they decide special cases
        if a["iso3"] in cc.rows:
            cc.by_baci[int(a["code"])] = a["iso3"]
    cc.load_baci_table(_baci_table())
    for a in _aliases():
        iso3 = a["iso3"]
        if iso3 not in cc.rows:
            cc.rows[iso3] = {"iso3": iso3, "iso2": None, "m49": None, "baci_code": None,
                             "wb_code": None, "name": a["name"] or iso3, "kind": a["kind"]}
        if a["system"] == "baci":
            cc.add_baci(int(a["code"]), iso3)
        elif a["system"] == "wb":
            cc.by_wb[a["code"]] = iso3
            if cc.rows[iso3].get("wb_code") in (None, iso3):
                cc.rows[iso3]["wb_code"] = a["code"]
        elif a["system"] == "name":
            cc.by_name[_norm(a["code"])] = iso3
    # M49 codes equal BACI codes except where BACI differs; fill the rest from M49
    for m49, iso3 in cc.by_m49.items():
        cc.by_baci.setdefault(m49, iso3)
    return cc
