"""Stage 2: raw records into typed, validated rows, and the reason a record is not one."""

from vsa.normalize.player_events import (
    REQUIRED_FIELDS,
    clock_offset_ms,
    event_time,
    parse_player_events,
    receipt_time,
    valid_player_events,
)

__all__ = [
    "REQUIRED_FIELDS",
    "clock_offset_ms",
    "event_time",
    "parse_player_events",
    "receipt_time",
    "valid_player_events",
]
