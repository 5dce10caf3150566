"""``vsa check``'s lines about the collector's settings (``vsa collect``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from vsa.checks import OK, WARN, Check
from vsa.collect import INSTALL_HINT, missing_modules
from vsa.collect.producer import KafkaSettingsError, librdkafka_settings
from vsa.config import VsaConfig


def collect_checks(config: VsaConfig) -> list[Check]:
    """The collector's endpoints and topics, its Kafka settings, its CDN secrets and browser
    origins. Nothing here concerns the streaming job, so a problem is a warning."""
    missing = missing_modules()
    endpoints = []
    if config.player_events_topic:
        endpoints.append(f"/cmcd, /events → {config.player_events_topic}")
    formats = config.cdn_formats
    endpoints += [f"/cdn/{fmt} → {topic}" for topic, fmt in formats.items()]
    where = f"http://{config.collect_host}:{config.collect_port}"
    if missing:
        checks = [Check("collect", WARN, f"{where}: {INSTALL_HINT}")]
    else:
        checks = [Check("collect", OK, f"{where}: {'; '.join(endpoints)}")]
    try:
        with tempfile.TemporaryDirectory(prefix="vsa-check-") as workdir:
            librdkafka_settings(config, Path(workdir))
        checks.append(Check("collect kafka", OK, "kafka_options map onto librdkafka"))
    except (KafkaSettingsError, ImportError, ValueError, OSError) as error:
        checks.append(Check("collect kafka", WARN, f"vsa collect cannot connect: {error}"))
    # A CDN endpoint without a secret is off, as it is by default: worth a line, not a warning.
    without = sorted(set(formats.values()) - set(config.collect_cdn_secrets))
    unused = sorted(set(config.collect_cdn_secrets) - set(formats.values()))
    found = [f"/cdn/{fmt} takes pushes" for fmt in sorted(set(formats.values()) - set(without))]
    found += [f"/cdn/{fmt} refuses pushes (no secret)" for fmt in without]
    if unused:
        problems = [f"collect_cdn_secrets.{fmt} has no CDN topic" for fmt in unused]
        checks.append(Check("collect secrets", WARN, "; ".join(problems + found)))
    else:
        checks.append(Check("collect secrets", OK, "; ".join(found) or "no CDN topic"))
    origins = config.collect_cors_origins or ()
    if "*" in origins:
        checks.append(
            Check("collect origins", WARN, "any web page may post (collect_cors_origins = *)")
        )
    else:
        shown = ", ".join(origins) or "none: browsers are refused (collect_cors_origins)"
        checks.append(Check("collect origins", OK, shown))
    return checks
