"""The one configuration object of vsa: every stage reads its settings from here."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING as dataclasses_missing
from dataclasses import dataclass, field, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

GEOIP_CITY_DB_KEY = "spark.vsa.geoip.cityDb"
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
        Upper bound of records read per micro-batch (None: no bound).
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
    privacy
        When on (the default), no table holds a full IP address: ``client_ip`` is truncated
        (/24, /48) after it is geolocated, and every address in every other string (ids, free
        text, map keys and values, dead letters), ports and brackets included, is truncated the
        same way (docs/enrichment.md).
    viewer_secret
        When set, every table holds ``vsa_viewer_key(viewer_id, viewer_secret)`` (a keyed
        HMAC pseudonym) instead of the viewer id; unique viewers count the same.
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
        Your Fastly JSON keys for the preset's names (``vsa.normalize.cdn.fastly.FASTLY_PRESET``).
    """

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    player_events_topic: str | None = "player-events"
    output_root: str = "vsa-output"
    checkpoint_root: str | None = None
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    topic_wait_seconds: int = 0
    # Out of repr: SASL and TLS settings hold passwords.
    kafka_options: dict[str, str] = field(default_factory=dict, repr=False)
    trigger_interval: str = "10 seconds"
    watermark_seconds: int = 120
    window_seconds: int = 60
    view_timeout_seconds: int = 600
    max_event_gap_seconds: int = 30
    clock_offset_bound_seconds: int = 3600
    max_pending_events_per_session: int = 10_000
    privacy: bool = True
    # Out of repr: it is a key.
    viewer_secret: str | None = field(default=None, repr=False)
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

        for name in self.kafka_options:
            if name.startswith("kafka.") or name in RESERVED_KAFKA_OPTIONS:
                raise ValueError(
                    f"kafka_options.{name}: "
                    + RESERVED_KAFKA_OPTIONS.get(name, "name it without the 'kafka.' prefix")
                )

    @property
    def cdn_formats(self) -> dict[str, str]:
        """Every CDN topic the streaming job reads, with its format."""
        topics = {self.cdn_logs_topic: self.cdn_log_format} if self.cdn_logs_topic else {}
        return {**topics, **self.cdn_topic_formats}

    @property
    def jvm_conf(self) -> dict[str, str]:
        """The ``spark.vsa.*`` settings the jar reads, from this config's fields."""
        paths = {
            GEOIP_CITY_DB_KEY: self.geoip_city_db or embedded_city_db(),
            GEOIP_ASN_DB_KEY: self.geoip_asn_db,
        }
        return {key: value for key, value in paths.items() if value}

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
# vsa's environment variables that are not config keys (vsa.session, the tests).
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
    if typing.get_origin(base) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of settings, got {value!r}")
        return {str(k): _setting_text(f"{where}.{k}", v) for k, v in value.items()}
    if typing.get_origin(base) is tuple:
        # A TOML array, or the tuple _parse_text made of a variable or a flag.
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f'{where}: expected a list of text, e.g. ["a", "b"], got {value!r}')
        return tuple(value)
    kind = {str: "text", int: "an integer", bool: "true or false"}[base]  # type: ignore[index]
    # bool is an int in Python, but `watermark_seconds = true` is a mistake.
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):  # type: ignore[arg-type]
        raise ConfigError(f"{where}: expected {kind}, got {value!r}")
    return value


def _setting_text(where: str, value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigError(f"{where}: expected text, a number or true/false, got {value!r}")


def _parse_text(key: str, hint: object, text: str, where: str) -> object:
    """The value of an environment variable or a CLI flag, by the field's type."""
    base, optional = _optional(hint)
    if optional and text == "":
        return None
    if base is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {text!r}") from None
    if base is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ConfigError(f"{where}: expected true or false, got {text!r}")
    if typing.get_origin(base) is dict:
        raise ConfigError(f"{where}: {key} is a table: set it in the config file")
    if typing.get_origin(base) is tuple:
        items = tuple(item.strip() for item in text.split(","))
        if not all(items):
            raise ConfigError(f"{where}: expected a comma-separated list, e.g. a,b, got {text!r}")
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
