"""Generate the CLI reference (``docs/cli.md``) from the Typer app.

``python -m critmin.cli.docs > docs/cli.md``. ``tests/test_docs.py`` fails when a command is
missing from the page or has no help text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer
from typer._click.core import Context  # typer >= 0.2x vendors click


def commands() -> Iterator[tuple[str, Any]]:
    """(full name, command) for every command and group, depth first."""
    from critmin.cli import app

    root = typer.main.get_command(app)

    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        if path:
            yield " ".join(path), cmd
        if hasattr(cmd, "commands"):
            ctx = Context(cmd)  # (the root group builds its commands on demand)
            for name in sorted(cmd.list_commands(ctx)):
                yield from walk(cmd.get_command(ctx, name), [*path, name])

    yield from walk(root, [])


def markdown() -> str:
    out = ["# CLI reference", "",
           "Generated from the code by `python -m critmin.cli.docs > docs/cli.md`; do not edit by hand.",
           ""]
    for name, cmd in commands():
        out.append(f"## `critmin {name}`")
        out.append("")
        out.append((cmd.help or "").strip().split("\n\n")[0])
        out.append("")
        ctx = Context(cmd, info_name=f"critmin {name}")
        usage = cmd.collect_usage_pieces(ctx)
        usage_text = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), " ".join(usage))
        out.append(f"Usage: `critmin {name} {usage_text}`")
        out.append("")
        params = [p for p in cmd.params if p.param_type_name in ("option", "argument")]
        if params and not hasattr(cmd, "commands"):
            out.append("| parameter | help |")
            out.append("|---|---|")
            for p in params:
                if p.param_type_name == "option":
                    decl = ", ".join(f"`{o}`" for o in p.opts)
                    help_ = (p.help or "").replace("|", "\\|").replace("\n", " ")
                else:
                    decl = f"`{(p.name or '').upper()}`"
                    help_ = (getattr(p, "help", None) or "").replace("|", "\\|")
                out.append(f"| {decl} | {help_} |")
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown())
