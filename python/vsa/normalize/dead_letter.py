"""The ``dead_letter`` row (tables.md), built in one place for every source and reason."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa import jvm
from vsa.config import VsaConfig
from vsa.enrich import apply_ip_privacy_to_text
from vsa.functions import viewer_keys_in_json

# The most of a rejected record a dead letter keeps (characters): a hostile 5 MB record must
# not become a 5 MB row. The detail says when the record was cut.
RAW_LIMIT_CHARS = 65_536


def dead_letter(
    source: str, reason: Column, detail: Column, raw: Column, config: VsaConfig
) -> Column:
    """A ``dead_letter`` row as a struct: ``source`` (player_events, cdn_logs), ``reason``,
    ``detail``, ``raw`` (the record as received, at most :data:`RAW_LIMIT_CHARS` of it), the
    Kafka coordinates of the row it is built on (``kafka_topic``, ``kafka_partition``,
    ``kafka_offset``) and ``received_at``.

    With privacy on, the IP addresses in ``detail`` and ``raw`` are masked (before the cut, so
    no address is cut in two and left whole). With ``viewer_secret`` set, a player record's
    ``viewer_id`` values are keyed in ``raw`` as in every table (the session must hold the
    secret: :func:`vsa.spark_session.use_viewer_secret`). Invalid UTF-8 becomes U+FFFD, so every
    Parquet reader can read the table; the Kafka coordinates lead to the original bytes.
    """
    if config.viewer_secret and source == "player_events":
        raw = viewer_keys_in_json(raw)
    text = F.make_valid_utf8(apply_ip_privacy_to_text(raw, config))
    length = F.length(raw)  # as received
    cut_note = F.when(
        F.length(text) > RAW_LIMIT_CHARS,
        F.concat(
            F.lit(f"; raw cut to its first {RAW_LIMIT_CHARS} of "),
            length.cast("string"),
            F.lit(" characters"),
        ),
    )
    clean_detail = F.make_valid_utf8(apply_ip_privacy_to_text(detail, config))
    return F.struct(
        F.lit(source).alias("source"),
        reason.alias("reason"),
        F.when(cut_note.isNull(), clean_detail)
        .otherwise(F.concat_ws("", clean_detail, cut_note))
        .alias("detail"),
        F.left(text, F.lit(RAW_LIMIT_CHARS)).alias("raw"),
        F.col("kafka_topic"),
        F.col("kafka_partition"),
        F.col("kafka_offset"),
        jvm.batch_now().alias("received_at"),
    )
