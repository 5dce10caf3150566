"""Stage 3: enrichment columns from the jar's functions (user agent, GeoIP, privacy)."""

from vsa.enrich.geo import GEO_COLUMNS, with_geo
from vsa.enrich.privacy import apply_ip_privacy, apply_ip_privacy_to_text
from vsa.enrich.user_agent import USER_AGENT_COLUMNS, with_user_agent

__all__ = [
    "GEO_COLUMNS",
    "USER_AGENT_COLUMNS",
    "apply_ip_privacy",
    "apply_ip_privacy_to_text",
    "with_geo",
    "with_user_agent",
]
