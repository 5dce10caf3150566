"""From a request's body to Kafka records: one record per CMCD line, per event, per log line.

A record's value is what the client sent, with the collector's stamps where the record has
room for them: a JSON event gets ``received_at`` (and ``client_ip``/``user_agent`` where it has
none); a CMCD line, which has no room, travels in an envelope
``{"cmcd": line, "received_at", "client_ip", "user_agent"}``, so a copy of the topic (a file)
keeps what the job needs. A line that is not UTF-8, not JSON or not CMCD still becomes a record
as sent: the job makes it a dead letter with a reason. Only a body that cannot be read at all
(a broken gzip stream) is refused.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b"
# zlib's window bits for a gzip stream (16 + the largest window).
GZIP_WBITS = 16 + zlib.MAX_WBITS
# How much one step of a bounded inflate may produce.
INFLATE_STEP = 64 * 1024
# `sid="..."` in a CMCD dictionary (a quoted string: backslash escapes a quote or a backslash).
CMCD_SID = re.compile(rb'(?:^|[,;])\s*sid="((?:[^"\\]|\\.)*)"')


class BodyError(ValueError):
    """A body the collector refuses: ``status`` is the HTTP status, ``reason`` the short name
    counted in the progress line."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the collector knows of a request: the receipt time and the client."""

    received_at_ms: int
    client_ip: str | None
    user_agent: str | None


Record = tuple[bytes, bytes | None]
"""A record's value and key (None: no key)."""


def gunzip(body: bytes, limit: int) -> bytes:
    """The gzip ``body`` inflated (every member of a multi-member stream), never past
    ``limit`` bytes: a gzip bomb is refused (413) after inflating ``limit`` bytes, not all."""
    out = bytearray()
    rest = body
    while rest:
        inflater = zlib.decompressobj(GZIP_WBITS)
        try:
            while rest:
                out += inflater.decompress(rest, INFLATE_STEP)
                _within(len(out), limit)
                rest = inflater.unconsumed_tail
            # What zlib still holds: at most a window's worth.
            out += inflater.flush()
            _within(len(out), limit)
        except zlib.error as error:
            raise BodyError(400, "bad_gzip", f"the body is not valid gzip: {error}") from None
        if not inflater.eof:
            raise BodyError(400, "bad_gzip", "the gzip body is cut short")
        # The next member of a multi-member stream; zeros after the last one are padding.
        rest = inflater.unused_data.lstrip(b"\0")
    return bytes(out)


def _within(size: int, limit: int) -> None:
    if size > limit:
        raise BodyError(413, "too_large", f"the body inflates past {limit} bytes")


def lines(body: bytes) -> list[bytes]:
    """The lines of ``body`` (LF or CRLF), blank ones left out: they separate, they hold
    nothing."""
    return [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]


def cmcd_records(body: bytes, stamp: Stamp) -> list[Record]:
    """One record per CMCD line (``application/cmcd``: one CMCD dictionary a line), keyed by
    its ``sid``: the line in its envelope (:func:`cmcd_envelope`), or as sent when it is not
    UTF-8."""
    stamps = _envelope_stamps(stamp)
    return [(cmcd_envelope(line, stamps), _cmcd_sid(line)) for line in lines(body)]


def cmcd_envelope(line: bytes, stamps: bytes) -> bytes:
    """A CMCD line with the stamps a report does not carry (:func:`_envelope_stamps`, the
    receipt time and the client): ``{"cmcd": line, ...stamps}``."""
    try:
        text = line.decode()
    except UnicodeDecodeError:
        return line
    return b'{"cmcd":' + json.dumps(text).encode() + stamps


def _envelope_stamps(stamp: Stamp) -> bytes:
    """The envelope's members after ``cmcd``, and its closing brace: the same for every line
    of a request, so encoded once."""
    members = {"received_at": stamp.received_at_ms}
    if stamp.client_ip:
        members["client_ip"] = stamp.client_ip
    if stamp.user_agent:
        members["user_agent"] = stamp.user_agent
    return b"," + json.dumps(members, separators=(",", ":")).encode()[1:]


def _cmcd_sid(line: bytes) -> bytes | None:
    # bytes.find first: the regular expression costs 5x as much, and most lines hold a plain
    # `sid="..."` as their first key's neighbour.
    start = line.find(b'sid="')
    if start < 0:
        return None
    end = line.find(b'"', start + 5)
    if (start == 0 or line[start - 1] in b",; ") and end > 0:
        value = line[start + 5 : end]
        if not value.endswith(b"\\"):
            return value
    found = CMCD_SID.search(line)
    return found.group(1) if found else None


def event_records(body: bytes, stamp: Stamp) -> list[Record]:
    """One record per event of ``body``: one JSON object, an array of them, or NDJSON. Each
    object gets ``received_at`` (the receipt time, epoch ms) and, where it has none, the
    request's ``client_ip`` and ``user_agent``; it is keyed by its ``session_id``. A line or
    an element that is not a JSON object is written as sent."""
    whole = _json(body)
    if isinstance(whole, dict):
        return [_stamped(whole, stamp)]
    if isinstance(whole, list):
        return [
            _stamped(item, stamp) if isinstance(item, dict) else (_dump(item), None)
            for item in whole
        ]
    records = []
    for line in lines(body):
        event = _json(line)
        records.append(_stamped(event, stamp) if isinstance(event, dict) else (line, None))
    return records


def cdn_records(body: bytes) -> list[Record]:
    """One record per log line; a JSON array (Akamai DataStream 2, Fastly's ``json_format``
    1) becomes one record per element."""
    if body.lstrip()[:1] == b"[":
        whole = _json(body)
        if isinstance(whole, list):
            return [(_dump(item), None) for item in whole]
    return [(line, None) for line in lines(body)]


def _json(text: bytes) -> object:
    """``text`` parsed as JSON, or None when it is not JSON (or not UTF-8)."""
    try:
        return json.loads(text)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return None


def _dump(value: object) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON): keep it escaped
        return json.dumps(value, separators=(",", ":")).encode()


def _stamped(event: dict, stamp: Stamp) -> Record:
    event["received_at"] = stamp.received_at_ms
    if stamp.client_ip and not event.get("client_ip"):
        event["client_ip"] = stamp.client_ip
    if stamp.user_agent and not event.get("user_agent"):
        event["user_agent"] = stamp.user_agent
    session = event.get("session_id")
    key = session.encode() if isinstance(session, str) and session else None
    return _dump(event), key
