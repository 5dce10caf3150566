"""Edgio (Edgecast) RTLD: one JSON object per line, or a batch ``{"logs": [...], ...}`` that
holds one request per element."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructField, StructType

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    JSON_MAP,
    CdnFormat,
    Fields,
    Parsed,
    cache,
    epoch_seconds,
    json_fields,
    json_object,
    normalized,
    seconds_to_ms,
    validate,
)

_BATCH = StructType([StructField("logs", ArrayType(JSON_MAP))])
_CACHE_HITS = ("TCP_HIT", "TCP_MEM_HIT", "TCP_EXPIRED_HIT", "TCP_PARTIAL_HIT", "TCP_REFRESH_HIT")
_CACHE_MISSES = ("TCP_MISS", "TCP_EXPIRED_MISS", "TCP_CLIENT_REFRESH_MISS", "TCP_REFRESH_MISS")


def unbatch(lines: DataFrame) -> DataFrame:
    """RTLD's batched form (``{"logs": [...], ...}``) → one line per request, as JSON."""
    batch = F.from_json("line", _BATCH).getField("logs")
    many = F.col("line").contains('"logs"') & batch.isNotNull()
    items = F.when(many, F.transform(batch, lambda m: F.to_json(m))).otherwise(
        F.array(F.col("line"))
    )
    return lines.withColumn("line", F.explode(items))


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    get, malformed = json_fields(fields)
    text = {
        "timestamp": get("timestamp"),
        "status": get("status_code"),
        "bytes": get("bytes_out"),
        "download_ms": get("write_time"),
    }
    request = normalized(
        timestamp=epoch_seconds(text["timestamp"]),
        client_ip=get("client_ip"),
        user_agent=get("user_agent"),
        host=get("host"),
        path=get("path"),
        query=F.regexp_replace(get("query"), r"^\?", ""),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        download_ms=seconds_to_ms(text["download_ms"]),
        cache_status=cache(get("cache_status"), _CACHE_HITS, _CACHE_MISSES),
        pop=get("pop"),
        cmcd_text=get("cmcd"),
    )
    return validate(request, malformed, text)


FORMAT = CdnFormat(cdn="edgecast", prepare=json_object, parse=parse, unbatch=unbatch)
