"""The one configuration object of vsa: every stage reads its settings from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class VsaConfig:
    """Settings of a vsa job.

    Parameters
    ----------
    kafka_bootstrap_servers
        ``host:port[,host:port]`` of the Kafka cluster.
    player_events_topic
        Topic of the player events (JSON, one event per record).
    output_root
        Directory under which every table is written, one sub-directory per table.
    checkpoint_root
        Directory under which every streaming query keeps its checkpoint; defaults to
        ``<output_root>/_checkpoints``.
    starting_offsets
        Where a query without a checkpoint starts reading: ``earliest`` or ``latest``.
    max_offsets_per_trigger
        Upper bound of records read per micro-batch (None: no bound).
    trigger_interval
        Processing-time trigger of the streaming job, e.g. ``"10 seconds"``.
    watermark_seconds
        How late an event may arrive (event time behind the newest event seen) and still count.
    window_seconds
        Length of the KPI tables' tumbling event-time windows (a multiple of 60).
    kpi_watermark_seconds
        How long the KPI aggregation waits for a minute's slices after the newest one seen
        (0: a minute's slices all arrive together; see vsa.kpis.minute).
    view_timeout_seconds
        Inactivity after which a view closes (``timeout``).
    max_event_gap_seconds
        The most time counted after one event before the next (docs/views.md, "gap cap").
    privacy
        When on (the default), client IPs are written only truncated (/24, /48).
    geoip_city_db
        Path of a GeoIP2/GeoLite2 City ``.mmdb`` file for ``vsa_geoip`` (Spark conf
        ``spark.vsa.geoip.cityDb``); a local path on every node, or the name of a file shipped
        with ``spark.files``.
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
    cloudfront_realtime_fields
        The field list of the CloudFront real-time log configuration, in its order; default:
        ``vsa.normalize.cdn_logs.CLOUDFRONT_REALTIME_FIELDS``.
    fastly_field_map
        Your Fastly JSON keys for the preset's names (``vsa.normalize.cdn_logs.FASTLY_PRESET``).
    """

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    player_events_topic: str = "player-events"
    output_root: str = "vsa-output"
    checkpoint_root: str | None = None
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    trigger_interval: str = "10 seconds"
    watermark_seconds: int = 120
    window_seconds: int = 60
    kpi_watermark_seconds: int = 0
    view_timeout_seconds: int = 600
    max_event_gap_seconds: int = 30
    privacy: bool = True
    geoip_city_db: str | None = None
    geoip_asn_db: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    cdn_logs_topic: str | None = "cdn-logs"
    cdn_log_format: str = "cloudfront"
    cdn_topic_formats: dict[str, str] = field(default_factory=dict)
    cdn_name: str | None = None
    cdn_pop: str | None = None
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
        if not self.kafka_bootstrap_servers.strip():
            raise ValueError("kafka_bootstrap_servers must not be empty")
        for fmt in (self.cdn_log_format, *self.cdn_topic_formats.values()):
            if fmt not in CDN_LOG_FORMATS:
                raise ValueError(
                    f"unknown CDN log format {fmt!r}; formats are {', '.join(CDN_LOG_FORMATS)}"
                )
        if self.player_events_topic in self.cdn_formats:
            raise ValueError(f"topic {self.player_events_topic!r} is both player events and CDN")
        if self.cloudfront_realtime_fields is not None and (
            len(set(self.cloudfront_realtime_fields)) != len(self.cloudfront_realtime_fields)
            or not {"timestamp", "sc-status"} <= set(self.cloudfront_realtime_fields)
        ):
            raise ValueError(
                "cloudfront_realtime_fields must list distinct fields including timestamp and "
                "sc-status"
            )

    @property
    def cdn_formats(self) -> dict[str, str]:
        """Every CDN topic the streaming job reads, with its format."""
        topics = {self.cdn_logs_topic: self.cdn_log_format} if self.cdn_logs_topic else {}
        return {**topics, **self.cdn_topic_formats}

    @property
    def jvm_conf(self) -> dict[str, str]:
        """The ``spark.vsa.*`` settings the jar reads, from this config's fields."""
        paths = {GEOIP_CITY_DB_KEY: self.geoip_city_db, GEOIP_ASN_DB_KEY: self.geoip_asn_db}
        return {key: value for key, value in paths.items() if value}

    def table_path(self, table: str) -> str:
        """Where ``table`` is written."""
        return str(Path(self.output_root) / table)

    def checkpoint_path(self, query: str) -> str:
        """The checkpoint directory of the streaming query ``query``."""
        root = self.checkpoint_root or str(Path(self.output_root) / "_checkpoints")
        return str(Path(root) / query)
