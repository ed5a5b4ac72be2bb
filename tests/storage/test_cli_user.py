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
    assert "0006_run_progress" in run(capsys, "db", "upgrade", "--database-url", url)
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


def test_revoke_deactivate_passwd_delete_and_token_list(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from critmin import auth
    from critmin.storage import Store

    url = f"sqlite:///{tmp_path / 'ops.db'}"
    db = ("--database-url", url)
    run(capsys, "user", "add", "eve", "--role", "participant", "--password", "old-pass", *db)
    run(capsys, "user", "add", "sam", "--role", "analyst", "--no-password", *db)
    t_eve = json.loads(run(capsys, "user", "token", "eve", "--json", *db))["token"]
    t_sam = json.loads(run(capsys, "user", "token", "sam", "--name", "ci", "--json", *db))["token"]
    listed = json.loads(run(capsys, "user", "tokens", "--format", "json", *db))
    assert [(t["username"], t["name"], t["revoked"]) for t in listed] == [
        ("eve", "", False), ("sam", "ci", False)]
    assert all(t_eve[:8] == listed[0]["prefix"] and "token" not in t for t in listed)
    only = json.loads(run(capsys, "user", "tokens", "sam", "--format", "json", *db))
    assert [t["username"] for t in only] == ["sam"]
    store = Store(url)

    def who(token: str) -> object:
        with store.session() as s:
            return auth.from_token(s, token)

    assert "revoked token" in run(capsys, "user", "revoke", str(listed[1]["id"]), *db)
    assert who(t_sam) is None and who(t_eve) is not None
    # a session of eve ends with a password change; the old password stops working
    with store.session() as s:
        _u, cookie, _csrf = auth.login(s, "eve", "old-pass", "127.0.0.1")
    run(capsys, "user", "passwd", "eve", "--password", "new-pass", *db)
    with store.session() as s:
        assert auth.from_session(s, cookie) is None
        assert auth.login(s, "eve", "new-pass", "127.0.0.1")
    s = store.new_session()
    with pytest.raises(auth.AuthError):
        auth.login(s, "eve", "old-pass", "127.0.0.2")
    s.close()
    run(capsys, "user", "deactivate", "eve", *db)
    assert who(t_eve) is None
    run(capsys, "user", "deactivate", "eve", "--activate", *db)
    assert who(t_eve) is not None
    assert "deleted user 'eve'" in run(capsys, "user", "delete", "eve", "--yes", *db)
    assert who(t_eve) is None
    users = json.loads(run(capsys, "user", "list", "--format", "json", *db))
    assert [u["username"] for u in users] == ["sam"]
    store.dispose()
    for args in (["user", "revoke", "999"], ["user", "delete", "nobody", "--yes"],
                 ["user", "passwd", "nobody", "--password", "x"]):
        with pytest.raises(SystemExit) as exc:
            main([*args, *db])
        assert exc.value.code == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("no user" in err or "no token" in err), err
