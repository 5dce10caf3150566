"""Where the tests find the third-party data vendored in ``tests/data/third_party`` (uap-core
cases, MaxMind test databases, real CDN samples and CMCD vectors; see its README.md).
``VSA_SHARED_DATA`` may point at another copy of the same layout."""

from __future__ import annotations

import os
from pathlib import Path

VENDORED = Path(__file__).resolve().parent / "data" / "third_party"


def third_party_data() -> Path:
    """The folder holding ``uap/``, ``mmdb/`` and ``cdn-real/``: ``VSA_SHARED_DATA`` if set,
    else the vendored copy."""
    return Path(os.environ.get("VSA_SHARED_DATA") or VENDORED)
