"""The examples in vsa's docstrings run and print what they say."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import vsa.functions
import vsa.session
from vsa import pipeline
from vsa.config import VsaConfig


@pytest.mark.parametrize("module", [vsa.functions, vsa.session])
def test_docstring_examples(spark, module):
    result = doctest.testmod(module, extraglobs={"spark": spark}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_tables_reference_is_what_the_job_writes(spark):
    reference = pipeline.tables_reference(pipeline.table_schemas(spark, VsaConfig()))
    assert "### `kpi_by_geo`" in reference and "| `unique_viewers_sketch` | `binary` |" in reference
    docs = (Path(__file__).resolve().parents[1] / "docs" / "tables.md").read_text()
    assert reference in docs, "regenerate it: .venv/bin/python tools/tables_reference.py"
