"""Consistency checks for the curated reference data in ``src/critmin/data``.

No network access: the files are read with the stdlib ``csv`` module and ISO 3166 codes are
validated offline with ``pycountry``.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pycountry
import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "src" / "critmin" / "data"

# Canonical mineral ids agreed for the platform, plus the ids introduced by this data set.
CANONICAL_MINERALS = frozenset(
    [
        "rare_earths",
        "lithium",
        "cobalt",
        "nickel",
        "graphite",
        "manganese",
        "copper",
        "gallium",
        "germanium",
        "tungsten",
        "antimony",
        "titanium",
        "vanadium",
        "pgm",
        "platinum",
        "palladium",
        "rhodium",
        "iridium",
        "ruthenium",
        "niobium",
        "tantalum",
        "molybdenum",
        "chromium",
        "indium",
        "tellurium",
        "bismuth",
        "beryllium",
        "magnesium",
        "aluminium",
        "bauxite",
        "fluorspar",
        "barite",
        "boron",
        "phosphate_rock",
        "phosphorus",
        "potash",
        "silicon",
        "tin",
        "zinc",
        "zirconium",
        "hafnium",
        "scandium",
        "strontium",
        "cesium",
        "rubidium",
        "arsenic",
        "selenium",
        "cadmium",
        "lead",
        "gold",
        "silver",
        "uranium",
        "helium",
        "feldspar",
        "coking_coal",
        "yttrium",
        "neodymium",
        "praseodymium",
        "dysprosium",
        "terbium",
        "cerium",
        "lanthanum",
        "europium",
        "gadolinium",
        "samarium",
        "holmium",
        "erbium",
        "ytterbium",
        "lutetium",
        "thulium",
        "natural_graphite",
    ]
)
NEW_MINERAL_IDS = frozenset({"rhenium", "thallium"})
MINERAL_IDS = CANONICAL_MINERALS | NEW_MINERAL_IDS

# Groups whose membership legitimately predates the earliest event we record for them.
GROUPS_EXEMPT_FROM_LAUNCH_CHECK = frozenset({"EU27", "OECD", "G7"})

PROJECT_STAGES = frozenset({"mine", "refinery", "smelter", "capacity"})
PROJECT_STATUSES = frozenset({"announced", "feasibility", "construction", "operating"})
RESTRICTION_STAGES = frozenset({"mine", "refined", "all"})
RESTRICTION_MEASURES = frozenset({"ban", "licence", "quota", "tax"})
DATE_PRECISIONS = frozenset({"day", "month", "year"})
CONFIDENCES = frozenset({"high", "medium", "low"})

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "groups.csv": ("group_id", "name", "kind", "launched", "url", "description", "source_url"),
    "country_groups.csv": ("group_id", "iso3", "joined", "left", "source_url", "source_note"),
    "critical_lists.csv": ("list_id", "mineral_name_as_published", "mineral", "source_url", "source_note"),
    "critical_lists_meta.csv": ("list_id", "country_or_bloc", "title", "published", "count", "source_url"),
    "frameworks.csv": ("id", "name", "kind", "launched", "url", "description", "source_url"),
    "agreements.csv": (
        "id",
        "parties",
        "signed",
        "title",
        "scope",
        "minerals",
        "url",
        "source_note",
    ),
    "projects.csv": (
        "id",
        "name",
        "country",
        "site",
        "sponsors",
        "partner_countries",
        "mineral",
        "stage",
        "capacity",
        "unit",
        "basis",
        "status",
        "start_year",
        "frameworks",
        "source_url",
        "source_note",
    ),
    "export_restrictions.csv": (
        "id",
        "exporter",
        "mineral",
        "stage",
        "measure",
        "announced",
        "effective",
        "ended",
        "hs_codes",
        "description",
        "source_url",
    ),
}

# Columns that must be filled in on every row.
NON_EMPTY_COLUMNS: dict[str, tuple[str, ...]] = {
    "groups.csv": ("group_id", "name", "kind", "launched", "description", "source_url"),
    "country_groups.csv": ("group_id", "joined", "date_precision", "source_url", "source_note"),
    "critical_lists.csv": ("list_id", "mineral_name_as_published", "mineral", "source_url", "source_note"),
    "critical_lists_meta.csv": ("list_id", "country_or_bloc", "title", "published", "count", "source_url"),
    "frameworks.csv": ("id", "name", "kind", "launched", "description", "source_url"),
    "agreements.csv": ("id", "parties", "signed", "date_precision", "title", "scope", "url", "source_note"),
    "projects.csv": (
        "id",
        "name",
        "country",
        "site",
        "sponsors",
        "mineral",
        "stage",
        "status",
        "source_url",
        "source_note",
    ),
    "export_restrictions.csv": (
        "id",
        "exporter",
        "target",
        "mineral",
        "stage",
        "measure",
        "announced",
        "description",
        "source_url",
    ),
}

# Which column of each file holds the URL that cites the record.
SOURCE_URL_COLUMN = {
    "groups.csv": "source_url",
    "country_groups.csv": "source_url",
    "critical_lists.csv": "source_url",
    "critical_lists_meta.csv": "source_url",
    "frameworks.csv": "source_url",
    "agreements.csv": "url",
    "projects.csv": "source_url",
    "export_restrictions.csv": "source_url",
}

DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
SNAKE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@cache
def load(name: str) -> tuple[dict[str, str], ...]:
    path = DATA_DIR / name
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = tuple(dict(row) for row in reader)
    assert rows, f"{name} is empty"
    return rows


def header(name: str) -> list[str]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def parse_date(value: str, *, end: bool = False) -> dt.date:
    """Parse YYYY, YYYY-MM or YYYY-MM-DD; return the first (or, with ``end``, last) day covered."""
    assert DATE_RE.match(value), f"not an ISO date: {value!r}"
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return dt.date(*parts)
    if len(parts) == 2:
        year, month = parts
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day)
    (year,) = parts
    return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)


def precision_of(value: str) -> str:
    return {1: "year", 2: "month", 3: "day"}[len(value.split("-"))]


def is_iso3(code: str) -> bool:
    return len(code) == 3 and code.isupper() and pycountry.countries.get(alpha_3=code) is not None


def split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


# --------------------------------------------------------------------------- generic checks


@pytest.mark.parametrize("name", sorted(REQUIRED_COLUMNS))
def test_required_columns_present(name: str) -> None:
    cols = header(name)
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in cols]
    assert not missing, f"{name} lacks columns {missing}"
    assert len(cols) == len(set(cols)), f"{name} has duplicate columns"


@pytest.mark.parametrize("name", sorted(NON_EMPTY_COLUMNS))
def test_required_values_non_empty(name: str) -> None:
    for i, row in enumerate(load(name), start=2):
        for col in NON_EMPTY_COLUMNS[name]:
            assert row[col].strip(), f"{name}:{i} empty {col}"


@pytest.mark.parametrize("name", sorted(SOURCE_URL_COLUMN))
def test_every_row_cites_a_source_url(name: str) -> None:
    col = SOURCE_URL_COLUMN[name]
    for i, row in enumerate(load(name), start=2):
        assert row[col].startswith(("http://", "https://")), f"{name}:{i} bad {col} {row[col]!r}"
        assert " " not in row[col], f"{name}:{i} whitespace in URL"


@pytest.mark.parametrize("name", sorted(REQUIRED_COLUMNS))
def test_no_stray_whitespace(name: str) -> None:
    for i, row in enumerate(load(name), start=2):
        for col, value in row.items():
            assert value == value.strip(), f"{name}:{i} {col} has leading/trailing whitespace"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("groups.csv", ("group_id",)),
        ("frameworks.csv", ("id",)),
        ("agreements.csv", ("id",)),
        ("projects.csv", ("id",)),
        ("export_restrictions.csv", ("id",)),
        ("critical_lists_meta.csv", ("list_id",)),
        ("critical_lists.csv", ("list_id", "mineral_name_as_published")),
        ("country_groups.csv", ("group_id", "iso3", "member_group")),
    ],
)
def test_ids_unique(name: str, key: tuple[str, ...]) -> None:
    counts = Counter(tuple(row[k] for k in key) for row in load(name))
    dupes = [k for k, n in counts.items() if n > 1]
    assert not dupes, f"{name} duplicate keys {dupes}"


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("groups.csv", "launched"),
        ("frameworks.csv", "launched"),
        ("country_groups.csv", "joined"),
        ("country_groups.csv", "left"),
        ("critical_lists_meta.csv", "published"),
        ("agreements.csv", "signed"),
        ("export_restrictions.csv", "announced"),
        ("export_restrictions.csv", "effective"),
        ("export_restrictions.csv", "ended"),
    ],
)
def test_dates_parse(name: str, column: str) -> None:
    for i, row in enumerate(load(name), start=2):
        if row[column]:
            parse_date(row[column])
            assert parse_date(row[column]) <= dt.date(2030, 12, 31), f"{name}:{i} {column} implausible"


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("country_groups.csv", "joined"),
        ("critical_lists_meta.csv", "published"),
        ("agreements.csv", "signed"),
    ],
)
def test_date_precision_matches_value(name: str, column: str) -> None:
    for i, row in enumerate(load(name), start=2):
        assert row["date_precision"] in DATE_PRECISIONS, f"{name}:{i}"
        assert precision_of(row[column]) == row["date_precision"], f"{name}:{i} precision mismatch"


@pytest.mark.parametrize("name", ["country_groups.csv", "agreements.csv", "projects.csv"])
def test_confidence_values(name: str) -> None:
    for i, row in enumerate(load(name), start=2):
        assert row["confidence"] in CONFIDENCES, f"{name}:{i} confidence {row['confidence']!r}"


# --------------------------------------------------------------------------- groups


def launched_by_group() -> dict[str, dt.date]:
    return {row["group_id"]: parse_date(row["launched"]) for row in load("groups.csv")}


def test_country_group_codes_valid() -> None:
    groups = launched_by_group()
    for i, row in enumerate(load("country_groups.csv"), start=2):
        assert row["group_id"] in groups, f"country_groups:{i} unknown group {row['group_id']}"
        if row["iso3"]:
            assert is_iso3(row["iso3"]), f"country_groups:{i} invalid ISO3 {row['iso3']!r}"
            assert not row["member_group"], f"country_groups:{i} both iso3 and member_group"
        else:
            assert row["member_group"] == "EU", f"country_groups:{i} needs iso3 or member_group=EU"


def test_members_do_not_join_before_group_launch() -> None:
    groups = launched_by_group()
    for i, row in enumerate(load("country_groups.csv"), start=2):
        joined_latest = parse_date(row["joined"], end=True)
        if row["left"]:
            assert parse_date(row["left"]) >= parse_date(row["joined"]), f"country_groups:{i} left<joined"
        if row["group_id"] in GROUPS_EXEMPT_FROM_LAUNCH_CHECK:
            continue
        assert joined_latest >= groups[row["group_id"]], (
            f"country_groups:{i} {row['iso3'] or row['member_group']} joins {row['group_id']} "
            f"on {row['joined']} before launch {groups[row['group_id']]}"
        )


@pytest.mark.parametrize(
    ("group", "countries", "with_eu"),
    [("MSP", 14, True), ("IPEF", 14, False), ("QUAD", 4, False), ("G7", 7, False), ("OECD", 38, False)],
)
def test_group_sizes(group: str, countries: int, with_eu: bool) -> None:
    rows = [r for r in load("country_groups.csv") if r["group_id"] == group and not r["left"]]
    assert sum(1 for r in rows if r["iso3"]) == countries
    assert any(r["member_group"] == "EU" for r in rows) is with_eu


def test_eu27_membership() -> None:
    rows = [r for r in load("country_groups.csv") if r["group_id"] == "EU27"]
    current = {r["iso3"] for r in rows if not r["left"]}
    assert len(current) == 27
    (gbr,) = [r for r in rows if r["iso3"] == "GBR"]
    assert (gbr["joined"], gbr["left"]) == ("1973-01-01", "2020-01-31")


def test_quad_group_matches_quad_critical_minerals_initiative() -> None:
    quad = {r["iso3"] for r in load("country_groups.csv") if r["group_id"] == "QUAD"}
    assert quad == {"AUS", "IND", "JPN", "USA"}
    frameworks = {r["id"]: r for r in load("frameworks.csv")}
    assert frameworks["QUAD-CMI"]["launched"] == "2025-07-01"


def test_core_frameworks_present() -> None:
    ids = {r["id"] for r in load("frameworks.csv")}
    assert {"MSP", "IPEF-SCA", "QUAD-CMI", "MSP-FINANCE-NETWORK"} <= ids


# --------------------------------------------------------------------------- critical lists


def test_list_counts_match_published_counts() -> None:
    meta = {r["list_id"]: int(r["count"]) for r in load("critical_lists_meta.csv")}
    counts = Counter(r["list_id"] for r in load("critical_lists.csv"))
    assert set(counts) == set(meta), "every list needs exactly one meta row and vice versa"
    for list_id, expected in meta.items():
        assert counts[list_id] == expected, f"{list_id}: {counts[list_id]} rows, published {expected}"


def test_expected_lists_present() -> None:
    meta = {r["list_id"]: int(r["count"]) for r in load("critical_lists_meta.csv")}
    assert meta["IND-2023"] == 30
    assert meta["JPN"] == 34
    assert meta["EU-2023"] == 34
    assert meta.get("USA-2025") == 60 or meta.get("USA-2022") == 50


def test_list_minerals_canonical() -> None:
    for i, row in enumerate(load("critical_lists.csv"), start=2):
        assert SNAKE_RE.match(row["mineral"]), f"critical_lists:{i} not snake case"
        assert row["mineral"] in MINERAL_IDS, f"critical_lists:{i} unknown mineral {row['mineral']!r}"


def test_list_country_or_bloc_codes() -> None:
    for row in load("critical_lists_meta.csv"):
        code = row["country_or_bloc"]
        assert code == "EU" or is_iso3(code), code


def test_group_lists_keep_group_ids() -> None:
    rows = load("critical_lists.csv")
    jpn = {r["mineral"] for r in rows if r["list_id"] == "JPN"}
    assert {"rare_earths", "pgm"} <= jpn
    assert not jpn & {"neodymium", "dysprosium", "platinum", "palladium"}, "JPN groups must not be expanded"
    india = {r["mineral"] for r in rows if r["list_id"] == "IND-2023"}
    assert {"rare_earths", "pgm"} <= india


# --------------------------------------------------------------------------- agreements


def test_agreement_parties_and_minerals() -> None:
    for i, row in enumerate(load("agreements.csv"), start=2):
        parties = split(row["parties"])
        for code in parties:
            assert is_iso3(code), f"agreements:{i} invalid party {code!r}"
        groups = split(row["party_groups"])
        assert set(groups) <= {"EU"}, f"agreements:{i} unknown party group"
        assert len(parties) + len(groups) >= 2, f"agreements:{i} needs two parties"
        for mineral in split(row["minerals"]):
            assert mineral in MINERAL_IDS, f"agreements:{i} unknown mineral {mineral!r}"


def test_key_agreements_present() -> None:
    by_id = {r["id"]: r for r in load("agreements.csv")}
    assert by_id["JPN-USA-CMA-2023"]["signed"] == "2023-03-28"
    assert by_id["KABIL-CAMYEN-2024"]["signed"].startswith("2024-01")
    assert by_id["IND-JPN-MOC-MINERALS-2025"]["signed"].startswith("2025-08")
    assert by_id["USA-AUS-FRAMEWORK-2025"]["signed"].startswith("2025-10")
    assert by_id["IND-JPN-ECONSEC-DIALOGUE-2024"]["signed"].startswith("2024-11")


# --------------------------------------------------------------------------- projects


def known_framework_ids() -> set[str]:
    return (
        {r["group_id"] for r in load("groups.csv")}
        | {r["id"] for r in load("frameworks.csv")}
        | {r["id"] for r in load("agreements.csv")}
    )


def test_projects_enums_and_codes() -> None:
    frameworks = known_framework_ids()
    for i, row in enumerate(load("projects.csv"), start=2):
        assert is_iso3(row["country"]), f"projects:{i} invalid country {row['country']!r}"
        for code in split(row["partner_countries"]):
            assert is_iso3(code), f"projects:{i} invalid partner {code!r}"
        assert row["stage"] in PROJECT_STAGES, f"projects:{i} stage {row['stage']!r}"
        assert row["status"] in PROJECT_STATUSES, f"projects:{i} status {row['status']!r}"
        assert row["mineral"] in MINERAL_IDS, f"projects:{i} mineral {row['mineral']!r}"
        for fw in split(row["frameworks"]):
            assert fw in frameworks, f"projects:{i} unknown framework {fw!r}"
        if row["start_year"]:
            assert 1950 <= int(row["start_year"]) <= 2035, f"projects:{i} start_year"


def test_project_capacities_positive_with_units() -> None:
    for i, row in enumerate(load("projects.csv"), start=2):
        if not row["capacity"]:
            assert not row["unit"], f"projects:{i} unit without capacity"
            continue
        assert float(row["capacity"]) > 0, f"projects:{i} capacity must be positive"
        assert row["unit"] == "t/y", f"projects:{i} unit {row['unit']!r}"
        assert row["basis"], f"projects:{i} capacity needs a basis"


def test_project_coverage() -> None:
    rows = load("projects.csv")
    assert len(rows) >= 26
    counts = Counter(r["mineral"] for r in rows)
    for mineral in ("rare_earths", "lithium", "graphite", "nickel", "cobalt"):
        assert counts[mineral] >= 3, f"only {counts[mineral]} {mineral} projects"
    assert any(r["id"] == "TTC-TREI-AP-REE" for r in rows), "seed project missing"


# --------------------------------------------------------------------------- export restrictions


def test_export_restrictions_fields() -> None:
    for i, row in enumerate(load("export_restrictions.csv"), start=2):
        assert is_iso3(row["exporter"]), f"export_restrictions:{i} exporter {row['exporter']!r}"
        assert row["target"] == "all" or is_iso3(row["target"]), f"export_restrictions:{i} target"
        assert row["mineral"] in MINERAL_IDS, f"export_restrictions:{i} mineral {row['mineral']!r}"
        assert row["stage"] in RESTRICTION_STAGES, f"export_restrictions:{i} stage {row['stage']!r}"
        assert row["measure"] in RESTRICTION_MEASURES, f"export_restrictions:{i} measure {row['measure']!r}"
        for code in split(row["hs_codes"]):
            assert re.fullmatch(r"\d{6}", code), f"export_restrictions:{i} HS6 {code!r}"
        announced = parse_date(row["announced"])
        if row["effective"]:
            assert parse_date(row["effective"], end=True) >= announced, f"export_restrictions:{i}"
        if row["ended"]:
            assert parse_date(row["ended"], end=True) >= announced, f"export_restrictions:{i}"


def test_key_export_restrictions() -> None:
    by_id = {r["id"]: r for r in load("export_restrictions.csv")}
    ga = by_id["CHN-2023-GA-LICENCE"]
    assert (ga["announced"], ga["effective"]) == ("2023-07-03", "2023-08-01")
    assert by_id["CHN-2023-GRAPHITE-LICENCE"]["effective"] == "2023-12-01"
    assert by_id["IDN-2020-NI-ORE-BAN"]["effective"] == "2020-01-01"
    assert by_id["CHN-2024-USA-GA-BAN"]["target"] == "USA"
    groups = Counter(r["measure_group"] for r in load("export_restrictions.csv"))
    assert groups["CHN-2025-04-REE7"] == 7
    assert groups["CHN-2025-W-TE-BI-MO-IN"] == 5
    exporters = {r["exporter"] for r in load("export_restrictions.csv")}
    assert {"CHN", "IDN", "COD", "ZWE"} <= exporters


# --------------------------------------------------------------------------- attribution


def test_sources_md_describes_every_file() -> None:
    text = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for name in REQUIRED_COLUMNS:
        assert name in text, f"SOURCES.md does not describe {name}"
    assert "CC BY 4.0" in text
