"""The examples in vsa's docstrings run and print what they say."""

from __future__ import annotations

import doctest

import pytest

import vsa.functions
import vsa.session


@pytest.mark.parametrize("module", [vsa.functions, vsa.session])
def test_docstring_examples(spark, module):
    result = doctest.testmod(module, extraglobs={"spark": spark}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
