"""``critmin user add|list|token|tokens|revoke|deactivate|delete|passwd``: accounts of the service
(thin: one library call each)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from critmin.cli import Format, app, emit
from critmin.cli.options import FormatOption

user_app = typer.Typer(help="Service accounts: add, list, deactivate, delete users; passwords; "
                        "issue, list and revoke API tokens.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")

DbUrlOption = Annotated[str | None, typer.Option(
    "--database-url", help="Operational database (default: $CRITMIN_DATABASE_URL or a SQLite "
    "file in the user data dir).")]


def _store(url: str | None):  # type: ignore[no-untyped-def]
    from critmin.storage import Store

    store = Store(url)
    store.upgrade()
    return store


@user_app.command("add")
def add_cmd(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help="admin, organiser, analyst or participant.")]
    = "analyst",
    password: Annotated[str | None, typer.Option(
        "--password", help="Password (default: prompt; use --no-password for a token-only "
        "account).")] = None,
    no_password: Annotated[bool, typer.Option("--no-password", help="Token-only account.")]
    = False,
    database_url: DbUrlOption = None,
) -> None:
    """Add a user with ROLE (the password is hashed with argon2)."""
    from critmin import auth

    if password is None and not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    store = _store(database_url)
    with store.session() as s:
        user = auth.add_user(s, username, role, password)
        uid = user.id
    typer.echo(f"added user {username!r} (id {uid}, role {role})")


@user_app.command("list")
def list_cmd(
    fmt: FormatOption = Format.table,
    database_url: DbUrlOption = None,
) -> None:
    """List users with their roles."""
    import pandas as pd

    from critmin import auth

    store = _store(database_url)
    with store.session() as s:
        rows = [{"id": u.id, "username": u.username, "role": u.role, "active": u.active,
                 "created_at": u.created_at} for u in auth.list_users(s)]
    emit(pd.DataFrame(rows, columns=["id", "username", "role", "active", "created_at"]), fmt,
         title="Users")


@user_app.command("token")
def token_cmd(
    username: Annotated[str, typer.Argument(help="User name.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DbUrlOption = None,
) -> None:
    """Issue an API token for USERNAME; it is shown once (only its hash is stored)."""
    from critmin import auth

    store = _store(database_url)
    with store.session() as s:
        token = auth.issue_token(s, auth.get_user(s, username), name)
    if as_json:
        sys.stdout.write(json.dumps({"username": username, "token": token}) + "\n")
    else:
        typer.echo(token)


@user_app.command("tokens")
def tokens_cmd(
    username: Annotated[str | None, typer.Argument(help="Only this user's tokens (default: "
                                                   "every user's).")] = None,
    fmt: FormatOption = Format.table,
    database_url: DbUrlOption = None,
) -> None:
    """List API tokens: id, owner, name, prefix, dates, revoked (never the secrets)."""
    import pandas as pd

    from critmin import auth

    store = _store(database_url)
    with store.session() as s:
        rows = auth.list_tokens(s, auth.get_user(s, username) if username else None)
    cols = ["id", "username", "name", "prefix", "created_at", "last_used_at", "revoked"]
    emit(pd.DataFrame(rows, columns=cols), fmt, title="API tokens")


@user_app.command("revoke")
def revoke_cmd(
    token_id: Annotated[int, typer.Argument(help="Token id (see 'critmin user tokens').",
                                            min=1)],
    database_url: DbUrlOption = None,
) -> None:
    """Revoke an API token: it is refused from the next request on."""
    from critmin import auth

    store = _store(database_url)
    with store.session() as s:
        auth.revoke_token(s, token_id, by=auth.CLI)
    typer.echo(f"revoked token {token_id}")


@user_app.command("deactivate")
def deactivate_cmd(
    username: Annotated[str, typer.Argument(help="User name.")],
    activate: Annotated[bool, typer.Option("--activate", help="Reactivate instead.")] = False,
    database_url: DbUrlOption = None,
) -> None:
    """Deactivate USERNAME: its tokens and sessions are refused and its sessions ended."""
    from critmin import auth

    store = _store(database_url)
    with store.session() as s:
        auth.set_active(s, username, activate)
    typer.echo(f"{'reactivated' if activate else 'deactivated'} user {username!r}")


@user_app.command("delete")
def delete_cmd(
    username: Annotated[str, typer.Argument(help="User name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DbUrlOption = None,
) -> None:
    """Delete USERNAME with its tokens and sessions (the audit log keeps its entries)."""
    from critmin import auth

    if not yes:
        typer.confirm(f"delete user {username!r}?", abort=True)
    store = _store(database_url)
    with store.session() as s:
        uid = auth.delete_user(s, username)
    typer.echo(f"deleted user {username!r} (id {uid})")


@user_app.command("passwd")
def passwd_cmd(
    username: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str | None, typer.Option(
        "--password", help="New password (default: prompt).")] = None,
    database_url: DbUrlOption = None,
) -> None:
    """Set a new password for USERNAME (argon2) and end its open sessions."""
    from critmin import auth

    if password is None:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    store = _store(database_url)
    with store.session() as s:
        auth.set_password(s, username, password)
    typer.echo(f"password of {username!r} changed; its sessions were ended")
