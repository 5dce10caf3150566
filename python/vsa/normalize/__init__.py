"""Stage 2: raw records into typed, validated rows, and the rest into dead letters."""

from vsa.normalize.player_events import (
    EVENT_TYPES,
    REQUIRED_FIELDS,
    parse_player_events,
    player_event_dead_letters,
    valid_player_events,
)

__all__ = [
    "EVENT_TYPES",
    "REQUIRED_FIELDS",
    "parse_player_events",
    "player_event_dead_letters",
    "valid_player_events",
]
