"""Exports the uap-core rules of the PyPI package ua-parser-builtins as the jar's rules file.

The Python oracle (`user-agents` → `ua-parser`) and the jar then parse with the very same rules.
Run after changing the ua-parser-builtins pin:
    .venv/bin/python tools/export_uap_rules.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from ua_parser_builtins.matchers import MATCHERS

TARGET = Path(__file__).resolve().parents[1] / "scala/src/main/resources/vsa/uap-rules.json"


def main() -> None:
    agents, systems, devices = MATCHERS
    rules = {
        "source": f"ua-parser-builtins {version('ua-parser-builtins')} (uap-core, Apache-2.0)",
        "user_agent": [
            {
                "regex": m.regex,
                "family": m.family,
                "major": m.major,
                "minor": m.minor,
                "patch": m.patch,
                "patch_minor": m.patch_minor,
            }
            for m in agents
        ],
        "os": [
            {
                "regex": m.regex,
                "family": m.family,
                "major": m.major,
                "minor": m.minor,
                "patch": m.patch,
                "patch_minor": m.patch_minor,
            }
            for m in systems
        ],
        "device": [
            {
                "regex": m.regex,
                "ignore_case": bool(m.regex_flag),
                "family": m.family,
                "brand": m.brand,
                "model": m.model,
            }
            for m in devices
        ],
    }
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(rules, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(agents)} agent, {len(systems)} os, {len(devices)} device rules)")


if __name__ == "__main__":
    main()
