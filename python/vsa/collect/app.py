"""The collector's ASGI application: its endpoints, its answers, its progress line.

Plain ASGI, no framework: five fixed paths, and every request's body is read under a byte
limit before anything else, which is the part a framework would not do for us.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from vsa.collect.producer import Broker, Unavailable
from vsa.collect.records import (
    GZIP_MAGIC,
    BodyError,
    Record,
    Stamp,
    cdn_records,
    cmcd_records,
    event_records,
    gunzip,
)
from vsa.config import CDN_LOG_FORMATS, VsaConfig

log = logging.getLogger("vsa.collect")

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

FASTLY_CHALLENGE = "/.well-known/fastly/logging/challenge"
CDN_PREFIX = "/cdn/"
# How long a health probe waits for the broker.
HEALTH_TIMEOUT_SECONDS = 2.0
# How long the collector waits at shutdown for records still queued.
SHUTDOWN_FLUSH_SECONDS = 10.0
# Kafka headers with the collector's stamps.
RECEIVED_AT = "vsa.received_at"
CLIENT_IP = "vsa.client_ip"
USER_AGENT = "vsa.user_agent"
ENDPOINT = "vsa.endpoint"
JSON = (b"content-type", b"application/json")
# The broker latencies one progress line holds at most (its percentiles come from these).
MAX_LATENCY_SAMPLES = 100_000


class Disconnected(Exception):
    """The client went away before its body was read: nothing to answer."""


@dataclass
class Stats:
    """What happened since the last progress line."""

    requests: int = 0
    records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    ack_ms: list[float] = field(default_factory=list)

    def line(self, seconds: float) -> str:
        """The progress line: counts only, never an address."""
        text = (
            f"collect: {self.requests} requests ({self.requests / seconds:.0f}/s), "
            f"{self.records} records ({self.records / seconds:.0f}/s) in {seconds:.0f} s"
        )
        if self.rejected:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items()))
            text += f"; rejected: {reasons}"
        if self.ack_ms:
            ordered = sorted(self.ack_ms)
            p50 = ordered[len(ordered) // 2]
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            text += f"; broker ack p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        return text


@dataclass(frozen=True)
class Endpoint:
    """A POST endpoint: its name (the ``vsa.endpoint`` header), its topic, how a body becomes
    records, and whether browsers (CORS) or a secret (CDNs) may use it."""

    name: str
    topic: str
    split: Callable[[bytes, Stamp], list[Record]]
    browser: bool
    secret: str | None = None


class Collector:
    """``vsa collect``'s ASGI application. ``broker_settings``: librdkafka's settings
    (:func:`vsa.collect.producer.librdkafka_settings`)."""

    def __init__(self, config: VsaConfig, broker_settings: dict[str, str]) -> None:
        self.config = config
        self.broker_settings = broker_settings
        self.broker: Broker | None = None
        self.stats = Stats()
        self.on_fatal: Callable[[], None] = lambda: None
        self._origins = set(config.collect_cors_origins or ())
        self._proxies = [
            ipaddress.ip_network(p, strict=False) for p in config.collect_trusted_proxies or ()
        ]
        self.endpoints = _endpoints(config)
        self._challenge = _fastly_challenge(config.collect_fastly_service_ids)
        self._tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.start()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def start(self) -> None:
        self.broker = Broker(self.config, self.broker_settings)
        self._tasks = [asyncio.create_task(self._watch())]
        if self.config.collect_progress_seconds:
            self._tasks.append(asyncio.create_task(self._progress()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.broker is not None:
            left = await asyncio.to_thread(self.broker.close, SHUTDOWN_FLUSH_SECONDS)
            if left:
                log.warning("vsa collect stopped: %d records not acknowledged", left)
            else:
                log.info("vsa collect stopped: every record acknowledged")

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        endpoint = self.endpoints.get(path)
        if endpoint is None and path.startswith(CDN_PREFIX):
            fmt = path[len(CDN_PREFIX) :]
            reason = "no_topic" if fmt in CDN_LOG_FORMATS else "not_found"
            return await self._refuse(send, 404, reason, f"no CDN topic for {fmt!r}", [])
        if endpoint is not None:
            if method == "POST":
                return await self._post(endpoint, scope, receive, send)
            if method == "OPTIONS" and endpoint.browser:
                return await self._preflight(scope, send)
            return await self._refuse(send, 405, "method", "POST only", [(b"allow", b"POST")])
        if path == "/healthz" and method in ("GET", "HEAD"):
            return await self._health(send)
        if path == FASTLY_CHALLENGE and method in ("GET", "HEAD") and self._challenge:
            return await _answer(send, 200, self._challenge, [(b"content-type", b"text/plain")])
        await self._refuse(send, 404, "not_found", "no such endpoint", [])

    async def _post(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        received_at_ms = time.time_ns() // 1_000_000
        headers = _headers(scope)
        cors: list[tuple[bytes, bytes]] = []
        origin = headers.get(b"origin")
        if origin is not None:
            if not endpoint.browser or not self._allowed(origin):
                return await self._refuse(send, 403, "origin", "origin not allowed", [])
            cors = _cors(origin)
        if not endpoint.browser and not _authorized(headers, endpoint.secret):
            if endpoint.secret is None:
                message = f"{endpoint.name} takes no pushes: it has no secret (collect_cdn_secrets)"
                return await self._refuse(send, 403, "no_secret", message, [])
            challenge = [(b"www-authenticate", b'Basic realm="vsa collect"')]
            return await self._refuse(send, 401, "secret", "wrong or missing secret", challenge)
        stamp = Stamp(
            received_at_ms, self._client_ip(scope, headers), _text(headers, b"user-agent")
        )
        try:
            body = await self._body(headers, receive)
            records = endpoint.split(body, stamp)
            if len(records) > self.config.collect_max_lines:
                raise BodyError(
                    413, "too_many_lines", f"over {self.config.collect_max_lines} records a body"
                )
        except BodyError as error:
            return await self._refuse(send, error.status, error.reason, str(error), cors)
        except Disconnected:
            self.stats.rejected["disconnected"] += 1
            return
        if records:
            kafka_headers = [
                (RECEIVED_AT, str(received_at_ms).encode()),
                (ENDPOINT, endpoint.name.encode()),
            ]
            if stamp.client_ip:
                kafka_headers.append((CLIENT_IP, stamp.client_ip.encode()))
            if stamp.user_agent:
                # The header's bytes as sent; the events' field is their UTF-8 reading.
                kafka_headers.append((USER_AGENT, headers[b"user-agent"]))
            began = time.monotonic()
            assert self.broker is not None
            try:
                await self.broker.send(endpoint.topic, records, kafka_headers, received_at_ms)
            except Unavailable as error:
                retry = 1 if error.status == 429 else self.config.collect_retry_after_seconds
                after = [(b"retry-after", str(retry).encode())]
                return await self._refuse(
                    send, error.status, error.reason, str(error), cors + after
                )
            if len(self.stats.ack_ms) < MAX_LATENCY_SAMPLES:
                self.stats.ack_ms.append((time.monotonic() - began) * 1000)
        self.stats.requests += 1
        self.stats.records += len(records)
        await _answer(send, 200, b'{"records":%d}' % len(records), [JSON, *cors])

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        limit = self.config.collect_max_body_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise BodyError(413, "too_large", f"the body is over {limit} bytes")
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyError(413, "too_large", f"the body is over {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding in (b"gzip", b"x-gzip") or (
            encoding == b"identity" and body.startswith(GZIP_MAGIC)
        ):
            return gunzip(body, limit)
        if encoding != b"identity":
            raise BodyError(415, "encoding", "Content-Encoding must be gzip or none")
        return body

    def _allowed(self, origin: bytes) -> bool:
        return "*" in self._origins or origin.decode("latin-1") in self._origins

    async def _preflight(self, scope: Scope, send: Send) -> None:
        headers = _headers(scope)
        origin = headers.get(b"origin")
        if origin is None or not self._allowed(origin):
            return await self._refuse(send, 403, "origin", "origin not allowed", [])
        asked = headers.get(b"access-control-request-headers", b"content-type")
        await _answer(
            send,
            204,
            b"",
            [
                *_cors(origin),
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", asked),
                (b"access-control-max-age", b"86400"),
            ],
        )

    def _client_ip(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """The socket's peer; behind a trusted proxy, the right-most address of
        ``X-Forwarded-For`` that is not a trusted proxy."""
        peer = (scope.get("client") or (None,))[0]
        if peer is None or not self._proxies or not self._trusted(peer):
            return peer
        forwarded = headers.get(b"x-forwarded-for")
        if not forwarded:
            return peer
        client = peer
        for hop in reversed(forwarded.decode("latin-1").split(",")):
            hop = hop.strip()
            if not self._trusted(hop):
                return hop if _is_address(hop) else client
            client = hop
        return client

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

    async def _health(self, send: Send) -> None:
        assert self.broker is not None
        if await asyncio.to_thread(self.broker.reachable, HEALTH_TIMEOUT_SECONDS):
            return await _answer(send, 200, b'{"kafka":"up"}', [JSON])
        retry = str(self.config.collect_retry_after_seconds).encode()
        await _answer(send, 503, b'{"kafka":"down"}', [JSON, (b"retry-after", retry)])

    async def _refuse(
        self,
        send: Send,
        status: int,
        reason: str,
        message: str,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.stats.rejected[reason] += 1
        body = json.dumps({"error": reason, "detail": message}).encode()
        await _answer(send, status, body, [JSON, *headers])

    async def _progress(self) -> None:
        every = self.config.collect_progress_seconds
        began = time.monotonic()
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            stats, self.stats = self.stats, Stats()
            log.info(stats.line(now - began))
            began = now

    async def _watch(self) -> None:
        """Stops the server when the producer failed for good (a fatal idempotence error):
        a supervisor (docker's restart policy) starts a fresh one."""
        while True:
            await asyncio.sleep(1)
            if self.broker is not None and self.broker.fatal:
                self.on_fatal()
                return


def _endpoints(config: VsaConfig) -> dict[str, Endpoint]:
    endpoints = {}
    if config.player_events_topic:
        topic = config.player_events_topic
        endpoints["/cmcd"] = Endpoint("cmcd", topic, cmcd_records, True)
        endpoints["/events"] = Endpoint("events", topic, event_records, True)
    for topic, fmt in reversed(config.cdn_formats.items()):
        endpoints[CDN_PREFIX + fmt] = Endpoint(
            f"cdn/{fmt}",
            topic,
            lambda body, _: cdn_records(body),
            False,
            config.collect_cdn_secrets.get(fmt),
        )
    return endpoints


def _fastly_challenge(service_ids: tuple[str, ...] | None) -> bytes:
    """Fastly's challenge answer: the SHA-256 hex of each allowed service id, a line each;
    ``*`` allows any."""
    return "".join(
        ("*" if sid == "*" else hashlib.sha256(sid.encode()).hexdigest()) + "\n"
        for sid in service_ids or ()
    ).encode()


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name; repeated ones joined with commas."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers[name] = headers[name] + b"," + value if name in headers else value
    return headers


def _text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("utf-8", "replace") if value else None


def _cors(origin: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"retry-after"),
        (b"vary", b"origin"),
    ]


def _authorized(headers: dict[bytes, bytes], secret: str | None) -> bool:
    """Whether the request carries ``secret``: ``X-Vsa-Secret``, ``Authorization: Bearer``
    or the password of ``Authorization: Basic``."""
    if secret is None:
        return False
    presented = headers.get(b"x-vsa-secret")
    scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
    if scheme.lower() == b"bearer":
        presented = credentials.strip()
    elif scheme.lower() == b"basic":
        try:
            presented = base64.b64decode(credentials.strip(), validate=True).partition(b":")[2]
        except binascii.Error:
            return False
    return presented is not None and hmac.compare_digest(presented, secret.encode())


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
