"""Download public source files from their publishers, verifying SHA-256.

Each entry of :data:`CATALOGUE` names a publisher's release: where it lives and, when pinned, the
SHA-256 of its bytes. :func:`download` streams the file into a temporary file next to the
destination, checks its size and checksum, and only then renames it into place, so an interrupted
or corrupted download never leaves a partial file behind. Any URL can be given instead of a
catalogue entry (mirrors, newer releases); then ``sha256`` is optional and the computed checksum is
reported so it can be pinned.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from critmin.errors import CritminError


@dataclass(frozen=True)
class Release:
    """A downloadable public release."""

    name: str
    publisher: str
    url: str
    filename: str
    licence: str
    sha256: str | None = None
    note: str = ""


CATALOGUE: dict[str, Release] = {r.name: r for r in [
    Release("baci-hs92", "CEPII", "https://www.cepii.fr/DATA_DOWNLOAD/baci/data/BACI_HS92_V202401b.zip",
            "BACI_HS92_V202401b.zip", "Etalab Open Licence 2.0",
            note="All years of BACI in HS92, release V202401b (zip of yearly CSVs, ~2 GB)."),
    Release("usgs-mcs2026", "U.S. Geological Survey", "https://doi.org/10.5066/P1WKQ63T",
            "MCS2026_Commodities_Data.csv", "Public domain",
            note="Mineral Commodity Summaries 2026 data release (ScienceBase landing page)."),
    Release("wgi", "World Bank",
            "https://www.worldbank.org/content/dam/sites/govindicators/doc/wgidataset.xlsx",
            "wgidataset.xlsx", "CC BY 4.0",
            note="Worldwide Governance Indicators, full data set (Excel; export the long sheet to CSV)."),
    Release("wmd", "Austrian Federal Ministry of Finance",
            "https://www.world-mining-data.info/wmd/downloads/XLS/6.5.%20Production_of_Mineral_Raw_"
            "Materials_of_individual_Countries_by_Minerals.xlsx",
            "wmd_production_by_country.xlsx", "World Mining Data terms (no redistribution)"),
]}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(url_or_name: str, dest: str | Path, *, sha256: str | None = None,
             timeout: float = 60.0, chunk: int = 1 << 20) -> tuple[Path, str]:
    """Download a catalogue entry (by name) or a URL into folder ``dest``.

    Returns (path, sha256). Raises :class:`CritminError` on HTTP errors, a checksum mismatch or
    a truncated body; the destination is untouched in every failure case.
    """
    rel = CATALOGUE.get(url_or_name)
    url = rel.url if rel else url_or_name
    expected = sha256 or (rel.sha256 if rel else None)
    filename = rel.filename if rel else (Path(url.split("?", 1)[0]).name or "download")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / filename
    tmp = dest / f".{filename}.part-{os.getpid()}"
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "critmin"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
            length = resp.headers.get("Content-Length")
            got = 0
            while block := resp.read(chunk):
                out.write(block)
                h.update(block)
                got += len(block)
        if length is not None and got != int(length):
            raise CritminError(f"{url}: truncated download ({got} of {length} bytes)")
        digest = h.hexdigest()
        if expected and digest != expected.lower():
            raise CritminError(f"{url}: sha256 mismatch: expected {expected}, got {digest}")
        os.replace(tmp, target)
        return target, digest
    except urllib.error.HTTPError as exc:
        raise CritminError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise CritminError(f"{url}: cannot download: {exc.reason}") from None
    finally:
        tmp.unlink(missing_ok=True)
