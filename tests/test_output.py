"""The one output layer: numbers, JSON values and file writers shared by the CLI and the API."""

from __future__ import annotations

import io
import json
import math

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
