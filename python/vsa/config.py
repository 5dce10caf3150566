"""The one configuration object of vsa: every stage reads its settings from here."""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING as dataclasses_missing
from dataclasses import dataclass, field, fields
from pathlib import Path

log = logging.getLogger(__name__)

GEOIP_CITY_DB_KEY = "spark.vsa.geoip.cityDb"
# The key of vsa_viewer_key's secret: Spark redacts the values of keys that say "secret" (UI,
# event logs), and the expression never prints it, so the secret is in no plan Spark logs.
VIEWER_SECRET_KEY = "spark.vsa.viewer.secret"
GEOIP_ASN_DB_KEY = "spark.vsa.geoip.asnDb"
CDN_LOG_FORMATS = (
    "cloudfront",
    "cloudfront-realtime",
    "akamai-ds2",
    "edgecast",
    "fastly",
    "nginx",
)
# The module of the PyPI package maxminddb-geolite2 that holds its GeoLite2-City.mmdb.
EMBEDDED_CITY_DB_PACKAGE = "_maxminddb_geolite2"
# Kafka client settings that kafka_options may not hold, and why.
RESERVED_KAFKA_OPTIONS = {
    "bootstrap.servers": "set kafka_bootstrap_servers instead",
    **{
        name: "Spark's Kafka source manages it and refuses it"
        for name in (
            "auto.offset.reset",
            "enable.auto.commit",
            "key.deserializer",
            "value.deserializer",
            "interceptor.classes",
        )
    },
}

# What makes a setting's name a secret's, case aside: one of these anywhere in it
# (``ssl.truststore.password``, ``sasl.jaas.config``, ``spark.authenticate.secret``,
# ``fs.s3a.session.token``, ``sasl.oauthbearer.assertion.private.key.passphrase``), or a word
# that ends in "key" (``ssl.keystore.key``, ``fs.s3a.access.key``, ``spark.ssl.keyPassword``;
# not ``ssl.keystore.location``). Words part at any non-letter and at camelCase.
SECRET_PARTS = ("password", "passwd", "passphrase", "secret", "token", "credential", "jaas")
_KEY_WORD = re.compile(r"key$|keys$")
# The tables whose entries are other systems' settings, secrets among them.
PASSED_SETTINGS = ("kafka_options", "spark_conf")
MASK = "***"


def is_secret(key: str, entry: str | None = None) -> bool:
    """Whether config key ``key``, or the entry ``entry`` of its table, holds a secret (by its
    name, SECRET_PARTS): ``vsa config`` and ``repr`` show it as ``***`` and no error message
    repeats it."""
    names = [key, entry] if entry is not None and key in PASSED_SETTINGS else [key]
    return any(_secret_name(name) for name in names)


def _secret_name(name: str) -> bool:
    if any(part in name.lower() for part in SECRET_PARTS):
        return True
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).lower()
    return any(_KEY_WORD.search(word) for word in re.split(r"[^a-z0-9]+", words))


def _shown(value: object, secret: bool) -> str:
    """``value`` for an error message: its repr, or only its type for a secret."""
    return f"{type(value).__name__} (a secret: not shown)" if secret else repr(value)


@dataclass(frozen=True)
class VsaConfig:
    """Settings of a vsa job.

    Parameters
    ----------
    kafka_bootstrap_servers
        ``host:port[,host:port]`` of the Kafka cluster.
    player_events_topic
        Topic of the player events (JSON, one event per record); None or empty: none (a job
        of CDN logs only).
    output_root
        Directory under which every table is written, one sub-directory per table: a local path
        or a URI (``s3a://bucket/vsa``, ``hdfs://nn:8020/vsa``, ``abfss://...``, ``file:///...``).
    checkpoint_root
        Directory (a path or a URI) under which every streaming query keeps its checkpoint;
        defaults to ``<output_root>/_checkpoints``.
    starting_offsets
        Where a query without a checkpoint starts reading: ``earliest`` or ``latest``.
    max_offsets_per_trigger
        Upper bound of records read per micro-batch (None: no bound). Without one, a job
        started on a backlog reads it all in one micro-batch, whose events all wait in the
        sessionizer's state for the first watermark: bound it (200,000 is a good start), or
        give the driver (local mode) or the executors room for the whole backlog.
    topic_wait_seconds
        How long the streaming job waits at start for a player topic that does not exist yet,
        with one progress line; 0: it stops at once, naming the topic.
    kafka_options
        Kafka client settings passed through to the Kafka source and producer as
        ``kafka.<name>`` options: security (``security.protocol``, ``sasl.mechanism``,
        ``sasl.jaas.config``, ``ssl.truststore.location``, ...) and tuning. Names without the
        ``kafka.`` prefix; ``bootstrap.servers`` is ``kafka_bootstrap_servers``.
    trigger_interval
        Processing-time trigger of the streaming job, e.g. ``"10 seconds"``.
    watermark_seconds
        How late an event may arrive (event time behind the newest event seen) and still count.
    window_seconds
        Length of the KPI tables' tumbling event-time windows (a multiple of 60).
    view_timeout_seconds
        Inactivity after which a view closes (``timeout``).
    max_event_gap_seconds
        The most time counted after one event before the next (docs/views.md, "gap cap").
    clock_offset_bound_seconds
        The largest device clock offset corrected: a record received within this many seconds
        of its ``ts`` (either way) places its session in server time; one received further
        from it (a replay, a backfill) keeps its ``ts`` (docs/views.md, "Device clocks").
    max_pending_events_per_session
        The most events one session may hold waiting for the watermark; more are dead letters
        (``session_overflow``).
    idle_timeout_seconds
        A partition of the player topic that has been silent this long, with nothing left
        unread, stops holding the job's watermark: it ticks at ``now - idle_timeout``
        (docs/architecture.md, "Idle partitions"). 0: never (a silent partition holds every
        slice, view and KPI).
    privacy
        When on (the default), no table holds a full IP address: ``client_ip`` is truncated
        (/24, /48) after it is geolocated, and every address in every other string (ids, free
        text, map keys and values, dead letters), ports and brackets included, is truncated the
        same way (docs/enrichment.md).
    viewer_secret
        When set, every table holds ``vsa_viewer_key(viewer_id)`` (a keyed HMAC pseudonym
        under this secret, Spark conf ``spark.vsa.viewer.secret``) instead of the viewer id,
        dead letters' raw records included; unique viewers count the same.
    geoip_city_db
        Path of a GeoIP2/GeoLite2 City ``.mmdb`` file for ``vsa_geoip`` (Spark conf
        ``spark.vsa.geoip.cityDb``); a local file of the driver (shipped to the executors with
        ``spark.files`` automatically), a path that exists on every node, or the name of a file
        shipped with ``spark.files``. Unset: the GeoLite2 City database of July 2018 that the PyPI
        package ``maxminddb-geolite2`` ships (CC BY-SA 4.0, by MaxMind), installed with vsa.
    geoip_asn_db
        Path of a GeoLite2 ASN ``.mmdb`` file for ``vsa_geoip`` (``spark.vsa.geoip.asnDb``).
    spark_conf
        Extra Spark settings applied by :func:`vsa.configure_spark`.
    cdn_logs_topic
        Topic of CDN access logs (one log line, or a whole log file, per record) that the
        streaming job reads beside the player events; None or empty: no CDN topic.
    cdn_log_format
        The format of ``cdn_logs_topic`` and of ``vsa batch --cdn-logs`` (one of
        ``CDN_LOG_FORMATS``; docs/cdn.md).
    cdn_topic_formats
        More CDN topics, each with its own format: ``{topic: format}``.
    cdn_name
        The ``cdn`` column of CDN requests; default: the vendor of the format.
    cdn_pop
        The ``pop`` column for formats that carry none (nginx).
    cloudfront_fields
        The field list of CloudFront standard log lines without a ``#Fields:`` line (Kafka
        records of single lines); default: the documented 33 fields.
    cloudfront_realtime_fields
        The field list of the CloudFront real-time log configuration, in its order; default:
        ``vsa.normalize.cdn.CLOUDFRONT_REALTIME_FIELDS``.
    fastly_field_map
        Your Fastly JSON keys for the preset's names (docs/cdn.md, "Fastly": ``timestamp``,
        ``client_ip``, ``user_agent``, ``host``, ``url``, ``status``, ``bytes``, ``elapsed_us``,
        ``ttfb_s``, ``cache_state``, ``pop``, ``cmcd``); the jar's parser rejects other names.
    collect_host
        The address ``vsa collect`` listens on (docs/collect.md); ``0.0.0.0`` for every
        interface.
    collect_port
        The TCP port of ``vsa collect``.
    collect_cors_origins
        The browser origins (``https://player.example.com``) allowed to post to ``/cmcd`` and
        ``/events``; ``*``: any. A request with an ``Origin`` not listed gets 403 and is not
        written; requests without one (servers, scripts) are accepted.
    collect_trusted_proxies
        The proxies (CIDRs, ``10.0.0.0/8``) whose ``X-Forwarded-For`` ``vsa collect`` honours:
        the client is the right-most address that is not one of them.
    collect_cdn_secrets
        ``{format: secret}``: the secret each ``/cdn/<format>`` endpoint requires
        (``Authorization: Bearer``, Basic auth's password, or ``X-Vsa-Secret``); a format
        without one is refused (403).
    collect_fastly_service_ids
        The Fastly service ids allowed to push logs, answered (SHA-256 hex) at Fastly's
        challenge path ``/.well-known/fastly/logging/challenge``; ``*``: any.
    collect_max_body_bytes
        The largest body ``vsa collect`` takes (413 over it), as sent and after gunzip.
    collect_max_lines
        The most records one body may hold (413 over it).
    collect_buffer_max_records
        The most records waiting for the broker's acknowledgement; a request that would exceed
        it gets 429 with ``Retry-After``.
    collect_buffer_max_bytes
        The most bytes waiting for the broker's acknowledgement (429 over it).
    collect_delivery_timeout_seconds
        How long a record may wait for the broker's acknowledgement before its request gets 503.
    collect_retry_after_seconds
        The ``Retry-After`` of a 503 (broker down or too slow).
    collect_progress_seconds
        How often ``vsa collect`` logs its progress line; 0: never.
    """

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    player_events_topic: str | None = "player-events"
    output_root: str = "vsa-output"
    checkpoint_root: str | None = None
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    topic_wait_seconds: int = 0
    kafka_options: dict[str, str] = field(default_factory=dict)
    trigger_interval: str = "10 seconds"
    watermark_seconds: int = 120
    window_seconds: int = 60
    view_timeout_seconds: int = 600
    max_event_gap_seconds: int = 30
    clock_offset_bound_seconds: int = 3600
    max_pending_events_per_session: int = 10_000
    idle_timeout_seconds: int = 60
    privacy: bool = True
    viewer_secret: str | None = None
    geoip_city_db: str | None = None
    geoip_asn_db: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    cdn_logs_topic: str | None = "cdn-logs"
    cdn_log_format: str = "cloudfront"
    cdn_topic_formats: dict[str, str] = field(default_factory=dict)
    cdn_name: str | None = None
    cdn_pop: str | None = None
    cloudfront_fields: tuple[str, ...] | None = None
    cloudfront_realtime_fields: tuple[str, ...] | None = None
    fastly_field_map: dict[str, str] = field(default_factory=dict)
    collect_host: str = "127.0.0.1"
    collect_port: int = 8480
    collect_cors_origins: tuple[str, ...] | None = None
    collect_trusted_proxies: tuple[str, ...] | None = None
    # Out of repr: they are passwords.
    collect_cdn_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    collect_fastly_service_ids: tuple[str, ...] | None = None
    collect_max_body_bytes: int = 10 * 1024 * 1024
    collect_max_lines: int = 100_000
    collect_buffer_max_records: int = 200_000
    collect_buffer_max_bytes: int = 128 * 1024 * 1024
    collect_delivery_timeout_seconds: int = 15
    collect_retry_after_seconds: int = 5
    collect_progress_seconds: int = 10

    def __post_init__(self) -> None:
        if self.starting_offsets not in ("earliest", "latest"):
            raise ValueError(
                f"starting_offsets must be 'earliest' or 'latest', not {self.starting_offsets!r}"
            )
        if self.max_offsets_per_trigger is not None and self.max_offsets_per_trigger <= 0:
            raise ValueError(
                f"max_offsets_per_trigger must be positive, not {self.max_offsets_per_trigger}"
            )
        if self.topic_wait_seconds < 0:
            raise ValueError(f"topic_wait_seconds must be >= 0, not {self.topic_wait_seconds}")
        if not 0 < self.max_event_gap_seconds < self.view_timeout_seconds:
            raise ValueError(
                "max_event_gap_seconds must be positive and below view_timeout_seconds, got "
                f"{self.max_event_gap_seconds} and {self.view_timeout_seconds}"
            )
        if self.window_seconds <= 0 or self.window_seconds % 60:
            raise ValueError(
                f"window_seconds must be a positive multiple of 60, not {self.window_seconds}"
            )
        if self.watermark_seconds < 0:
            raise ValueError(f"watermark_seconds must be >= 0, not {self.watermark_seconds}")
        if self.clock_offset_bound_seconds < 0:
            raise ValueError(
                f"clock_offset_bound_seconds must be >= 0, not {self.clock_offset_bound_seconds}"
            )
        if self.max_pending_events_per_session <= 0:
            raise ValueError(
                "max_pending_events_per_session must be positive, not "
                f"{self.max_pending_events_per_session}"
            )
        if self.idle_timeout_seconds < 0:
            raise ValueError(f"idle_timeout_seconds must be >= 0, not {self.idle_timeout_seconds}")
        if not self.kafka_bootstrap_servers.strip():
            raise ValueError("kafka_bootstrap_servers must not be empty")
        for fmt in (self.cdn_log_format, *self.cdn_topic_formats.values()):
            if fmt not in CDN_LOG_FORMATS:
                raise ValueError(
                    f"unknown CDN log format {fmt!r}; formats are {', '.join(CDN_LOG_FORMATS)}"
                )
        if not self.player_events_topic and not self.cdn_formats:
            raise ValueError("no topic to read: set player_events_topic, cdn_logs_topic or both")
        if self.player_events_topic and self.player_events_topic in self.cdn_formats:
            raise ValueError(f"topic {self.player_events_topic!r} is both player events and CDN")
        if self.cloudfront_realtime_fields is not None and (
            len(set(self.cloudfront_realtime_fields)) != len(self.cloudfront_realtime_fields)
            or not {"timestamp", "sc-status"} <= set(self.cloudfront_realtime_fields)
        ):
            raise ValueError(
                "cloudfront_realtime_fields must list distinct fields including timestamp and "
                "sc-status"
            )

        self._check_collect()

        for name in self.kafka_options:
            if name.startswith("kafka.") or name in RESERVED_KAFKA_OPTIONS:
                raise ValueError(
                    f"kafka_options.{name}: "
                    + RESERVED_KAFKA_OPTIONS.get(name, "name it without the 'kafka.' prefix")
                )

    def masked(self) -> dict[str, object]:
        """Every key's value, each secret (:func:`is_secret`) as ``***``: what ``vsa config``
        and ``repr`` show."""
        shown: dict[str, object] = {}
        for key in config_keys():
            value = getattr(self, key)
            if isinstance(value, dict):
                value = {n: MASK if is_secret(key, n) else v for n, v in value.items()}
            elif value is not None and is_secret(key):
                value = MASK
            shown[key] = value
        return shown

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.masked().items())
        return f"{type(self).__name__}({shown})"

    def _check_collect(self) -> None:
        """The collector's settings (``vsa collect``), checked when the config loads."""
        if not 0 <= self.collect_port <= 65535:
            raise ValueError(f"collect_port must be a TCP port, not {self.collect_port}")
        for key in (
            "collect_max_body_bytes",
            "collect_max_lines",
            "collect_buffer_max_records",
            "collect_buffer_max_bytes",
            "collect_delivery_timeout_seconds",
            "collect_retry_after_seconds",
        ):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key} must be positive, not {getattr(self, key)}")
        if self.collect_progress_seconds < 0:
            raise ValueError("collect_progress_seconds must be >= 0")
        for proxy in self.collect_trusted_proxies or ():
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"collect_trusted_proxies: {proxy!r} is not an address or a CIDR"
                ) from None
        for origin in self.collect_cors_origins or ():
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(
                    f"collect_cors_origins: {origin!r} is not an origin (scheme://host[:port], "
                    "no path) or *"
                )
        for fmt, secret in self.collect_cdn_secrets.items():
            if fmt not in CDN_LOG_FORMATS:
                raise ValueError(
                    f"collect_cdn_secrets: unknown CDN log format {fmt!r}; formats are "
                    + ", ".join(CDN_LOG_FORMATS)
                )
            if len(secret) < 16:
                raise ValueError(
                    f"collect_cdn_secrets: the secret of {fmt!r} is too short (16 characters "
                    "at least)"
                )

    @property
    def cdn_formats(self) -> dict[str, str]:
        """Every CDN topic the streaming job reads, with its format."""
        topics = {self.cdn_logs_topic: self.cdn_log_format} if self.cdn_logs_topic else {}
        return {**topics, **self.cdn_topic_formats}

    @property
    def jvm_conf(self) -> dict[str, str]:
        """The ``spark.vsa.*`` settings the jar reads, from this config's fields."""
        settings = {
            GEOIP_CITY_DB_KEY: self.geoip_city_db or embedded_city_db(),
            GEOIP_ASN_DB_KEY: self.geoip_asn_db,
            VIEWER_SECRET_KEY: self.viewer_secret,
        }
        return {key: value for key, value in settings.items() if value}

    def table_path(self, table: str) -> str:
        """Where ``table`` is written: a URI under a URI root, a local path under a path."""
        return join_location(self.output_root, table)

    def checkpoint_path(self, query: str) -> str:
        """The checkpoint directory of the streaming query ``query``."""
        root = self.checkpoint_root or join_location(self.output_root, "_checkpoints")
        return join_location(root, query)


# scheme://: s3a://bucket, hdfs://nn:8020, abfss://c@acct.dfs.core.windows.net, file:///tmp
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def join_location(root: str, name: str) -> str:
    """``name`` under ``root``, a URI (``s3a://bucket/out``) or a local path.

    A URI keeps its ``//`` (pathlib would make ``s3a:/bucket``) and gets one ``/`` before
    ``name``, whatever slashes end it; a local path joins as pathlib joins it.
    """
    if not _URI.match(root):
        return str(Path(root) / name)
    scheme, _, rest = root.partition("://")
    authority, _, path = rest.partition("/")
    return f"{scheme}://{authority}/" + "/".join(filter(None, (path.rstrip("/"), name)))


def embedded_city_db() -> str | None:
    """The GeoLite2 City database inside the installed package ``maxminddb-geolite2``
    (July 2018; GeoLite2 data created by MaxMind, CC BY-SA 4.0), None without the package."""
    spec = importlib.util.find_spec(EMBEDDED_CITY_DB_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "GeoLite2-City.mmdb"
    return str(path) if path.is_file() else None


class ConfigError(ValueError):
    """A configuration vsa cannot start with; the message names the key and where it was set."""


ENV_PREFIX = "VSA_"
# VSA_KAFKA_OPTION_SASL_JAAS_CONFIG sets kafka_options["sasl.jaas.config"]: secrets stay out
# of the config file.
KAFKA_OPTION_ENV_PREFIX = "VSA_KAFKA_OPTION_"
# VSA_COLLECT_CDN_SECRET_AKAMAI_DS2 sets collect_cdn_secrets["akamai-ds2"], likewise.
CDN_SECRET_ENV_PREFIX = "VSA_COLLECT_CDN_SECRET_"
# vsa's environment variables that are not config keys (vsa.spark_session, the tests).
OTHER_ENV = frozenset({"VSA_SPARK_JAR", "VSA_SHARED_DATA", "VSA_CHROMIUM"})
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def config_keys() -> dict[str, object]:
    """Every key a config file may hold (the fields of :class:`VsaConfig`) and its type."""
    hints = typing.get_type_hints(VsaConfig)
    return {f.name: hints[f.name] for f in fields(VsaConfig)}


def env_name(key: str) -> str:
    """The environment variable that overrides ``key``."""
    return ENV_PREFIX + key.upper()


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> VsaConfig:
    """The configuration from, lowest precedence first: the defaults, the TOML file ``path``,
    the environment (``VSA_<KEY>``; ``os.environ`` unless ``env`` is given) and ``overrides``
    (CLI flags: typed values, or text parsed as the environment's).

    Keys are the fields of :class:`VsaConfig`; the table keys ``spark_conf`` and
    ``kafka_options`` merge across the layers entry by entry.

    Raises
    ------
    ConfigError
        For an unreadable file, an unknown key or a bad value, naming the key and its source.
    """
    keys = config_keys()
    values: dict[str, object] = {}
    origin: dict[str, str] = {}

    def put(key: str, value: object, where: str) -> None:
        if key not in keys:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {', '.join(keys)}")
        value = _typed(key, keys[key], value, where)
        if isinstance(value, dict):
            value = {**values.get(key, {}), **value}  # type: ignore[dict-item]
        values[key] = value
        origin[key] = where

    if path is not None:
        for key, value in _read_toml(Path(path)).items():
            put(key, value, f"{path}: {key}")
    for name, text in sorted((os.environ if env is None else env).items()):
        if name.startswith(KAFKA_OPTION_ENV_PREFIX):
            option = name[len(KAFKA_OPTION_ENV_PREFIX) :].lower().replace("_", ".")
            put("kafka_options", {option: text}, name)
        elif name.startswith(CDN_SECRET_ENV_PREFIX):
            fmt = name[len(CDN_SECRET_ENV_PREFIX) :].lower().replace("_", "-")
            put("collect_cdn_secrets", {fmt: text}, name)
        elif name.startswith(ENV_PREFIX) and name not in OTHER_ENV:
            key = name[len(ENV_PREFIX) :].lower()
            if key in keys:
                put(key, _parse_text(key, keys[key], text, name), name)
            else:
                log.warning("ignoring %s: no config key %r", name, key)
    for key, value in (overrides or {}).items():
        if isinstance(value, str):
            value = _parse_text(key, keys.get(key, str), value, f"command line: {key}")
        put(key, value, f"command line: {key}")
    try:
        return VsaConfig(**values)  # type: ignore[arg-type]
    except ValueError as error:
        # __post_init__ names the key; say where it was set.
        named = [where for key, where in origin.items() if str(error).startswith(key)]
        raise ConfigError(f"{named[0] if named else 'config'}: {error}") from None


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def _optional(hint: object) -> tuple[object, bool]:
    """``(T, True)`` for ``T | None``, else ``(hint, False)``."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _typed(key: str, hint: object, value: object, where: str) -> object:
    """``value`` checked against the field's type (TOML already typed it)."""
    base, optional = _optional(hint)
    if value is None and optional:
        return None
    got = _shown(value, is_secret(key))
    if typing.get_origin(base) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of settings, got {got}")
        return {
            str(k): _setting_text(f"{where}.{k}", v, is_secret(key, str(k)))
            for k, v in value.items()
        }
    if typing.get_origin(base) is tuple:
        # A TOML array, or the tuple _parse_text made of a variable or a flag.
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f'{where}: expected a list of text, e.g. ["a", "b"], got {got}')
        return tuple(value)
    kind = {str: "text", int: "an integer", bool: "true or false"}[base]  # type: ignore[index]
    # bool is an int in Python, but `watermark_seconds = true` is a mistake.
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):  # type: ignore[arg-type]
        raise ConfigError(f"{where}: expected {kind}, got {got}")
    return value


def _setting_text(where: str, value: object, secret: bool) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigError(
        f"{where}: expected text, a number or true/false, got {_shown(value, secret)}"
    )


def _parse_text(key: str, hint: object, text: str, where: str) -> object:
    """The value of an environment variable or a CLI flag, by the field's type."""
    base, optional = _optional(hint)
    got = _shown(text, is_secret(key))
    if optional and text == "":
        return None
    if base is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {got}") from None
    if base is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ConfigError(f"{where}: expected true or false, got {got}")
    if typing.get_origin(base) is dict:
        raise ConfigError(f"{where}: {key} is a table: set it in the config file")
    if typing.get_origin(base) is tuple:
        items = tuple(item.strip() for item in text.split(","))
        if not all(items):
            raise ConfigError(f"{where}: expected a comma-separated list, e.g. a,b, got {got}")
        return items
    return text


def config_reference() -> str:
    """The Markdown table of every config key (docs/configuration.md holds it verbatim)."""
    docs = _field_docs()
    lines = [
        "| key | type | default | environment | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f, hint in zip(fields(VsaConfig), config_keys().values(), strict=True):
        default = f.default_factory() if f.default_factory is not dataclasses_missing else f.default
        base, optional = _optional(hint)
        origin = typing.get_origin(base)
        type_name = {dict: "table", tuple: "list"}.get(origin) or getattr(base, "__name__", "")
        type_name += ", optional" if optional else ""
        shown = "" if default is None else f"`{default!r}`"
        env = "`VSA_KAFKA_OPTION_<NAME>`" if f.name == "kafka_options" else f"`{env_name(f.name)}`"
        env += " (comma-separated)" if origin is tuple else ""
        if f.name == "collect_cdn_secrets":
            env = "`VSA_COLLECT_CDN_SECRET_<FORMAT>`"
        if f.name == "spark_conf":
            env = "(file, `--conf`)"
        lines.append(f"| `{f.name}` | {type_name} | {shown} | {env} | {docs[f.name]} |")
    return "\n".join(lines) + "\n"


def _field_docs() -> dict[str, str]:
    """Each field's text from the Parameters section of VsaConfig's docstring, on one line."""
    docs: dict[str, list[str]] = {}
    current = None
    for line in (VsaConfig.__doc__ or "").splitlines():
        if line.startswith("    ") and not line.startswith("        ") and line.strip() != "-" * 10:
            current = line.strip()
            docs[current] = []
        elif line.startswith("        ") and current:
            docs[current].append(line.strip())
    return {name: " ".join(text).replace("|", "\\|") for name, text in docs.items()}
