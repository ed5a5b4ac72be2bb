"""Docs stay in step with the code: every CLI command is documented, the schema page is current."""

from __future__ import annotations

from pathlib import Path

from critmin import schema
from critmin.cli.docs import commands, markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_command_documented() -> None:
    page = (DOCS / "cli.md").read_text()
    missing = [name for name, _cmd in commands() if f"## `critmin {name}`" not in page]
    assert not missing, f"undocumented commands (run python -m critmin.cli.docs > docs/cli.md): {missing}"


def test_cli_page_is_generated() -> None:
    """docs/cli.md is byte for byte what the generator writes (options and help included)."""
    assert (DOCS / "cli.md").read_text() == markdown() + "\n", \
        "docs/cli.md is stale: run python -m critmin.cli.docs > docs/cli.md"


def test_every_command_has_help() -> None:
    assert [name for name, cmd in commands() if not (cmd.help or "").strip()] == []


def test_schema_page_is_generated() -> None:
    assert (DOCS / "schema.md").read_text().strip() == schema.markdown().strip(), \
        "docs/schema.md is stale: run python -m critmin.schema > docs/schema.md"


def test_architecture_page_names_every_layer() -> None:
    page = (DOCS / "architecture.md").read_text()
    for layer in ("sources/", "atlas", "metrics/", "scenarios/", "cooperation/", "matchmaking/", "cli/"):
        assert layer in page
