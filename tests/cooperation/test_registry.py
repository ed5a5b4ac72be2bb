"""The cooperation registry: every shipped record validates; invalid records fail with clear,
one-line messages naming the record and field; edits are validated; saving is round-trip safe."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from critmin.cooperation.models import parse
from critmin.cooperation.registry import Registry
from critmin.errors import SpecError

DATA = Path(__file__).resolve().parents[2] / "src" / "critmin" / "data"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_package()


def _project(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "TEST-CO", "name": "Test cobalt mine", "country": "AUS", "mineral": "cobalt",
        "stage": "mine", "capacity": 1000, "unit": "t/y", "basis": "contained Co",
        "status": "construction", "partner_countries": "JPN;IND", "frameworks": "MSP",
        "source_url": "https://example.org/test-co",
    }
    row.update(changes)
    return row


def test_all_shipped_records_validate(registry: Registry) -> None:
    counts = {t: len(v) for t, v in registry.records.items()}
    for name, table in (("frameworks", "frameworks"), ("agreements", "agreements"),
                        ("projects", "projects"), ("country_groups", "memberships"),
                        ("groups", "groups")):
        with (DATA / f"{name}.csv").open(encoding="utf-8") as fh:
            assert counts[table] == sum(1 for _ in csv.DictReader(fh)), table


def test_registry_holds_the_named_records(registry: Registry) -> None:
    fw = {f.id for f in registry.frameworks}
    assert {"MSP", "IPEF-SCA", "QUAD-CMI"} <= fw
    ag = {a.id: a for a in registry.agreements}
    assert ag["IND-JPN-MOC-MINERALS-2025"].signed.isoformat().startswith("2025-08")
    assert ag["IND-JPN-ECONSEC-DIALOGUE-2024"].signed.isoformat().startswith("2024-11")
    pr = {p.id: p for p in registry.projects}
    ttc = pr["TTC-TREI-AP-REE"]
    assert (ttc.country, ttc.mineral, "JPN" in ttc.partner_countries) == ("IND", "rare_earths", True)
    others = [p for p in registry.projects if p.id != "TTC-TREI-AP-REE"]
    assert len(others) >= 20
    assert {"rare_earths", "lithium", "graphite", "nickel", "cobalt"} <= {p.mineral for p in others}
    assert all(p.source_url.startswith("http") for p in registry.projects)
    assert registry.members("QUAD-CMI") == ["AUS", "IND", "JPN", "USA"]
    assert "IND" in registry.members("MSP") and "IND" in registry.members("IPEF-SCA")


def test_list_filters(registry: Registry) -> None:
    ind_ree = registry.list("projects", country="IND", mineral="rare_earths")
    assert "TTC-TREI-AP-REE" in set(ind_ree.id)
    assert set(ind_ree.mineral) == {"rare_earths"}
    jpn = registry.list("agreements", country="JPN")
    assert "IND-JPN-MOC-MINERALS-2025" in set(jpn.id) and all("JPN" in p for p in jpn.parties)
    fw = registry.list("frameworks", country="IND")
    assert {"MSP", "QUAD-CMI"} <= set(fw.id)
    with pytest.raises(SpecError, match="not mineral-specific"):
        registry.list("frameworks", mineral="cobalt")


@pytest.mark.parametrize(("changes", "message"), [
    ({"country": "XYZ"}, "projects record 'TEST-CO', field 'country': unknown country code 'XYZ'"),
    ({"partner_countries": "JPN;JP"}, "field 'partner_countries': 'JP' is not an ISO 3166 alpha-3"),
    ({"capacity": -5}, "field 'capacity': capacity must be positive, got -5"),
    ({"capacity": 0}, "capacity must be positive"),
    ({"unit": None}, "capacity needs a unit"),
    ({"unit": "bananas/y"}, "field 'unit': unknown capacity unit 'bananas/y'"),
    ({"status": "planned"}, "field 'status': unknown status 'planned'; use one of announced, "
                             "feasibility, construction, operating"),
    ({"start_year": 1492}, "field 'start_year': 1492 is out of range (allowed 1900 – 2100)"),
    ({"stage": "mining"}, "field 'stage': unknown stage 'mining'; use one of mine, refinery"),
    ({"mineral": "unobtainium"}, "field 'mineral': unknown mineral 'unobtainium'"),
    ({"source_url": None}, "field 'source_url': missing value"),
    ({"source_url": "see notes"}, "field 'source_url': citation 'see notes' is not an http"),
    ({"frameworks": "NOPE"}, "field 'frameworks': unknown framework, group or agreement id 'NOPE'"),
    ({"colour": "red"}, "field 'colour': unknown field"),
])
def test_invalid_project_rejected(registry: Registry, changes: dict[str, object], message: str) -> None:
    reg = Registry(registry.records, registry.ctx)
    with pytest.raises(SpecError) as err:
        reg.add("projects", _project(**changes))
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert "TEST-CO" not in {p.id for p in reg.projects}


def test_membership_before_launch_rejected(registry: Registry) -> None:
    reg = Registry(registry.records, registry.ctx)
    row = {"group_id": "QUAD", "iso3": "NZL", "joined": "2016-01-01",
           "source_url": "https://example.org"}
    with pytest.raises(SpecError, match=r"memberships record 'QUAD:NZL', field.*joined 2016-01-01 "
                       r"before QUAD was launched \(2017-11-12\)"):
        reg.add("memberships", row)
    with pytest.raises(SpecError, match="unknown group 'ZZZ'"):
        reg.add("memberships", {**row, "group_id": "ZZZ", "joined": "2020-01-01"})
    with pytest.raises(SpecError, match="left 2018-01-01 before joined 2019-01-01"):
        reg.add("memberships", {**row, "joined": "2019-01-01", "left": "2018-01-01"})


def test_invalid_agreement_and_framework_rejected(registry: Registry) -> None:
    ctx = registry.ctx
    good = {"id": "A", "parties": "IND;JPN", "signed": "2025-08", "title": "t",
            "url": "https://example.org"}
    assert parse("agreements", good, ctx).signed.isoformat() == "2025-08-01"
    with pytest.raises(SpecError, match=r"agreements record 'A', field 'parties'.*'IN'"):
        parse("agreements", {**good, "parties": "IN;JPN"}, ctx)
    with pytest.raises(SpecError, match="at least two parties"):
        parse("agreements", {**good, "parties": "IND"}, ctx)
    with pytest.raises(SpecError, match="agreements record 'A', field 'url': missing"):
        parse("agreements", {**good, "url": ""}, ctx)
    with pytest.raises(SpecError, match="frameworks record 'F', field 'launched'"):
        parse("frameworks", {"id": "F", "name": "F", "kind": "forum", "launched": "soon",
                             "source_url": "https://example.org"}, ctx)
    with pytest.raises(SpecError, match=r"duplicate id|id exists"):
        Registry(registry.records, ctx).add("projects", _project(id="TTC-TREI-AP-REE"))


def test_bad_shipped_file_fails_with_count(tmp_path: Path, registry: Registry) -> None:
    registry.save_csv(tmp_path)
    path = tmp_path / "projects.csv"
    text = path.read_text(encoding="utf-8").replace(",IND,", ",INDIA,", 1)
    text = text.replace(",USA,", ",US,", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=r"projects record '.*', field.*\(and \d+ more problems\)"):
        Registry.from_folder(tmp_path)


def test_edit_remove_and_csv_round_trip(tmp_path: Path, registry: Registry) -> None:
    reg = Registry(registry.records, registry.ctx)
    reg.add("projects", _project())
    reg.edit("projects", "TEST-CO", {"capacity": 2500.0, "status": "operating"})
    with pytest.raises(SpecError, match="capacity must be positive"):
        reg.edit("projects", "TEST-CO", {"capacity": -1})
    assert reg.get("projects", "TEST-CO").capacity == 2500.0
    with pytest.raises(SpecError, match="referenced by projects"):
        reg.remove("agreements", "IND-JPN-MOC-MINERALS-2025")
    reg.save_csv(tmp_path)
    back = Registry.from_folder(tmp_path)
    assert back.get("projects", "TEST-CO").model_dump() == reg.get("projects", "TEST-CO").model_dump()
    assert len(back.agreements) == len(reg.agreements)
    back.remove("projects", "TEST-CO")
    with pytest.raises(SpecError, match="projects has no record 'TEST-CO'"):
        back.get("projects", "TEST-CO")
    assert len(registry.projects) == 30 or "TEST-CO" not in {p.id for p in registry.projects}


def test_edits_to_a_copy_leave_the_original_as_it_was(registry: Registry) -> None:
    """``Registry.copy`` shares the records (never changed in place) and not the lists: every
    kind of edit of the copy leaves the original's rows, records and versions unchanged."""
    before = {t: registry.rows(t) for t in registry.records}
    versions = {p.id: registry.version("projects", p.id) for p in registry.projects}
    first = registry.projects[0]
    reg = registry.copy()
    reg.add("projects", _project())
    reg.edit("projects", first.id, {"capacity": 123.0, "status": "operating"})
    reg.remove("projects", "TEST-CO")
    reg.remove("projects", registry.projects[1].id)
    assert reg.get("projects", first.id).capacity == 123.0
    assert {t: registry.rows(t) for t in registry.records} == before
    assert {p.id: registry.version("projects", p.id) for p in registry.projects} == versions
    assert registry.get("projects", first.id) is first


def test_read_records_json(tmp_path: Path) -> None:
    from critmin.cooperation.registry import read_records

    f = tmp_path / "p.json"
    f.write_text(json.dumps(_project()), encoding="utf-8")
    assert read_records(f)[0]["id"] == "TEST-CO"


def test_versions_make_edits_and_removes_conditional(registry: Registry) -> None:
    from critmin.cooperation.registry import record_version
    from critmin.errors import ConflictError

    reg = Registry(registry.records, registry.ctx)
    reg.add("projects", _project())
    v0 = reg.version("projects", "TEST-CO")
    assert v0 == record_version(reg.get("projects", "TEST-CO"))
    assert Registry(reg.records, reg.ctx).version("projects", "TEST-CO") == v0  # content only
    reg.edit("projects", "TEST-CO", {"capacity": 2500.0}, version=v0)
    v1 = reg.version("projects", "TEST-CO")
    assert v1 != v0
    with pytest.raises(ConflictError, match=f"'TEST-CO' is at version {v1}, not {v0}"):
        reg.edit("projects", "TEST-CO", {"capacity": 10.0}, version=v0)
    with pytest.raises(ConflictError):
        reg.remove("projects", "TEST-CO", version=v0)
    assert reg.get("projects", "TEST-CO").capacity == 2500.0
    reg.remove("projects", "TEST-CO", version=v1)
    with pytest.raises(SpecError, match="has no record"):
        reg.edit("projects", "TEST-CO", {"capacity": 1.0}, version=v1)


def test_cli_show_edit_remove_with_versions(starter_atlas: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``critmin coop show`` prints the version; ``coop edit`` and ``coop remove`` with a stale
    ``--if-version`` fail with one line, exit 1, and leave the atlas file as it was."""
    import hashlib
    import shutil

    from critmin.cli import main

    db = tmp_path / "atlas.duckdb"
    shutil.copy(starter_atlas, db)

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_:
            main([*args, "--db", str(db)])
        out = capsys.readouterr()
        return exit_.value.code or 0, out.out, out.err

    def version() -> str:
        code, out, err = run("coop", "show", "projects", "IREL-OSCOM-REO")
        assert code == 0, err
        return str(json.loads(out)[0]["version"])

    v0 = version()
    code, out, err = run("coop", "edit", "projects", "IREL-OSCOM-REO", "--set", "capacity=6000",
                         "--if-version", v0)
    assert code == 0, err
    v1 = version()
    assert f"(version {v1})" in out and v1 != v0
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (("edit", "projects", "IREL-OSCOM-REO", "--set", "capacity=1"),
                 ("remove", "projects", "IREL-OSCOM-REO")):
        code, _out, err = run("coop", *args, "--if-version", v0)
        assert code == 1 and err.strip().splitlines() == [
            f"error: projects record 'IREL-OSCOM-REO' is at version {v1}, not {v0}: it was "
            "changed since it was read; read it again and retry"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    code, _out, err = run("coop", "remove", "projects", "IREL-OSCOM-REO", "--if-version", v1)
    assert code == 0, err
