"""Stage 2: raw records into typed, validated rows, and the reason a record is not one."""

from vsa.normalize.dead_letter import RAW_LIMIT_CHARS, dead_letter
from vsa.normalize.player_events import (
    REQUIRED_FIELDS,
    clock_offset_ms,
    event_time,
    parse_player_events,
    receipt_time,
)

__all__ = [
    "RAW_LIMIT_CHARS",
    "REQUIRED_FIELDS",
    "clock_offset_ms",
    "dead_letter",
    "event_time",
    "parse_player_events",
    "receipt_time",
]
