"""Every SQL function of the jar has a Python wrapper in vsa.functions, and vice versa."""

from __future__ import annotations

import inspect
import re

from vsa import functions as vf


def wrapped_functions() -> dict[str, str]:
    """SQL name → wrapper name, read from each wrapper's ``call_function`` call."""
    out = {}
    for name, fn in inspect.getmembers(vf, inspect.isfunction):
        if fn.__module__ != vf.__name__ or name.startswith("_"):
            continue
        calls = re.findall(r'call_function\(\s*"(\w+)"', inspect.getsource(fn))
        assert len(calls) == 1, f"{name} should call exactly one SQL function, calls {calls}"
        out[calls[0]] = name
    return out


def test_every_catalog_function_has_a_wrapper_and_vice_versa(spark):
    registered = {f.name for f in spark.catalog.listFunctions() if f.name.startswith("vsa_")}
    wrappers = wrapped_functions()
    assert registered, "no vsa_ function registered: is the extension enabled?"
    assert registered == set(wrappers), (
        f"without wrapper: {registered - set(wrappers)}; without SQL function: "
        f"{set(wrappers) - registered}"
    )


def test_every_wrapper_is_documented_with_an_example():
    for sql_name, name in wrapped_functions().items():
        doc = inspect.getdoc(getattr(vf, name)) or ""
        assert f"``{sql_name}``" in doc and ">>> " in doc, name
