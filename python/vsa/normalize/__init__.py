"""Stage 2: raw records into typed, validated rows, and the reason a record is not one."""

from vsa.normalize.dead_letter import RAW_LIMIT_CHARS, dead_letter
from vsa.normalize.player_events import parse_player_events, with_parse

__all__ = [
    "RAW_LIMIT_CHARS",
    "dead_letter",
    "parse_player_events",
    "with_parse",
]
