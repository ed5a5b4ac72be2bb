"""A build replaces the registry tables: records edited with ``critmin coop`` are saved first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from critmin import starter

WGI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wgi"


@pytest.mark.skipif(not WGI.exists(), reason="needs ../shared/data/wgi")
def test_build_saves_registry_edits_and_restore_puts_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., str]
) -> None:
    db = starter.install(tmp_path / "atlas.duckdb", quiet=True)
    monkeypatch.setenv("CRITMIN_ATLAS", str(db))
    run = cli

    def project_ids() -> set[str]:
        return {r["id"] for r in json.loads(run("coop", "list", "projects", "--format", "json"))}

    # an untouched registry: nothing to keep
    report = json.loads(run("atlas", "build", str(WGI), "--format", "json"))
    assert not any("registry" in n for n in report["notes"])
    assert not list(tmp_path.glob("atlas.registry-*"))

    f = tmp_path / "p.json"
    f.write_text(json.dumps({"id": "NEW-CO", "name": "New cobalt mine", "country": "AUS",
                             "mineral": "cobalt", "stage": "mine", "capacity": 2000, "unit": "t/y",
                             "basis": "contained Co", "status": "feasibility",
                             "source_url": "https://example.org/new-co"}), encoding="utf-8")
    run("coop", "add", "projects", str(f))
    assert "NEW-CO" in project_ids()

    report = json.loads(run("atlas", "build", str(WGI), "--format", "json"))
    notes = [n for n in report["notes"] if "registry" in n]
    assert len(notes) == 1 and "projects: 1 added, 0 edited, 0 removed" in notes[0]
    (saved,) = tmp_path.glob("atlas.registry-*")
    assert "NEW-CO" in (saved / "projects.csv").read_text(encoding="utf-8")
    assert "NEW-CO" not in project_ids()  # the build put the curated registry back

    assert "replaced" in run("coop", "restore", str(saved))
    assert "NEW-CO" in project_ids()


@pytest.mark.slow  # repeated atlas rebuilds
def test_registry_backups_are_named_and_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               cli: Callable[..., str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Each build over an edited registry names its backup in the report; only the last
    KEEP_BACKUPS are kept, and a build that fails removes the backup it made (the atlas, and so
    its registry, is untouched)."""
    from critmin.cli import main
    from critmin.cli.atlas import KEEP_BACKUPS

    db = starter.install(tmp_path / "atlas.duckdb", quiet=True)
    monkeypatch.setenv("CRITMIN_ATLAS", str(db))
    f = tmp_path / "in" / "g.json"
    f.parent.mkdir()
    made = []

    def add(i: int) -> None:
        f.write_text(json.dumps({"id": f"NEW-{i}", "name": f"Mine {i}", "country": "AUS",
                                 "mineral": "cobalt", "stage": "mine", "status": "feasibility",
                                 "source_url": "https://example.org/new"}), encoding="utf-8")
        cli("coop", "add", "projects", str(f))

    for i in range(KEEP_BACKUPS + 2):
        add(i)
        report = json.loads(cli("atlas", "build", str(f.parent), "--format", "json",
                                "--no-watch"))
        assert report["registry_backup"] and Path(report["registry_backup"]).is_dir()
        made.append(report["registry_backup"])
    kept = sorted(str(p) for p in tmp_path.glob("atlas.registry-*"))
    assert kept == made[-KEEP_BACKUPS:]

    add(99)  # an edit, then a build that fails
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "wgidataset.csv").write_text("code;year;indicator;estimate\n")
    with pytest.raises(SystemExit) as exit_:
        main(["atlas", "build", str(bad), "--silent", "--no-watch"])
    assert exit_.value.code == 1
    assert "missing column" in capsys.readouterr().err
    assert sorted(str(p) for p in tmp_path.glob("atlas.registry-*")) == kept
