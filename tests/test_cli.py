"""The ``vsa`` command: help everywhere, ``--config`` on every job command, errors before Spark."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT
from vsa import generate
from vsa.cli import _overrides, main, parser
from vsa.simulate.__main__ import parser as simulate_parser

COMMANDS = ("demo", "run", "batch", "rollup", "report", "generate", "kafka", "config", "check")


def vsa(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsa", *args], capture_output=True, text=True, timeout=60, **kwargs
    )


def test_python_m_vsa_lists_every_command():
    done = vsa("--help")
    assert done.returncode == 0
    for command in (*COMMANDS, "simulate"):
        assert command in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_config(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    assert "--config FILE" in capsys.readouterr().out


def test_simulate_has_help_and_config():
    done = vsa("simulate", "--help")
    assert done.returncode == 0
    assert "--config FILE" in done.stdout


def test_bad_config_stops_before_spark(tmp_path):
    path = tmp_path / "vsa.toml"
    path.write_text("watermark_secs = 10\n")
    done = vsa("run", "--config", str(path))
    assert done.returncode == 2
    assert "watermark_secs: unknown key" in done.stderr
    assert "Spark" not in done.stderr + done.stdout


def test_flags_env_and_file_in_precedence(tmp_path):
    path = tmp_path / "vsa.toml"
    path.write_text('output_root = "file"\nplayer_events_topic = "file-topic"\nprivacy = true\n')
    env = {"PATH": "", "VSA_PRIVACY": "false", "VSA_PLAYER_EVENTS_TOPIC": "env-topic"}
    done = vsa("config", "--config", str(path), "--set", "player_events_topic=flag", env=env)
    assert done.returncode == 0, done.stderr
    assert 'output_root = "file"' in done.stdout
    assert "privacy = false" in done.stdout
    assert 'player_events_topic = "flag"' in done.stdout


def test_bad_flag_value_names_the_key():
    done = vsa("config", "--set", "window_seconds=ninety")
    assert done.returncode == 2
    assert "window_seconds: expected an integer, got 'ninety'" in done.stderr


def test_job_flags_map_to_config_keys():
    args = parser().parse_args(["run", "--bootstrap", "b:1", "--topic", "t", "--out", "o"])
    assert _overrides(args) == {
        "kafka_bootstrap_servers": "b:1",
        "player_events_topic": "t",
        "output_root": "o",
    }


def test_generate_flags_map_to_traffic():
    args = parser().parse_args(
        ["generate", "--bootstrap", "b:1", "--topic", "t", "--sessions", "5", "--viewers", "3"]
        + ["--videos", "2", "--span", "30", "--malformed-share", "0.1", "--rate", "50"]
        + ["--seed", "4"]
    )
    assert generate.traffic_from(args) == generate.Traffic(
        sessions=5, viewers=3, videos=2, span_s=30.0, malformed_share=0.1, seed=4
    )
    assert (args.bootstrap, args.topic, args.rate) == ("b:1", "t", 50.0)


def test_simulate_sends_at_a_rate_too():
    args = simulate_parser().parse_args(["--kafka", "b:1", "--rate", "200"])
    assert (args.kafka, args.rate) == ("b:1", 200.0)


def test_readme_commands_parse():
    """Every `vsa` command line of the README is one the parser accepts."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    lines = [line.split("#")[0].split() for line in readme.splitlines()]
    commands = [words[1:] for words in lines if words and words[0] == ".venv/bin/vsa"]
    assert len(commands) >= 8
    for words in commands:
        if words[0] != "simulate":
            parser().parse_args(words)
