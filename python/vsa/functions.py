"""vsa's column functions: each calls a function of the vsa-spark jar by its SQL name.

They work with the classic DataFrame API and with Spark Connect alike, since the JVM side is
reached only through ``call_function``.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Column | str


def parse_user_agent(ua: ColumnOrName) -> Column:
    """Parses a user agent into browser, OS and device (SQL: ``vsa_parse_ua``).

    Parameters
    ----------
    ua
        A string column holding the User-Agent header.

    Returns
    -------
    Column
        A struct of ``browser_family``, ``browser_major``, ``browser_minor``, ``browser_patch``,
        ``os_family``, ``os_major``, ``os_minor``, ``os_patch``, ``os_patch_minor``,
        ``device_family``, ``device_brand``, ``device_model`` and ``device_type`` (desktop,
        mobile, tablet, tv, console, bot or other). Unknown agents give families ``"Other"``;
        a null agent gives a struct of nulls.

    Examples
    --------
    >>> df = spark.createDataFrame([("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) "
    ...     "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",)],
    ...     ["ua"])
    >>> df.select(parse_user_agent("ua").alias("p")).select("p.os_family", "p.device_type").show()
    +---------+-----------+
    |os_family|device_type|
    +---------+-----------+
    |      iOS|     tablet|
    +---------+-----------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_ua", _col(ua))


def mask_ip(ip: ColumnOrName) -> Column:
    """Truncates an IP address to its network: /24 for IPv4, /48 for IPv6 (SQL: ``vsa_mask_ip``).

    Anything that is not an IP literal gives null; host names are never resolved.

    Examples
    --------
    >>> spark.createDataFrame([("203.0.113.77",), ("2001:db8:1:2::9",)], ["ip"]).select(
    ...     mask_ip("ip").alias("net")).show()
    +------------+
    |         net|
    +------------+
    | 203.0.113.0|
    |2001:db8:1::|
    +------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_mask_ip", _col(ip))


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c
