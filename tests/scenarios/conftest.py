"""Shared helpers for the scenario tests: where the shared data lives (the atlas is the session's
fixture atlas, :mod:`tests.fixtures`)."""

from __future__ import annotations

import pytest

from tests import fixtures

BACI = fixtures.SHARED / "baci"

needs_data = pytest.mark.skipif(bool(fixtures.missing()),
                                reason=f"shared data not found under {fixtures.SHARED}")
