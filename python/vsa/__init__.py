"""vsa: video streaming analytics on Apache Spark."""

from vsa.config import VsaConfig
from vsa.session import configure_spark

__all__ = ["VsaConfig", "configure_spark"]
__version__ = "0.1.0"
