"""vsa_parse_ua against uap-core's own test corpus, and device_type against `user-agents`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import user_agents
import yaml

from vsa import functions as vf

MIN_SHARE = 0.99
# Measured 2026-11-25 over the 14,572 agents of the three files: see docs/enrichment.md.
MIN_DEVICE_TYPE_AGREEMENT = 0.999

# Fields compared per file, as uap-core's test runners compare them; a missing key means null.
CORPORA = {
    "test_ua.yaml": {
        "family": "browser_family",
        "major": "browser_major",
        "minor": "browser_minor",
        "patch": "browser_patch",
    },
    "test_os.yaml": {
        "family": "os_family",
        "major": "os_major",
        "minor": "os_minor",
        "patch": "os_patch",
        "patch_minor": "os_patch_minor",
    },
    "test_device.yaml": {
        "family": "device_family",
        "brand": "device_brand",
        "model": "device_model",
    },
}


def load_cases(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["test_cases"]


def parse_all(spark, agents: list[str]) -> list[dict]:
    """vsa_parse_ua over the agents in one DataFrame, in input order."""
    # repartition: the parse runs in generated code, as in a real job, not folded on the driver
    df = spark.createDataFrame([(i, ua) for i, ua in enumerate(agents)], "i int, ua string")
    df = df.repartition(2)
    rows = df.select("i", vf.parse_user_agent("ua").alias("p")).orderBy("i").collect()
    return [row["p"].asDict() for row in rows]


def expected_value(case: dict, key: str) -> str | None:
    value = case.get(key)
    return None if value is None else str(value)


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_uap_corpus_exact_match_share(spark, third_party, corpus):
    fields = CORPORA[corpus]
    cases = load_cases(third_party / "uap" / corpus)
    parsed = parse_all(spark, [c["user_agent_string"] for c in cases])
    misses = [
        (
            case["user_agent_string"],
            {k: (expected_value(case, k), got[col]) for k, col in fields.items()},
        )
        for case, got in zip(cases, parsed, strict=True)
        if any(expected_value(case, k) != got[col] for k, col in fields.items())
    ]
    share = 1 - len(misses) / len(cases)
    print(f"\n{corpus}: {len(cases) - len(misses)}/{len(cases)} exact = {share:.4%}")
    for ua, diff in misses[:10]:
        print("  miss:", ua[:120], diff)
    assert share >= MIN_SHARE


def python_device_type(ua: str) -> str:
    """The class the `user-agents` package gives, in the order vsa's DeviceType checks them."""
    parsed = user_agents.parse(ua)
    if parsed.is_bot:
        return "bot"
    if parsed.is_tablet:
        return "tablet"
    if parsed.is_mobile:
        return "mobile"
    if parsed.is_pc:
        return "desktop"
    return "other"


def test_device_type_agrees_with_user_agents(spark, third_party):
    """tv and console are classes `user-agents` has no word for: those rows are left out of the
    agreement (and counted); every other row must get the class `user-agents` gives."""
    agents = sorted(
        {
            c["user_agent_string"]
            for corpus in CORPORA
            for c in load_cases(third_party / "uap" / corpus)
        }
    )
    ours = [p["device_type"] for p in parse_all(spark, agents)]
    theirs = [python_device_type(ua) for ua in agents]
    refined = Counter((o, t) for o, t in zip(ours, theirs, strict=True) if o in ("tv", "console"))
    compared = [
        (o, t, ua)
        for o, t, ua in zip(ours, theirs, agents, strict=True)
        if o not in ("tv", "console")
    ]
    disagreements = [(o, t, ua) for o, t, ua in compared if o != t]
    rate = 1 - len(disagreements) / len(compared)
    print(
        f"\ndevice_type: {len(compared) - len(disagreements)}/{len(compared)} agree = {rate:.4%}"
        f"; left out, refined to tv/console (ours, user-agents): {dict(refined)}"
    )
    for pair, n in Counter((o, t) for o, t, _ in disagreements).most_common(10):
        print("  ours/user-agents:", pair, n)
    assert rate >= MIN_DEVICE_TYPE_AGREEMENT
