"""The Python–JVM boundary: ``vsa.jvm`` is the one module that reaches into py4j, and the
lists Python shares with the jar are read from the jar (docs/architecture.md, "The
Python–JVM boundary")."""

from __future__ import annotations

import re
from pathlib import Path

from project_tools import load_tool
from vsa import jvm
from vsa.config import VsaConfig
from vsa.simulate import truth

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "vsa"
# py4j's handles on the JVM, and py4j itself.
PY4J = re.compile(r"\._(jvm|jsc|jdf|jsparkSession)\b|^\s*(from|import)\s+py4j\b", re.MULTILINE)


def test_only_vsa_jvm_reaches_into_py4j():
    reach_ins = [
        f"{path.relative_to(PACKAGE)}:{text[: found.start()].count(chr(10)) + 1}: {found[0]}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "jvm.py"
        for text in [path.read_text(encoding="utf-8")]
        for found in PY4J.finditer(text)
    ]
    assert reach_ins == [], "call the JVM through vsa.jvm (and the jar's PythonApi)"


def test_the_truth_oracle_orders_the_event_types_as_the_sessionizer_does(spark):
    # The oracle keeps its own list (it checks the sessionizer independently): it must agree.
    assert jvm.row_schemas(spark).event_types == truth.TIE_ORDER


def test_the_tables_carry_the_jars_slice_columns_and_request_figures(spark):
    schemas = load_tool("tables_reference").table_schemas(spark, VsaConfig())
    rows = jvm.row_schemas(spark)
    slice_columns = set(rows.slice_columns) - {"attrs"}  # attrs: the descriptive columns
    assert slice_columns <= set(schemas["view_slices"].fieldNames())
    requests = {f.name: f.dataType.simpleString() for f in schemas["cdn_requests"].fields}
    figures = {name: kind for name, kind in rows.request_figures.items() if name != "starved"}
    assert figures.items() <= requests.items()
    assert requests["cmcd_bs"] == "boolean"  # what a request's `starved` is made of
