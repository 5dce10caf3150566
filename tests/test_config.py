"""The configuration: TOML file, environment and flags, in that precedence, and errors that
name the key."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT
from vsa.cli import main
from vsa.config import (
    ConfigError,
    VsaConfig,
    config_keys,
    config_reference,
    env_name,
    is_secret,
    load_config,
)

EXAMPLE = PROJECT_ROOT / "examples" / "vsa.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vsa.toml"
    path.write_text(text)
    return path


def test_example_file_loads_with_its_security_options():
    config = load_config(EXAMPLE, env={})
    assert config.kafka_bootstrap_servers.startswith("kafka-1.example.internal:9094")
    assert config.max_offsets_per_trigger == 200000
    assert config.kafka_options["security.protocol"] == "SASL_SSL"
    assert config.kafka_options["sasl.mechanism"] == "SCRAM-SHA-512"
    # TOML numbers in a settings table become Spark's text values.
    assert config.spark_conf["spark.sql.shuffle.partitions"] == "8"
    assert config.checkpoint_path("views") == "/data/vsa/checkpoints/views"


def test_no_file_no_env_is_the_defaults():
    assert load_config(env={}) == VsaConfig()


def test_precedence_file_then_env_then_flags(tmp_path):
    path = write(
        tmp_path,
        'kafka_bootstrap_servers = "file:9092"\nplayer_events_topic = "from-file"\n'
        "watermark_seconds = 60\n",
    )
    env = {"VSA_KAFKA_BOOTSTRAP_SERVERS": "env:9092", "VSA_WATERMARK_SECONDS": "90"}
    config = load_config(path, env=env, overrides={"watermark_seconds": "30"})
    assert config.kafka_bootstrap_servers == "env:9092"
    assert config.player_events_topic == "from-file"
    assert config.watermark_seconds == 30


def test_settings_tables_merge_across_layers(tmp_path):
    path = write(
        tmp_path,
        '[spark_conf]\n"spark.a" = "1"\n"spark.b" = "2"\n'
        '[kafka_options]\n"security.protocol" = "SASL_SSL"\n',
    )
    env = {"VSA_KAFKA_OPTION_SASL_JAAS_CONFIG": "org.apache...ScramLoginModule required;"}
    config = load_config(path, env=env, overrides={"spark_conf": {"spark.b": "3"}})
    assert config.spark_conf == {"spark.a": "1", "spark.b": "3"}
    assert config.kafka_options == {
        "security.protocol": "SASL_SSL",
        "sasl.jaas.config": "org.apache...ScramLoginModule required;",
    }
    assert "ScramLoginModule" not in repr(config)


SECRET_SETTINGS = [
    ("viewer_secret", None),
    ("kafka_options", "sasl.jaas.config"),
    ("kafka_options", "ssl.truststore.password"),
    ("kafka_options", "ssl.keystore.key"),
    ("kafka_options", "ssl.key.password"),
    ("kafka_options", "sasl.oauthbearer.assertion.private.key.passphrase"),
    ("kafka_options", "sasl.oauthbearer.client.credentials.client.secret"),
    ("spark_conf", "spark.hadoop.fs.s3a.access.key"),
    ("spark_conf", "spark.hadoop.fs.s3a.secret.key"),
    ("spark_conf", "spark.hadoop.fs.s3a.session.token"),
    ("spark_conf", "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net"),
    ("spark_conf", "spark.ssl.keyPassword"),
    ("spark_conf", "spark.hadoop.fs.gs.auth.service.account.private.key"),
    ("spark_conf", "spark.authenticate.secret"),
]
PLAIN_SETTINGS = [
    ("output_root", None),
    ("kafka_options", "security.protocol"),
    ("kafka_options", "ssl.keystore.location"),
    ("kafka_options", "ssl.keystore.type"),
    ("spark_conf", "spark.sql.shuffle.partitions"),
    ("spark_conf", "spark.hadoop.fs.s3a.endpoint"),
    ("spark_conf", "spark.sql.ansi.enforceReservedKeywords"),
    ("cdn_topic_formats", "api-keys"),  # a topic name, not a setting
]


def test_one_rule_says_which_settings_are_secrets():
    assert [s for s in SECRET_SETTINGS if not is_secret(*s)] == []
    assert [s for s in PLAIN_SETTINGS if is_secret(*s)] == []
    assert is_secret("kafka_options", "SSL.TRUSTSTORE.PASSWORD")


def test_vsa_config_and_repr_show_no_secret(tmp_path, capsys):
    secrets = {f"{key}.{name}": f"s3cr3t-{i}" for i, (key, name) in enumerate(SECRET_SETTINGS)}
    text = [f'viewer_secret = "{secrets["viewer_secret.None"]}"']
    for table in ("kafka_options", "spark_conf"):
        text.append(f"[{table}]")
        text += [
            f'"{name}" = "{secrets[f"{key}.{name}"]}"'
            for key, name in SECRET_SETTINGS
            if key == table
        ]
    text += ['"spark.sql.shuffle.partitions" = 4', '"spark.hadoop.fs.s3a.endpoint" = "s3.example"']
    path = write(tmp_path, "\n".join(text) + "\n")
    assert main(["config", "--config", str(path)]) == 0
    shown = capsys.readouterr().out
    config = load_config(path, env={})
    for output in (shown, repr(config)):
        assert [value for value in secrets.values() if value in output] == []
        assert "s3.example" in output  # what is no secret is shown
    assert 'viewer_secret = "***"' in shown
    assert '"spark.hadoop.fs.s3a.secret.key" = "***"' in shown
    assert '"ssl.keystore.key" = "***"' in shown
    assert '"spark.sql.shuffle.partitions" = "4"' in shown
    assert (
        config.spark_conf["spark.hadoop.fs.s3a.secret.key"]
        == secrets["spark_conf.spark.hadoop.fs.s3a.secret.key"]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("viewer_secret = 73519", "viewer_secret: expected text, got int (a secret: not shown)"),
        (
            '[kafka_options]\n"ssl.key.password" = ["73519"]',
            "kafka_options.ssl.key.password: expected text, a number or true/false, got list (a",
        ),
        (
            '[spark_conf]\n"spark.hadoop.fs.s3a.secret.key" = {v = "73519"}',
            "spark_conf.spark.hadoop.fs.s3a.secret.key: expected text, a number or true/false",
        ),
    ],
)
def test_a_bad_secret_is_an_error_naming_the_setting_not_its_value(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), env={})
    assert message in str(error.value)
    assert "73519" not in str(error.value)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('kafka_bootstrap_server = "x:1"', {}, "vsa.toml: kafka_bootstrap_server: unknown key"),
        ('watermark_seconds = "120"', {}, "vsa.toml: watermark_seconds: expected an integer"),
        ("privacy = 1", {}, "vsa.toml: privacy: expected true or false"),
        ("window_seconds = true", {}, "window_seconds: expected an integer"),
        ("window_seconds = 90", {}, "vsa.toml: window_seconds: window_seconds must be a positive"),
        ('starting_offsets = "newest"', {}, "starting_offsets: starting_offsets must be"),
        ('spark_conf = "x"', {}, "spark_conf: expected a table"),
        ('[kafka_options]\n"kafka.security.protocol" = "SSL"', {}, "without the 'kafka.' prefix"),
        ('[kafka_options]\n"bootstrap.servers" = "a:1"', {}, "set kafka_bootstrap_servers"),
        ("", {"VSA_VIEW_TIMEOUT_SECONDS": "ten"}, "VSA_VIEW_TIMEOUT_SECONDS: expected an integer"),
        ("", {"VSA_PRIVACY": "maybe"}, "VSA_PRIVACY: expected true or false"),
        ("", {"VSA_SPARK_CONF": "a=b"}, "VSA_SPARK_CONF: spark_conf is a table"),
        ("watermark_seconds = ", {}, "is not valid TOML"),
    ],
)
def test_bad_settings_are_errors_naming_the_key(tmp_path, text, env, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(write(tmp_path, text), env=env)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file .*nope.toml"):
        load_config(tmp_path / "nope.toml", env={})


def test_unknown_vsa_variable_is_logged_not_fatal(caplog):
    config = load_config(env={"VSA_KAFKA_BOOTSTRAP_SERVER": "typo:1", "VSA_SPARK_JAR": "x"})
    assert config == VsaConfig()
    assert "VSA_KAFKA_BOOTSTRAP_SERVER" in caplog.text
    assert "VSA_SPARK_JAR" not in caplog.text


def test_optional_keys_accept_empty_env_as_unset():
    config = load_config(env={"VSA_CHECKPOINT_ROOT": "", "VSA_MAX_OFFSETS_PER_TRIGGER": "500"})
    assert config.checkpoint_root is None
    assert config.max_offsets_per_trigger == 500


# A value VsaConfig accepts for each tuple-typed key.
LIST_VALUES = {
    "cloudfront_fields": ("date", "time", "sc-status"),
    "cloudfront_realtime_fields": ("timestamp", "c-ip", "sc-status"),
    "collect_cors_origins": ("https://player.example.com", "http://localhost:8080"),
    "collect_trusted_proxies": ("10.0.0.0/8", "192.0.2.1"),
    "collect_fastly_service_ids": ("SU1Z0isxPaozGVKXdv0eY",),
}


def test_every_list_key_has_a_test_value():
    hints = config_keys().items()
    lists = {k for k, h in hints if tuple in map(typing.get_origin, (h, *typing.get_args(h)))}
    assert lists == set(LIST_VALUES)


def vsa_config(tmp_path: Path, monkeypatch, key: str, route: str, text: str) -> list[str]:
    """`vsa config` arguments that set ``key`` to ``text`` (TOML for the file) by ``route``."""
    if route == "file":
        return ["config", "--config", str(write(tmp_path, f"{key} = {text}\n"))]
    if route == "env":
        monkeypatch.setenv(env_name(key), text)
        return ["config"]
    return ["config", "--set", f"{key}={text}"]


@pytest.mark.parametrize("route", ["file", "env", "flag"])
@pytest.mark.parametrize("key", LIST_VALUES)
def test_list_keys_set_from_file_env_and_flags(tmp_path, monkeypatch, capsys, key, route):
    value = LIST_VALUES[key]
    text = json.dumps(list(value)) if route == "file" else " , ".join(value)
    assert main(vsa_config(tmp_path, monkeypatch, key, route, text)) == 0
    shown = capsys.readouterr().out
    assert f"{key} = {json.dumps(list(value))}" in shown
    # What `vsa config` prints is a config file that gives the same value back.
    assert getattr(load_config(write(tmp_path, shown), env={}), key) == value


@pytest.mark.parametrize(
    ("route", "text", "error"),
    [
        ("file", '"timestamp,sc-status"', "{file}: {key}: expected a list of text"),
        ("file", '["timestamp", 7]', "{file}: {key}: expected a list of text"),
        ("env", "timestamp,,sc-status", "{env}: expected a comma-separated list"),
        ("flag", "timestamp,sc-status,", "command line: {key}: expected a comma-separated list"),
    ],
)
@pytest.mark.parametrize("key", LIST_VALUES)
def test_bad_list_values_are_errors_naming_the_key_and_form(
    tmp_path, monkeypatch, capsys, key, route, text, error
):
    assert main(vsa_config(tmp_path, monkeypatch, key, route, text)) == 2
    line = error.format(key=key, env=env_name(key), file=tmp_path / "vsa.toml")
    assert capsys.readouterr().err.startswith(f"vsa: error: {line}")


def test_list_keys_unset_by_empty_text_and_checked_by_vsaconfig():
    key = "cloudfront_realtime_fields"
    assert load_config(env={env_name(key): ""}).cloudfront_realtime_fields is None
    with pytest.raises(ConfigError, match=f"command line: {key}: {key} must list distinct"):
        load_config(env={}, overrides={key: "timestamp,c-ip"})


@pytest.mark.parametrize(
    ("root", "table"),
    [
        ("s3a://bucket/out", "s3a://bucket/out/views"),
        ("s3a://bucket/out/", "s3a://bucket/out/views"),
        ("s3a://bucket", "s3a://bucket/views"),
        ("hdfs://nn:8020/out", "hdfs://nn:8020/out/views"),
        ("hdfs://nn:8020/out/", "hdfs://nn:8020/out/views"),
        (
            "abfss://c@acct.dfs.core.windows.net/out",
            "abfss://c@acct.dfs.core.windows.net/out/views",
        ),
        (
            "abfss://c@acct.dfs.core.windows.net/out/",
            "abfss://c@acct.dfs.core.windows.net/out/views",
        ),
        ("file:///tmp/out", "file:///tmp/out/views"),
        ("file:///tmp/out/", "file:///tmp/out/views"),
        ("file:///", "file:///views"),
        ("out", "out/views"),
        ("out/", "out/views"),
        ("/data/out", "/data/out/views"),
        ("/data/out/", "/data/out/views"),
    ],
)
def test_table_and_checkpoint_paths_keep_uris_and_local_paths(root, table):
    config = VsaConfig(output_root=root)
    assert config.table_path("views") == table
    assert config.checkpoint_path("views") == table.replace("/views", "/_checkpoints/views")
    # With a checkpoint_root, the checkpoints go under it, the tables stay under output_root.
    config = VsaConfig(output_root="tables", checkpoint_root=root)
    assert config.checkpoint_path("views") == table
    assert config.table_path("views") == "tables/views"


def test_every_key_is_documented_in_the_reference():
    """docs/configuration.md holds the reference generated from VsaConfig, verbatim."""
    reference = config_reference()
    for key in config_keys():
        assert f"| `{key}` |" in reference
    docs = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    assert reference in docs, "regenerate it: .venv/bin/vsa config --reference"


def test_the_docs_show_the_example_file_as_it_is():
    example = EXAMPLE.read_text()
    docs = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    assert example[example.index("kafka_bootstrap_servers") :] in docs
