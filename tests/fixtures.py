"""The one deterministic fixture atlas the tests and the documentation examples share.

Like datasette's ``tests/fixtures.py``: one module says which files make the atlas, the session
fixture ``fixture_atlas`` (``tests/conftest.py``) builds it once per test session, and the same
build runs from the command line for the documentation examples::

    python -m tests.fixtures /tmp/fixture.duckdb
    critmin assess JPN --db /tmp/fixture.duckdb

It is a fixed subset of the publishers' own files in ``../shared/data`` (never a copy of them in
the repository): BACI HS92 V202401b for 2019 (the base year of the Indonesian nickel-ore example)
and 2022-2024 with that release's country table, every USGS MCS release and both WGI releases
(no World Mining Data: refining then comes from USGS alone, and GeoPolRisk uses its documented
USGS fallback). The same files give the same atlas: ``atlas.build`` is deterministic apart
from the load time it records in ``sources``.

Special-purpose atlases stay next to the tests that need their shape: the full-data atlas of
``full_atlas``/``chain_atlas`` (published figures over every year, slow tier), the engine tests'
two-year atlas (Spark parity asserts exactly two years and Spark wants it small), the synthetic
scale atlas, the bundled starter atlas (the product's first-run experience) and the atlases the
build tests construct or damage on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()

#: BACI years in the fixture atlas.
BACI_YEARS = (2019, 2022, 2023, 2024)


def files(shared: Path = SHARED) -> list[Path]:
    """The files and folders the fixture atlas is built from, in load order."""
    baci = shared / "baci"
    return [*(baci / f"BACI_HS92_Y{y}_V202401b.csv" for y in BACI_YEARS),
            baci / "country_codes_V202401b.csv",
            *sorted(p for p in (shared / "usgs").iterdir() if p.is_file()),
            shared / "wgi"]


def missing(shared: Path = SHARED) -> list[Path]:
    """The fixture's inputs absent from ``shared`` (the tests skip when any is)."""
    if not (shared / "usgs").is_dir():
        return [shared / "usgs"]
    return [p for p in files(shared) if not p.exists()]


def build(path: Path, shared: Path = SHARED) -> Path:
    """Build the fixture atlas at ``path`` (replacing it) and return ``path``."""
    from critmin import atlas

    atlas.build(files(shared), path, fresh=True)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.fixtures ATLAS.duckdb")
    if gone := missing():
        sys.exit(f"error: shared data not found: {gone[0]}")
    print(build(Path(sys.argv[1])))
