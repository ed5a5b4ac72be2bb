"""Bad input to the watch and diff commands: a one-line error naming the field and the valid
choices, exit 1, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.watch.conftest import add_user


def run_err(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_watch_and_diff_errors(capsys: pytest.CaptureFixture[str], cli: Callable[..., str],
                               starter_atlas: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    from critmin.storage import Store

    Store(url).upgrade()
    add_user(url, "ana")
    base = ["--user", "ana", "--db", str(starter_atlas), "--database-url", url]
    for args, expected in [
        (["JPN", "unobtainium", "--indicator", "import_hhi", "--moves", "0.1"],
         "error: unknown mineral 'unobtainium': use one of "),
        (["JPN", "graphite", "--indicator", "import_hhi"],
         "error: condition: give exactly one of --above, --below, --up, --down, --moves"),
        (["JPN", "graphite", "--indicator", "import_hhi", "--up", "0.1", "--below", "0.2"],
         "error: condition: give exactly one of"),
        (["JPN", "graphite", "--event", "rumours"],
         "error: event: must be one of restriction, project_status"),
        (["ATLANTIS", "graphite", "--indicator", "import_hhi", "--up", "0.1"],
         "error: country: unknown country or group 'ATLANTIS'"),
    ]:
        assert run_err(capsys, "watch", "add", *args, *base).startswith(expected)
    assert run_err(capsys, "watch", "add", "JPN", "graphite", "--indicator", "import_hhi",
                   "--up", "0.1", "--user", "nobody", "--db", str(starter_atlas),
                   "--database-url", url).startswith("error: user: no user 'nobody'")
    assert json.loads(cli("watch", "list", "--user", "ana", "--format", "json",
                          "--database-url", url)) == []
    junk = tmp_path / "restrictions.csv"
    junk.write_bytes(b"\xff\xfe\x00garbage\x00")
    err = run_err(capsys, "watch", "check", "--restrictions", str(junk), "--db",
                  str(starter_atlas), "--database-url", url)
    assert str(junk) in err
    err = run_err(capsys, "atlas", "diff", "V1999", "V2000", "--db", str(starter_atlas))
    assert err.startswith("error: V1999: neither an atlas file nor a release in ")
    assert "; releases: " in err
    assert run_err(capsys, "watch", "remove", "99", "--user", "ana", "--database-url",
                   url) == "error: rule: no rule 99 in your watchlists"


def test_registry_edit_from_the_cli_raises_project_alert(
        cli: Callable[..., str], starter_atlas: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from critmin.storage import Store

    atlas = tmp_path / "atlas.duckdb"
    shutil.copy(starter_atlas, atlas)
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("CRITMIN_DATABASE_URL", url)
    Store(url).upgrade()
    add_user(url, "ana")
    cli("watch", "add", "JPN", "graphite", "--event", "project_status", "--user", "ana",
        "--db", str(atlas))
    cli("watch", "check", "--db", str(atlas))  # records the projects as they are
    rec = tmp_path / "project.json"
    rec.write_text(json.dumps({
        "id": "TEST-GRAPHITE-MINE", "name": "Test graphite mine", "country": "MOZ",
        "mineral": "graphite", "stage": "mine", "status": "feasibility",
        "source_url": "https://example.org/project"}))
    cli("coop", "add", "projects", str(rec), "--db", str(atlas))
    alerts = json.loads(cli("watch", "alerts", "--user", "ana", "--format", "json"))
    assert [(a["trigger"], a["detail"]["project"]["id"], a["detail"]["new_status"])
            for a in alerts] == [("registry", "TEST-GRAPHITE-MINE", "feasibility")]


def test_channel_rule_and_feed_commands_round_trip(
        capsys: pytest.CaptureFixture[str], cli: Callable[..., str], starter_atlas: Path,
        tmp_path: Path) -> None:
    """The user-scoped commands store what they say and read it back for that user only."""
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    from critmin.storage import Store

    Store(url).upgrade()
    add_user(url, "ana")
    add_user(url, "bob")
    db = ["--database-url", url]
    out = cli("watch", "channel", "add", "webhook", "https://example.org/hook", "--user", "ana",
              *db)
    assert out.startswith("added channel 1: webhook https://example.org/hook")
    assert "signing secret (shown once): " in out
    assert json.loads(cli("watch", "channel", "list", "--user", "ana", "--format", "json",
                          *db)) == [{"id": 1, "kind": "webhook",
                                     "target": "https://example.org/hook", "active": True}]
    assert json.loads(cli("watch", "channel", "list", "--user", "bob", "--format", "json",
                          *db)) == []
    assert cli("watch", "channel", "remove", "1", "--user", "ana", *db).strip() == \
        "removed channel 1"
    out = cli("watch", "add", "JPN", "graphite", "--indicator", "import_hhi", "--moves", "0.1",
              "--user", "ana", "--db", str(starter_atlas), *db)
    assert out.startswith("added rule 1: ")
    assert [r["id"] for r in json.loads(cli("watch", "list", "--user", "ana", "--format",
                                            "json", *db))] == [1]
    tokens = {cli("watch", "feed-token", "--user", "ana", *db).strip() for _ in range(2)}
    assert len(tokens) == 2 and all(len(t) >= 20 for t in tokens)
    assert run_err(capsys, "watch", "channel", "list", "--user", "nobody", *db).startswith(
        "error: user: no user 'nobody'")
