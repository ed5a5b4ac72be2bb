"""``critmin db upgrade`` and ``critmin user add|list|token`` against a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from critmin.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code in (0, None)
    return capsys.readouterr().out


def test_user_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    assert "0004_roundtable" in run(capsys, "db", "upgrade", "--database-url", url)
    assert "added user 'ana'" in run(capsys, "user", "add", "ana", "--role", "analyst",
                                     "--password", "secret-1", "--database-url", url)
    rows = json.loads(run(capsys, "user", "list", "--format", "json", "--database-url", url))
    assert [(r["username"], r["role"]) for r in rows] == [("ana", "analyst")]
    out = json.loads(run(capsys, "user", "token", "ana", "--json", "--database-url", url))
    assert out["token"].startswith("cm_")
    from critmin import auth
    from critmin.storage import Store

    store = Store(url)
    with store.session() as s:
        p = auth.from_token(s, out["token"])
        assert p is not None and p.username == "ana"
    store.dispose()
    with pytest.raises(SystemExit) as exc:
        main(["user", "add", "bob", "--role", "king", "--no-password", "--database-url", url])
    assert exc.value.code == 1
    assert "unknown role 'king'" in capsys.readouterr().err
