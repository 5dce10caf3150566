"""Issue 4's benchmark: normalize + enrich + sessionize against the I/O floor, in one run.

    .venv/bin/python bench/views.py --sessions 20000

The `io`, `floor` and `views` cases of bench/pipeline.py (Kafka → Parquet with nothing else;
Kafka → parse → Parquet, the issue's I/O floor; Kafka → normalize → enrich → sessionizer →
Parquet), each in its own warmed-up Spark process on local[2], over the same simulated topic;
it prints records/s of each, the ratios and the sessionizer's state per 1,000 open sessions
(Spark's state-store memory over its rows).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import main  # noqa: E402

if __name__ == "__main__":
    main(cases=(("io", "local[2]"), ("floor", "local[2]"), ("views", "local[2]")), doc=__doc__)
