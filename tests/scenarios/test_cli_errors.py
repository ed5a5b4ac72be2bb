"""Bad specs through the CLI: exit code 1, one ``error: ...`` line on stderr, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from critmin import reference

#: The valid mineral ids, as an unknown-mineral error lists them.
MINERAL_IDS = ", ".join(sorted(reference.minerals()))

CASES = [
    ("exporter: XYZ", "shocks[0].exporter: unknown country 'XYZ': "
                      "use an ISO 3166 alpha-3 code such as CHN"),
    ("cut: 1.5", "shocks[0].cut: must be between 0 and 1, got 1.5"),
    ("mineral: unobtainium", "shocks[0].mineral: unknown mineral 'unobtainium': "
                             "use one of " + MINERAL_IDS),
    ("targets: []", "shocks[0].targets: empty list "
                    "(use 'all', a group such as 'non-MSP', or ISO3 codes)"),
]


def spec_text(override: str) -> str:
    fields = {"exporter": "CHN", "mineral": "graphite", "cut": "1.0", "targets": "all"}
    k, v = override.split(": ", 1)
    fields[k] = v
    body = "\n".join(f"    {k}: {v}" for k, v in fields.items())
    return f"base_year: 2023\nshocks:\n  -\n{body}\n"


@pytest.mark.parametrize(("override", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec_cli(tmp_path: Path, override: str, message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    from critmin.cli import main

    spec = tmp_path / "bad.yaml"
    spec.write_text(spec_text(override))
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "run", str(spec), "--db", str(tmp_path / "none.duckdb")])
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    assert err == f"error: {spec}: {message}\n"
    assert out == ""


def test_bad_spec_in_a_real_process(tmp_path: Path) -> None:
    """The console entry point prints one line, no traceback, exit code 1."""
    override, message = CASES[1]
    spec = tmp_path / "bad.yaml"
    spec.write_text(spec_text(override))
    r = subprocess.run([sys.executable, "-c", "from critmin.cli import main; main()",
                        "scenario", "run", str(spec), "--db", str(tmp_path / "none.duckdb")],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1
    assert r.stderr == f"error: {spec}: {message}\n"
    assert "Traceback" not in r.stderr and r.stdout == ""
