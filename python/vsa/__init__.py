"""vsa: video streaming analytics on Apache Spark."""

from vsa.config import ConfigError, VsaConfig, load_config
from vsa.spark_session import configure_spark

__all__ = ["ConfigError", "VsaConfig", "configure_spark", "load_config"]
__version__ = "0.1.0"
