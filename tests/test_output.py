"""The one output layer: numbers, JSON values and file writers shared by the CLI and the API."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from critmin import output
from critmin.reports.html import fmt


def test_one_number_format_everywhere() -> None:
    # the examples: no scientific notation beside long decimals, no "2,023" years
    assert output.number(2.894e7) == "28,940,000"
    assert output.number(7_145_315.6489) == "7,145,316"
    assert output.number(2023, column="year") == "2023"
    assert output.number(2023.0, column="production_year") == "2023"
    assert output.number(float("inf")) == output.MISSING
    assert output.number(float("-inf")) == output.MISSING
    assert output.number(float("nan")) == output.MISSING
    # the web uses the same text
    assert fmt(2.894e7, "t") == output.number(2.894e7)
    assert fmt(2023, "int") == "2023" and fmt(2023) == "2023"
    assert fmt(float("inf"), "num") == output.MISSING


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_numbers_are_never_scientific(v: float) -> None:
    text = output.number(v)
    assert "e" not in text.lower() and "inf" not in text.lower()
    if abs(v) >= 1000:
        assert float(text.replace(",", "")) == round(v)


def test_jsonable_and_files_have_no_inf() -> None:
    df = pd.DataFrame({"year": [2023, 2024], "ratio": [float("inf"), 1.5],
                       "lists": [["a", "b"], []]})
    rows = json.loads(output.write(df, output.Format.json))
    assert rows[0]["ratio"] is None and rows[1]["ratio"] == 1.5
    assert output.to_csv(df).splitlines()[1] == "2023,,a;b"
    table = pq.read_table(io.BytesIO(output.to_parquet(df, {"source": "x"})))
    assert math.isnan(table.column("ratio")[0].as_py() or math.nan)
    assert b"critmin.annotations" in table.schema.metadata
    xlsx = pd.read_excel(io.BytesIO(output.to_xlsx(df, {"source": "x", "licence": "y",
                                                        "atlas_version": "z"})),
                         sheet_name=None)
    assert set(xlsx) == {"data", "annotations"}
    assert pd.isna(xlsx["data"].ratio.iloc[0])
    text = output.text_table(df, title="t")
    assert "2023" in text and "2,023" not in text and "inf" not in text


def _records_by_row(df: pd.DataFrame) -> list[dict[str, Any]]:
    """What :func:`critmin.output.records` was: :func:`jsonable` on every value of every row."""
    cols = [str(c) for c in df.columns]
    return [dict(zip(cols, (output.jsonable(v) for v in row), strict=True))
            for row in df.itertuples(index=False, name=None)]


_CELLS = {
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "int": st.integers(-(2**62), 2**62),
    "bool": st.booleans(),
    "text": st.none() | st.text(max_size=5),
    "mixed": st.none() | st.floats() | st.integers(-5, 5) | st.text(max_size=3)
    | st.lists(st.text(max_size=2), max_size=2),
    "date": st.none() | st.dates(),
}


@given(st.lists(st.sampled_from(sorted(_CELLS)), max_size=5).flatmap(
    lambda kinds: st.tuples(st.just(kinds), st.lists(
        st.tuples(*[_CELLS[k] for k in kinds]), max_size=6))))
def test_records_by_column_are_the_records_by_row(case: tuple[list[str], list[Any]]) -> None:
    kinds, rows = case
    df = pd.DataFrame(rows, columns=[f"{k}{i}" for i, k in enumerate(kinds)])
    for i, k in enumerate(kinds):  # the dtypes the analytics give
        col = f"{k}{i}"
        if k == "text" and rows:
            df[col] = df[col].astype("string")
        elif k == "date" and rows:
            df[col] = pd.to_datetime(df[col])
        elif k == "int" and rows and i % 2:
            df[col] = df[col].astype("Int64")
    assert output.records(df) == _records_by_row(df)
    assert output.to_json(df, name="t", ann={}) == output.dumps(
        {"ok": True, "name": "t", "columns": list(df.columns), "rows": _records_by_row(df),
         "annotations": {}})
