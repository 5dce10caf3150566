"""Stage 3: enrichment columns from the jar's functions (user agent; GeoIP follows)."""

from vsa.enrich.privacy import mask_client_ip, mask_ips_in_text
from vsa.enrich.user_agent import USER_AGENT_COLUMNS, with_user_agent

__all__ = ["USER_AGENT_COLUMNS", "mask_client_ip", "mask_ips_in_text", "with_user_agent"]
