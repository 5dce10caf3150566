"""Privacy: no table holds a client's IP address unless the configuration says so.

With ``privacy`` on (the default), the stage masks every string of a row once, after the
lookups that need the full address (GeoIP): ``client_ip`` becomes its network (/24, /48), and
every other string or ``map<string,string>`` column (ids, user agents, free text, unknown
fields, CMCD keys) has each IPv4/IPv6 address in it masked in place. Dead letters mask their
``detail`` and ``raw`` in :func:`vsa.normalize.dead_letter`.

Two kinds of names, one story: :func:`vsa.functions.mask_ip` and
:func:`vsa.functions.mask_ips_in_text` are the catalog's SQL functions (``vsa_mask_ip``,
``vsa_mask_ips_in_text``) as Column functions, and always mask; the helpers here,
:func:`apply_ip_privacy` (every column of a DataFrame) and :func:`apply_ip_privacy_to_text` (one
text Column), apply the configured policy (``privacy``) with them, and change nothing when it is
off.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql.types import MapType, StringType

from vsa import functions as vf
from vsa.config import VsaConfig


def apply_ip_privacy(
    df: DataFrame,
    config: VsaConfig,
    client_ip: str = "client_ip",
    skip: Iterable[str] = (),
) -> DataFrame:
    """``df`` with ``client_ip`` masked as an address (``vsa_mask_ip``: a port, brackets, a
    zone or a list are read, the network alone is kept) and the addresses in every other
    string or string-map column masked (``vsa_mask_ips_in_text``), when privacy is on.
    ``skip``: columns masked later (the dead letter's text)."""
    if not config.privacy:
        return df
    skipped = {client_ip, *skip}
    masked = {
        f.name: vf.mask_ips_in_text(f.name)
        for f in df.schema.fields
        if f.name not in skipped and _holds_text(f.dataType)
    }
    if client_ip in df.columns:
        masked[client_ip] = vf.mask_ip(client_ip)
    return df.withColumns(masked)


def apply_ip_privacy_to_text(text: Column, config: VsaConfig) -> Column:
    """``text`` with every IPv4 and IPv6 address in it truncated (/24, /48), when privacy is on."""
    return vf.mask_ips_in_text(text) if config.privacy else text


def _holds_text(data_type: object) -> bool:
    return isinstance(data_type, StringType) or (
        isinstance(data_type, MapType)
        and isinstance(data_type.keyType, StringType)
        and isinstance(data_type.valueType, StringType)
    )
