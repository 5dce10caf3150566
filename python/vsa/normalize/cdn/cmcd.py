"""CMCD of the normalized requests: the typed ``cmcd_*`` columns and the object type.

CMCD (from the ``CMCD`` query argument or the CMCD request headers) is parsed in the jar by
``vsa_parse_cmcd``; CloudFront real-time logs also carry CMCD keys as fields of their own, which
the jar's parser types as ``vsa_parse_cmcd`` types the same keys (``cmcd_fields``, null in the
other formats).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa.functions import parse_cmcd

# CMCD keys with a typed column (the fields of `vsa_parse_cmcd`'s struct but `other`, `error`).
CMCD_KEYS = [
    "br",
    "bl",
    "bs",
    "bsd",
    "cdn",
    "cid",
    "d",
    "dl",
    "e",
    "msd",
    "mtp",
    "nor",
    "nrr",
    "ot",
    "pr",
    "rtp",
    "sf",
    "sid",
    "st",
    "sta",
    "su",
    "tb",
    "ts",
    "ttfb",
    "ttlb",
    "v",
]
CMCD_OBJECT_TYPES = {
    "m": "manifest",
    "a": "audio",
    "v": "video",
    "av": "muxed",
    "i": "init",
    "c": "caption",
    "tt": "timed_text",
    "k": "key",
    "o": "other",
}


def with_cmcd(requests: DataFrame) -> DataFrame:
    """Adds the typed CMCD columns ``cmcd_<key>``, ``cmcd_other`` (map of the other keys) and
    ``cmcd_error`` (why a request's CMCD could not be read), then ``object_type``.

    CMCD comes from the ``CMCD`` query argument when there is one, else from the CMCD header
    values the format carries (``cmcd_text``, a dictionary); CloudFront real-time's
    ``cmcd-*`` fields fill the keys neither had (``cmcd_fields``, when present).
    """
    query = F.col("query")
    # One call per row: the query (as a query string) if it has CMCD (Akamai writes `cmcd=`),
    # else the header values.
    has_cmcd = query.contains("CMCD=") | query.contains("cmcd=")
    text = F.coalesce(F.when(has_cmcd, F.concat(F.lit("?"), query)), "cmcd_text")
    cmcd = parse_cmcd(text)
    out = requests.withColumn("_cmcd", cmcd)
    # The keys of CloudFront real-time's cmcd-* fields, as the jar types them (absent when a
    # caller built its own rows).
    fields = "cmcd_fields" in requests.columns
    field_keys = requests.schema["cmcd_fields"].dataType.names if fields else []
    columns = {}
    for key in CMCD_KEYS:
        value = F.col("_cmcd").getField(key)
        if key in field_keys:
            value = F.coalesce(value, F.col("cmcd_fields").getField(key))
        if fields and key == "v":  # 1 when omitted, as vsa_parse_cmcd has it
            value = F.coalesce(value, F.when(F.col("cmcd_fields").isNotNull(), F.lit(1)))
        columns[f"cmcd_{key}"] = value
    columns["cmcd_other"] = F.col("_cmcd.other")
    columns["cmcd_error"] = F.col("_cmcd.error")
    out = out.withColumns(columns).drop("_cmcd", "cmcd_text", *(["cmcd_fields"] if fields else []))
    return out.withColumn("object_type", object_type(F.col("cmcd_ot"), F.col("path")))


def object_type(cmcd_ot: Column, path: Column) -> Column:
    """The CMCD object type's name when ``ot`` is given, else one guessed from the path:
    manifest, video, audio, muxed, init, caption, timed_text, key or other."""
    named = F.lit(None).cast("string")
    for token, name in CMCD_OBJECT_TYPES.items():
        named = F.when(cmcd_ot == token, F.lit(name)).otherwise(named)
    # String functions rather than regular expressions: this runs for every request.
    p = F.lower(path)
    name = F.substring_index(p, "/", -1)
    ext = F.substring_index(name, ".", -1)
    segment = ext.isin("ts", "m4s", "mp4", "cmfv", "cmfa", "m4v", "webm", "m2ts", "m4f")
    guessed = (
        F.when(ext.isin("m3u8", "mpd", "f4m") | name.startswith("manifest"), F.lit("manifest"))
        .when(name.contains("init") | ext.isin("m4i", "mp4i"), F.lit("init"))
        .when(ext.isin("vtt", "webvtt", "srt", "ttml", "dfxp"), F.lit("caption"))
        .when(ext == "key", F.lit("key"))
        .when(ext.isin("aac", "m4a", "mp3", "ac3", "ec3", "opus", "cmfa"), F.lit("audio"))
        .when(segment & p.contains("audio"), F.lit("audio"))
        .when(segment, F.lit("video"))
        .when(p.isNotNull(), F.lit("other"))
    )
    return F.when(cmcd_ot.isNotNull(), F.coalesce(named, F.lit("other"))).otherwise(guessed)
