"""Docs stay in step with the code: every CLI command is documented, the schema page is current,
and the README's examples run on the fixture atlas (:mod:`tests.fixtures`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from critmin import schema
from critmin.cli.docs import commands, markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"


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


def test_readme_python_example_runs_on_the_fixture_atlas(fixture_atlas: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "From Python" block, run as written with ``$CRITMIN_ATLAS`` pointing at the
    fixture atlas."""
    block = re.search(r"From Python:\s*```python\n(.*?)```", README.read_text(encoding="utf-8"),
                      re.S)
    assert block, "README has no 'From Python' example"
    monkeypatch.setenv("CRITMIN_ATLAS", str(fixture_atlas))
    names: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), names)
    df, conc = names["df"], names["conc"].to_pandas()
    assert {"graphite", "cobalt", "lithium"} <= set(df.mineral)
    assert set(conc.mineral) == {"cobalt"} and conc.hhi.between(0, 1).all()


def test_readme_assess_example_runs_on_the_fixture_atlas(fixture_atlas: Path,
                                                         cli: Callable[..., str]) -> None:
    """``critmin assess IND --mineral lithium --mineral graphite --format json`` (README)."""
    line = next(x for x in README.read_text(encoding="utf-8").splitlines()
                if x.startswith("critmin assess IND"))
    args = line.split("#")[0].split()[1:]
    rows = json.loads(cli(*args, "--db", str(fixture_atlas)))
    rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
    assert sorted(r["mineral"] for r in rows) == ["graphite", "lithium"]
