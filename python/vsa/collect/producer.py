"""The collector's Kafka producer: librdkafka (confluent-kafka), acks=all and idempotent, with
an asyncio face: :meth:`Broker.send` returns when the broker has acknowledged every record of
a request, or raises :class:`Unavailable` (the request gets 429 or 503)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vsa.config import VsaConfig

log = logging.getLogger(__name__)

# Java client settings librdkafka has under the same name or another.
MAPPED_KAFKA_OPTIONS = {
    "security.protocol": "security.protocol",
    "sasl.mechanism": "sasl.mechanisms",
    "ssl.keystore.location": "ssl.keystore.location",
    "ssl.keystore.password": "ssl.keystore.password",
    "ssl.key.password": "ssl.key.password",
    "sasl.kerberos.service.name": "sasl.kerberos.service.name",
    "client.id": "client.id",
}
# Settings the mapping reads itself (below), and Java-only ones with no librdkafka meaning.
HANDLED_KAFKA_OPTIONS = {
    "sasl.jaas.config",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "ssl.keystore.type",
    "ssl.endpoint.identification.algorithm",
}
# The JAAS login modules whose user and password librdkafka takes as sasl.username/password.
PASSWORD_LOGIN_MODULES = ("PlainLoginModule", "ScramLoginModule")
JAAS_VALUE = r'{name}\s*=\s*"((?:[^"\\]|\\.)*)"'
LINGER_MS = 2
# How often the poll thread serves delivery reports, and probes a broker it found down.
POLL_SECONDS = 0.05
PROBE_SECONDS = 1.0
# librdkafka says "all brokers down" also when the broker closed an idle connection, and
# reconnects on demand: requests wait for it this long before they get 503 at once.
DOWN_GRACE_SECONDS = 1.0


class Unavailable(RuntimeError):
    """The records of a request are not all acknowledged: ``status`` is 429 (buffer full) or
    503 (broker down or too slow); ``reason`` the short name of the progress line."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KafkaSettingsError(ValueError):
    """A ``kafka_options`` setting the collector's client cannot take."""


def librdkafka_settings(config: VsaConfig, workdir: Path) -> dict[str, str]:
    """librdkafka's settings for ``config.kafka_options`` (Java client names): the shared ones
    mapped, ``sasl.jaas.config`` of PLAIN and SCRAM read into ``sasl.username`` and
    ``sasl.password``, a PEM or PKCS12 trust store made ``ssl.ca.location`` (a PKCS12 one
    written as PEM into ``workdir``). Other settings (Java tuning) do not apply to it and are
    logged by name.

    Raises
    ------
    KafkaSettingsError
        For a JAAS login module other than PLAIN and SCRAM, or a JKS trust store.
    """
    options = config.kafka_options
    settings = {"bootstrap.servers": config.kafka_bootstrap_servers}
    for name, value in options.items():
        if name in MAPPED_KAFKA_OPTIONS:
            settings[MAPPED_KAFKA_OPTIONS[name]] = value
    jaas = options.get("sasl.jaas.config")
    if jaas:
        settings.update(_jaas_credentials(jaas))
    if options.get("ssl.endpoint.identification.algorithm", "https") == "":
        settings["ssl.endpoint.identification.algorithm"] = "none"
    truststore = options.get("ssl.truststore.location")
    if truststore:
        settings["ssl.ca.location"] = _ca_location(
            truststore,
            options.get("ssl.truststore.type", "JKS").upper(),
            options.get("ssl.truststore.password"),
            workdir,
        )
    ignored = sorted(set(options) - set(MAPPED_KAFKA_OPTIONS) - HANDLED_KAFKA_OPTIONS)
    if ignored:
        log.info("kafka_options not used by vsa collect (Java client only): %s", ", ".join(ignored))
    return settings


def _jaas_credentials(jaas: str) -> dict[str, str]:
    module = jaas.split(None, 1)[0] if jaas.strip() else ""
    if not module.endswith(PASSWORD_LOGIN_MODULES):
        raise KafkaSettingsError(
            f"kafka_options.sasl.jaas.config: vsa collect reads the user and password of "
            f"PLAIN and SCRAM logins only, not {module.rsplit('.', 1)[-1] or 'an empty one'}"
        )
    found = {}
    for name in ("username", "password"):
        match = re.search(JAAS_VALUE.format(name=name), jaas)
        if match is None:
            raise KafkaSettingsError(f'kafka_options.sasl.jaas.config has no {name}="..."')
        found[f"sasl.{name}"] = re.sub(r"\\(.)", r"\1", match.group(1))
    return found


def _ca_location(path: str, kind: str, password: str | None, workdir: Path) -> str:
    if kind == "PEM":
        return path
    if kind != "PKCS12":
        raise KafkaSettingsError(
            f"kafka_options.ssl.truststore.type {kind}: vsa collect (librdkafka) reads PEM or "
            "PKCS12 trust stores; convert it (keytool -importkeystore -deststoretype PKCS12)"
        )
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    store = pkcs12.load_pkcs12(Path(path).read_bytes(), (password or "").encode() or None)
    certificates = [c.certificate for c in store.additional_certs]
    if store.cert is not None:
        certificates.append(store.cert.certificate)
    if not certificates:
        raise KafkaSettingsError(
            f"kafka_options.ssl.truststore.location {path} holds no certificate"
        )
    pem = workdir / "truststore.pem"
    pem.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))
    return str(pem)


class _Request:
    """The delivery reports of one request's records, gathered in the poll thread; when the
    last one is in, ``finish(request)`` queues it for the event loop, which the poll thread
    wakes once per poll (not once per request)."""

    __slots__ = ("remaining", "error", "future", "finish", "lock")

    def __init__(
        self, future: asyncio.Future[object], count: int, finish: Callable[[_Request], None]
    ) -> None:
        self.future = future
        self.remaining = count
        self.error: object = None
        self.finish = finish
        self.lock = threading.Lock()

    def delivered(self, error: object, _message: object) -> None:
        with self.lock:
            if error is not None and self.error is None:
                self.error = error
            self.remaining -= 1
            last = self.remaining == 0
        if last:
            self.finish(self)

    def withdraw(self, count: int) -> None:
        """``count`` records were never produced: do not wait for them (event loop thread)."""
        with self.lock:
            self.remaining -= count
            last = self.remaining == 0
        if last:
            _settle([self])


def _settle(requests: list[_Request]) -> None:
    for request in requests:
        if not request.future.done():
            request.future.set_result(request.error)


class Broker:
    """One idempotent librdkafka producer shared by every request, a thread that serves its
    delivery reports, and what the collector knows of the broker's health."""

    def __init__(self, config: VsaConfig, settings: dict[str, str]) -> None:
        from confluent_kafka import Producer

        self._config = config
        self._producer = Producer(
            {
                **settings,
                "acks": "all",
                "enable.idempotence": True,
                # Each request waits for its acknowledgement: a short linger keeps that wait
                # short, and batches still form under load (5 requests in flight a broker).
                "linger.ms": LINGER_MS,
                "message.timeout.ms": config.collect_delivery_timeout_seconds * 1000,
                # Above the collector's own limits (429 first), so that produce() never
                # finds librdkafka's queue full halfway through a request.
                "queue.buffering.max.messages": config.collect_buffer_max_records
                + config.collect_max_lines,
                "queue.buffering.max.kbytes": (
                    config.collect_buffer_max_bytes + 2 * config.collect_max_body_bytes
                )
                // 1024,
                "error_cb": self._on_error,
                "logger": log,
            }
        )
        # Requests whose records are all reported, for the event loop: filled and emptied by
        # the poll thread alone.
        self._finished: list[_Request] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.records_waiting = 0
        self.bytes_waiting = 0
        self._down_since: float | None = None
        self._fatal: str | None = None
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="vsa-collect-kafka", daemon=True)
        self._poller.start()

    @property
    def fatal(self) -> bool:
        """Whether the producer failed for good (an idempotence error): the collector stops."""
        return self._fatal is not None

    async def send(
        self,
        topic: str,
        records: Sequence[tuple[bytes, bytes | None]],
        headers: list[tuple[str, bytes]],
        timestamp_ms: int,
    ) -> None:
        """Writes ``records`` to ``topic`` and returns once the broker has acknowledged each;
        raises :class:`Unavailable` otherwise (some may then be written: the client resends
        them all, so a retried request can repeat records, never lose one)."""
        if self._fatal is not None:
            raise Unavailable(503, "broker_error", f"the Kafka producer failed: {self._fatal}")
        down = self._down_since
        if down is not None and time.monotonic() - down > DOWN_GRACE_SECONDS:
            raise Unavailable(503, "broker_down", "the Kafka broker does not answer")
        size = sum(len(value) for value, _ in records)
        config = self._config
        # A request is let in when nothing waits, however large: it must pass some time.
        if self.records_waiting and (
            self.records_waiting + len(records) > config.collect_buffer_max_records
            or self.bytes_waiting + size > config.collect_buffer_max_bytes
        ):
            raise Unavailable(429, "buffer_full", "the collector's buffer is full")
        loop = asyncio.get_running_loop()
        self._loop = loop
        request = _Request(loop.create_future(), len(records), self._finish)
        self.records_waiting += len(records)
        self.bytes_waiting += size
        try:
            produce = self._producer.produce
            for index, (value, key) in enumerate(records):
                try:
                    produce(
                        topic,
                        value,
                        key,
                        on_delivery=request.delivered,
                        timestamp=timestamp_ms,
                        headers=headers,
                    )
                except BufferError:
                    request.withdraw(len(records) - index)
                    await request.future
                    raise Unavailable(429, "buffer_full", "Kafka's send queue is full") from None
            error = await request.future
        finally:
            self.records_waiting -= len(records)
            self.bytes_waiting -= size
        if error is not None:
            raise Unavailable(503, "broker_error", f"Kafka did not acknowledge: {error}")

    def reachable(self, timeout: float) -> bool:
        """Whether the broker answers a metadata request within ``timeout`` seconds (blocks)."""
        try:
            self._producer.list_topics(timeout=timeout)
        except Exception:  # KafkaException, or a timeout
            return False
        self._down_since = None
        return self._fatal is None

    def close(self, timeout: float) -> int:
        """Waits up to ``timeout`` seconds for what is queued; returns what is still queued."""
        # The poll thread stops first: delivery reports are then served here, by flush().
        self._stop.set()
        self._poller.join()
        left = self._producer.flush(timeout)
        self._hand_over()
        return left

    def _finish(self, request: _Request) -> None:
        """Queues a request whose records are all reported (in poll(), or flush() at close)."""
        self._finished.append(request)

    def _hand_over(self) -> None:
        """Settles the finished requests in the event loop, with one wake-up."""
        if self._finished and self._loop is not None:
            finished, self._finished = self._finished, []
            self._loop.call_soon_threadsafe(_settle, finished)

    def _poll(self) -> None:
        probed = 0.0
        while not self._stop.is_set():
            self._producer.poll(POLL_SECONDS)
            self._hand_over()
            now = time.monotonic()
            if self._down_since is not None and now - probed > PROBE_SECONDS:
                probed = now
                if self.reachable(PROBE_SECONDS):
                    log.info("Kafka answers again")

    def _on_error(self, error) -> None:  # confluent_kafka.KafkaError
        from confluent_kafka import KafkaError

        if error.fatal():
            self._fatal = error.str()
            log.error("the Kafka producer failed: %s; vsa collect stops", error.str())
        elif error.code() == KafkaError._ALL_BROKERS_DOWN and self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("Kafka does not answer: requests get 503 until it does")
