"""The examples in vsa's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import re
import subprocess
from pathlib import Path

import pytest

import vsa.functions
import vsa.kpis.live
import vsa.spark_session
from project_tools import load_tool
from vsa.config import VsaConfig


@pytest.mark.parametrize("module", [vsa.functions, vsa.kpis.live, vsa.spark_session])
def test_docstring_examples(spark, module):
    result = doctest.testmod(module, extraglobs={"spark": spark}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_tables_reference_is_what_the_job_writes(spark):
    tool = load_tool("tables_reference")
    reference = tool.tables_reference(tool.table_schemas(spark, VsaConfig()))
    assert "### `kpi_by_geo`" in reference and "| `unique_viewers_sketch` | `binary` |" in reference
    docs = (Path(__file__).resolve().parents[1] / "docs" / "tables.md").read_text()
    assert reference in docs, "regenerate it: .venv/bin/python tools/tables_reference.py"


def test_no_file_of_the_repository_points_outside_it():
    """A plain clone has nothing beside it: docs, code and tests name the project's own pages and
    the data vendored in tests/data/third_party, third-party sources by their public origin."""
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"\.\./shared|shared/(?:data|spec|notes)\b")
    texts = [p for p in tracked if Path(p).suffix in {".md", ".py", ".scala", ".toml", ".sbt", ""}]
    assert len(texts) > 100
    found = [
        f"{path}:{n}"
        for path in texts
        if (root / path).is_file()
        for n, line in enumerate((root / path).read_text(errors="replace").splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []
