"""``vsa collect``: an HTTP service that writes what players and CDNs send to Kafka
(docs/collect.md). It needs the ``collect`` extra: ``pip install 'vsa[collect]'``."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path

from vsa.config import VsaConfig

log = logging.getLogger("vsa.collect")

# The modules of the `collect` extra.
EXTRA_MODULES = ("uvicorn", "confluent_kafka")
INSTALL_HINT = "vsa collect needs the collect extra: pip install 'vsa[collect]'"


class NotInstalled(RuntimeError):
    """The ``collect`` extra is not installed."""


def missing_modules() -> list[str]:
    """The modules of the ``collect`` extra that are not installed."""
    return [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]


def server_config(app: object, config: VsaConfig):  # -> uvicorn.Config
    """uvicorn's settings for the collector's ``app`` (bench/collect.py serves its bare
    endpoint with the very same)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=config.collect_host,
        port=config.collect_port,
        lifespan="on",
        # Addresses stay out of the logs; X-Forwarded-For is the app's to read, from trusted
        # proxies only.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        log_config=None,
    )


def serve(config: VsaConfig) -> int:
    """Runs the collector on ``config.collect_host``:``config.collect_port`` until stopped
    (SIGINT, SIGTERM: it finishes the requests in flight, then waits for their records'
    acknowledgements); 1 when it stopped because the Kafka producer failed."""
    missing = missing_modules()
    if missing:
        raise NotInstalled(f"{INSTALL_HINT} ({', '.join(missing)} missing)")
    import uvicorn

    from vsa.collect.app import Collector
    from vsa.collect.producer import librdkafka_settings

    with tempfile.TemporaryDirectory(prefix="vsa-collect-") as workdir:
        app = Collector(config, librdkafka_settings(config, Path(workdir)))
        server = uvicorn.Server(server_config(app, config))
        failed = False

        def stop_on_fatal() -> None:
            nonlocal failed
            failed = True
            server.should_exit = True

        app.on_fatal = stop_on_fatal
        topics = sorted({e.topic for e in app.endpoints.values()})
        log.info(
            "vsa collect on http://%s:%d → Kafka %s (topics %s)",
            config.collect_host,
            config.collect_port,
            config.kafka_bootstrap_servers,
            ", ".join(topics),
        )
        server.run()
        return 1 if failed or not server.started else 0
