"""Stage 4: player events → views and view slices (rules: docs/views.md)."""

from vsa.sessions.sessionize import (
    ATTRIBUTE_COLUMNS,
    LIVE_DIMENSIONS,
    sessionize,
    view_slices,
    views,
)

__all__ = ["ATTRIBUTE_COLUMNS", "LIVE_DIMENSIONS", "sessionize", "view_slices", "views"]
