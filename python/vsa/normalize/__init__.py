"""Stage 2: raw records into typed, validated rows, and the reason a record is not one."""

from vsa.normalize.player_events import (
    EVENT_TYPES,
    REQUIRED_FIELDS,
    event_time,
    parse_player_events,
    valid_player_events,
)

__all__ = [
    "EVENT_TYPES",
    "REQUIRED_FIELDS",
    "event_time",
    "parse_player_events",
    "valid_player_events",
]
