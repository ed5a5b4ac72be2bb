"""``critmin watch add|list|remove|check|alerts|deliver|channel|feed-token``: watchlists and
alerts (thin: each command is one call into :mod:`critmin.watch`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from critmin.cli import Format, app, emit
from critmin.cli.options import FormatOption, TableOrJson, TableOrJsonOption
from critmin.cli.user import DbUrlOption

watch_app = typer.Typer(help="Watchlists and alerts: rules on indicators and events, checked "
                        "when the atlas or the registry changes.", no_args_is_help=True)
app.add_typer(watch_app, name="watch")
channel_app = typer.Typer(help="Where alerts are sent: e-mail addresses and webhooks.",
                          no_args_is_help=True)
watch_app.add_typer(channel_app, name="channel")

UserOption = Annotated[str, typer.Option("--user", help="Whose watchlists (a user name).")]
AtlasOption = Annotated[Path | None, typer.Option("--db", help="Atlas file (default: "
                                                  "$CRITMIN_ATLAS or the user data dir).")]


@contextmanager
def _store(url: str | None) -> Iterator[Any]:
    """The operational database (migrated), closed afterwards."""
    from critmin.storage import Store

    store = Store(url)
    try:
        store.upgrade()
        yield store
    finally:
        store.dispose()


def evaluate_after(trigger: str, atlas_path: Path, database_url: str | None = None, *,
                   events_only: bool = False) -> list[str]:
    """Evaluate the watch rules after a change made from the command line (an atlas build, a
    registry edit) and send what they raise; returns notes for the user. Nothing happens when no
    operational database exists yet; a failure is reported, never raised (the change itself
    is done)."""
    from critmin.storage import Store
    from critmin.storage import database_url as default_url

    url = database_url or default_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return []  # no operational database yet: nobody watches anything
    try:
        from critmin.atlas import Atlas
        from critmin.watch.delivery import deliver_due
        from critmin.watch.evaluate import evaluate

        store = Store(url)
        try:
            store.upgrade()
            with Atlas(atlas_path) as a:
                result = evaluate(store, a, trigger=trigger, events_only=events_only)
            sent = deliver_due(store)
        finally:
            store.dispose()
    except Exception as exc:
        return [f"watch rules not evaluated: {type(exc).__name__}: {exc} (run "
                "'critmin watch check')"]
    if not result.rules:
        return []
    return [f"watch: {result.rules} rules checked, {len(result.alerts)} new alerts; "
            f"{len(sent.sent)} notifications sent, {len(sent.retrying)} to retry"]


def _user_id(s: Any, username: str) -> int:
    from critmin.watch.watchlists import user_by_name

    return user_by_name(s, username).id


T = TypeVar("T")


def _for_user(database_url: str | None, user: str, act: Callable[[Any, int], T]) -> T:
    """``act(session, user id)`` on the operational database (migrated) for user name ``user``,
    committed; its answer (plain values: the session is closed when it is returned)."""
    with _store(database_url) as store, store.session() as s:
        return act(s, _user_id(s, user))


@watch_app.command("add")
def add_cmd(
    country: Annotated[str, typer.Argument(help="Importer: ISO3 code or group id (EU27, ...).")],
    mineral: Annotated[str, typer.Argument(help="Mineral id (e.g. graphite).")],
    user: UserOption,
    indicator: Annotated[str | None, typer.Option(
        "--indicator", help="import_share, import_hhi, top_supplier_share, production_hhi, "
        "production_top_share, import_reliance, geopolrisk, n_minus_1 or traced_origin_share.")]
    = None,
    event: Annotated[str | None, typer.Option(
        "--event", help="restriction or project_status (instead of an indicator).")] = None,
    stage: Annotated[str, typer.Option("--stage", help="all, mine or refinery.")] = "all",
    supplier: Annotated[str | None, typer.Option(
        "--supplier", help="Supplier country or bloc (import_share, traced_origin_share).")]
    = None,
    above: Annotated[float | None, typer.Option("--above", help="Fire when value > this.")] = None,
    below: Annotated[float | None, typer.Option("--below", help="Fire when value < this.")] = None,
    up: Annotated[float | None, typer.Option(
        "--up", help="Fire when the value rises by more than this since the previous data.")]
    = None,
    down: Annotated[float | None, typer.Option(
        "--down", help="Fire when the value falls by more than this.")] = None,
    moves: Annotated[float | None, typer.Option(
        "--moves", help="Fire when the value moves either way by more than this.")] = None,
    watchlist: Annotated[str, typer.Option("--watchlist", help="Watchlist name.")] = "default",
    db: AtlasOption = None,
    database_url: DbUrlOption = None,
) -> None:
    """Add a rule: a threshold (--above/--below), a change (--up/--down/--moves) on an
    --indicator, or an --event on the mineral."""
    from critmin.atlas import Atlas
    from critmin.errors import SpecError
    from critmin.watch import watchlists
    from critmin.watch.rules import RuleSpec

    conds = {k: v for k, v in {">": above, "<": below, "up": up, "down": down,
                               "move": moves}.items() if v is not None}
    if event is not None:
        if indicator is not None or conds:
            raise SpecError("--event: an event rule takes no indicator or condition")
        spec = RuleSpec(country, mineral, event, "event", stage=stage, watchlist=watchlist)
    else:
        if indicator is None:
            raise SpecError("--indicator or --event: say what to watch")
        if len(conds) != 1:
            raise SpecError("condition: give exactly one of --above, --below, --up, --down, "
                             "--moves")
        op, value = next(iter(conds.items()))
        kind = "threshold" if op in (">", "<") else "change"
        spec = RuleSpec(country, mineral, indicator, kind, stage=stage, supplier=supplier,
                        op=op, value=value, watchlist=watchlist)
    def add(s: Any, uid: int) -> tuple[int, str]:
        r = watchlists.add_rule(s, uid, spec, atlas)
        return r.id, watchlists.rule_dict(r)["text"]

    with Atlas.open(db) as atlas:
        rid, text = _for_user(database_url, user, add)
    typer.echo(f"added rule {rid}: {text}")


@watch_app.command("list")
def list_cmd(user: UserOption, fmt: FormatOption = Format.table,
             database_url: DbUrlOption = None) -> None:
    """List a user's rules."""
    import pandas as pd

    from critmin.watch import watchlists

    rows = _for_user(database_url, user, lambda s, uid: [
        watchlists.rule_dict(r) for r in watchlists.list_rules(s, uid)])
    cols = ["id", "watchlist", "text", "country", "mineral", "stage", "indicator", "supplier",
            "kind", "op", "value", "active"]
    emit(pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols), fmt,
         title=f"Rules of {user}")


@watch_app.command("remove")
def remove_cmd(rule_id: Annotated[int, typer.Argument(help="Rule id (see 'watch list').")],
               user: UserOption, database_url: DbUrlOption = None) -> None:
    """Remove one rule (the alerts it raised stay in the inbox)."""
    from critmin.watch import watchlists

    _for_user(database_url, user, lambda s, uid: watchlists.remove_rule(s, uid, rule_id))
    typer.echo(f"removed rule {rule_id}")


@watch_app.command("check")
def check_cmd(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's rules.")] = None,
    restrictions: Annotated[Path | None, typer.Option(
        "--restrictions", help="Export-restriction registry CSV to compare with (default: "
        "critmin's).")] = None,
    deliver: Annotated[bool, typer.Option("--deliver/--no-deliver",
                                          help="Send the notifications now.")] = True,
    fmt: TableOrJsonOption = TableOrJson.table,
    db: AtlasOption = None,
    database_url: DbUrlOption = None,
) -> None:
    """Evaluate the rules now; store the alerts, then send them."""
    from critmin.atlas import Atlas
    from critmin.watch import delivery
    from critmin.watch.evaluate import evaluate

    rx = _read_restrictions(restrictions) if restrictions is not None else None
    with _store(database_url) as store:
        with Atlas.open(db) as atlas:
            uid = None
            if user is not None:
                with store.session() as s:
                    uid = _user_id(s, user)
            result = evaluate(store, atlas, trigger="on-demand", user_id=uid, restrictions=rx)
        sent = delivery.deliver_due(store) if deliver else None
        if fmt == "json":
            typer.echo(json.dumps({**result.to_dict(),
                                   "delivery": sent.to_dict() if sent else None}))
            return
        typer.echo(f"{result.rules} rules checked, {len(result.alerts)} new alerts")
        if sent is not None:
            typer.echo(f"deliveries: {len(sent.sent)} sent, {len(sent.retrying)} to retry, "
                       f"{len(sent.failed)} failed")


def _read_restrictions(path: Path) -> Any:
    import pandas as pd

    from critmin.errors import InputError
    from critmin.inputs import read_csv_records

    rows = read_csv_records(path, "registry")
    missing = {"id", "exporter", "target", "mineral"} - set(rows[0] if rows else {})
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(sorted(missing))}")
    return pd.DataFrame(rows)


@watch_app.command("alerts")
def alerts_cmd(user: UserOption,
               unread: Annotated[bool, typer.Option("--unread", help="Only unread.")] = False,
               fmt: FormatOption = Format.table, database_url: DbUrlOption = None) -> None:
    """A user's inbox, newest first."""
    import pandas as pd

    from critmin.watch import delivery, watchlists

    rows = _for_user(database_url, user, lambda s, uid: [
        delivery.alert_payload(a) for a in watchlists.list_alerts(s, uid, unread=unread)])
    if fmt is Format.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    cols = ["id", "created_at", "title", "old_value", "new_value", "trigger", "read_at"]
    emit(pd.DataFrame(rows, columns=cols)[cols] if rows else pd.DataFrame(columns=cols), fmt,
         title=f"Alerts of {user}")


@watch_app.command("deliver")
def deliver_cmd(
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Queue failed deliveries again first.")] = False,
    database_url: DbUrlOption = None,
) -> None:
    """Send the pending notifications that are due (e-mail, webhooks)."""
    from critmin.watch import delivery

    with _store(database_url) as store:
        if retry_failed:
            typer.echo(f"{delivery.retry_failed(store)} failed deliveries queued again")
        r = delivery.deliver_due(store)
        typer.echo(f"{len(r.sent)} sent, {len(r.retrying)} to retry, {len(r.failed)} failed")


@channel_app.command("add")
def channel_add_cmd(
    kind: Annotated[str, typer.Argument(help="email or webhook")],
    target: Annotated[str, typer.Argument(help="E-mail address or webhook URL.")],
    user: UserOption, database_url: DbUrlOption = None,
) -> None:
    """Send a user's alerts to an e-mail address or a webhook (its signing secret is shown
    once)."""
    from critmin.watch import watchlists

    def add(s: Any, uid: int) -> tuple[int, str | None]:
        c, secret = watchlists.add_channel(s, uid, kind, target)
        return c.id, secret

    cid, secret = _for_user(database_url, user, add)
    typer.echo(f"added channel {cid}: {kind} {target}")
    if secret:
        typer.echo(f"signing secret (shown once): {secret}")


@channel_app.command("list")
def channel_list_cmd(user: UserOption, fmt: FormatOption = Format.table,
                     database_url: DbUrlOption = None) -> None:
    """A user's channels."""
    import pandas as pd

    from critmin.watch import watchlists

    rows = _for_user(database_url, user, lambda s, uid: [
        {"id": c.id, "kind": c.kind, "target": c.target, "active": c.active}
        for c in watchlists.list_channels(s, uid)])
    emit(pd.DataFrame(rows, columns=["id", "kind", "target", "active"]), fmt, title="Channels")


@channel_app.command("remove")
def channel_remove_cmd(channel_id: Annotated[int, typer.Argument(help="Channel id.")],
                       user: UserOption, database_url: DbUrlOption = None) -> None:
    """Stop sending to one channel."""
    from critmin.watch import watchlists

    _for_user(database_url, user, lambda s, uid: watchlists.remove_channel(s, uid, channel_id))
    typer.echo(f"removed channel {channel_id}")


@watch_app.command("feed-token")
def feed_token_cmd(user: UserOption, database_url: DbUrlOption = None) -> None:
    """Issue a token for the user's Atom feed (GET /api/v1/watch/feed.atom?token=...); shown
    once, replaces the previous one."""
    from critmin.watch import watchlists

    typer.echo(_for_user(database_url, user, watchlists.new_feed_token))
