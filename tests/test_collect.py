"""`vsa collect` for real: a `vsa collect --port N` process, HTTP over loopback, the project's
Kafka broker, and every record read back with a Kafka consumer: the values as sent, the
receipt time as the record's timestamp, the collector's stamps as headers, and each refusal
with its status and nothing written."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME

from collect_support import Collector, headers_of, read_topic, request
from vsa.collect.app import Collector as CollectorApp
from vsa.config import VsaConfig, load_config
from vsa.kafka.broker import free_port

PLAYER = "collect-player"
NGINX = "collect-nginx"
AKAMAI = "collect-akamai"
FASTLY = "collect-fastly"
EDGECAST = "collect-edgecast"
SECRETS = {
    "nginx": "nginx-secret-0123456789",
    "akamai-ds2": "akamai-secret-0123456789",
    "fastly": "fastly-secret-0123456789",
}
ORIGIN = "https://player.example.com"
FASTLY_SERVICE = "SU1Z0isxPaozGVKXdv0eY"
MAX_BODY = 64 * 1024
MAX_LINES = 50
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SID = "6e2fb550-c457-11e9-bb97-0800200c9a66"
# CMCD v2 event reports as dash.js 5.2.1 sent them (docs/inputs.md, "Event mode"): one CMCD
# dictionary a line, ending with a line feed.
CMCD_REPORT = (
    f'cid="bar-content",e=t,sid="{SID}",ts=1796554615546,v=2\n'
    f'bl=(0;v 0;a),cid="bar-content",e=ps,sid="{SID}",sta=s,ts=1796554615553,v=2\n'
    f'bl=(2000;v 0;a),br=(300;v),cid="bar-content",e=ps,mtp=(45300;v),sf=d,sid="{SID}",st=v,'
    "sta=p,ts=1796554615920,v=2\n"
)


def config_text(servers: str, extra: str = "") -> str:
    secrets = "\n".join(f'"{fmt}" = "{secret}"' for fmt, secret in SECRETS.items())
    return (
        f'kafka_bootstrap_servers = "{servers}"\n'
        f'player_events_topic = "{PLAYER}"\n'
        f'cdn_logs_topic = "{NGINX}"\n'
        'cdn_log_format = "nginx"\n'
        f'collect_cors_origins = ["{ORIGIN}"]\n'
        'collect_trusted_proxies = ["10.0.0.0/8"]\n'
        f'collect_fastly_service_ids = ["{FASTLY_SERVICE}"]\n'
        f"collect_max_body_bytes = {MAX_BODY}\n"
        f"collect_max_lines = {MAX_LINES}\n"
        "collect_progress_seconds = 1\n"
        f"{extra}"
        "[cdn_topic_formats]\n"
        f'"{AKAMAI}" = "akamai-ds2"\n'
        f'"{FASTLY}" = "fastly"\n'
        f'"{EDGECAST}" = "edgecast"\n'
        f"[collect_cdn_secrets]\n{secrets}\n"
    )


@pytest.fixture(scope="module")
def collector(kafka, tmp_path_factory) -> Iterator[Collector]:
    folder = tmp_path_factory.mktemp("collect")
    for topic in (PLAYER, NGINX, AKAMAI, FASTLY, EDGECAST):
        kafka.create_topic(topic, partitions=2)
    path = folder / "vsa.toml"
    path.write_text(config_text(kafka.bootstrap_servers))
    service = Collector(path, free_port(), folder / "collect.log")
    service.start()
    yield service
    # SIGTERM: the collector finishes its requests and flushes (uvicorn then re-raises the
    # signal, so the exit is SIGTERM's).
    assert service.stop() == -signal.SIGTERM
    assert "vsa collect stopped: every record acknowledged" in service.log.read_text()


def post(collector: Collector, path: str, body: bytes, **headers: str):
    return request(
        collector.port, "POST", path, body, {k.replace("_", "-"): v for k, v in headers.items()}
    )


def records_with(servers: str, topic: str, marker: bytes) -> list:
    return [m for m in read_topic(servers, topic) if marker in m.value()]


def test_cmcd_lines_reach_kafka_as_sent_with_the_collectors_stamps(collector, kafka):
    body = CMCD_REPORT.encode()
    before = time.time() * 1000
    status, _, answer = post(
        collector,
        "/cmcd",
        body,
        Content_Type="application/cmcd",
        User_Agent=CHROME,
        # From a peer that is no trusted proxy: ignored.
        X_Forwarded_For="198.51.100.9",
    )
    after = time.time() * 1000
    assert (status, json.loads(answer)) == (200, {"records": 3})

    found = records_with(kafka.bootstrap_servers, PLAYER, SID.encode())
    envelopes = [json.loads(m.value()) for m in found]
    assert sorted(e["cmcd"].encode() for e in envelopes) == sorted(body.splitlines())
    for message, envelope in zip(found, envelopes, strict=True):
        kind, stamp = message.timestamp()
        assert kind == TIMESTAMP_CREATE_TIME
        assert before - 1 <= stamp <= after + 1
        assert envelope == {
            "cmcd": envelope["cmcd"],
            "received_at": stamp,
            "client_ip": "127.0.0.1",
            "user_agent": CHROME,
        }
        assert headers_of(message) == {
            "vsa.received_at": str(stamp),
            "vsa.endpoint": "cmcd",
            "vsa.client_ip": "127.0.0.1",
            "vsa.user_agent": CHROME,
        }
        assert message.key() == SID.encode()
    # A session's lines share a partition, so their order holds.
    assert len({m.partition() for m in found}) == 1
    assert [json.loads(m.value())["cmcd"].encode() for m in found] == body.splitlines()


def test_events_object_array_ndjson_and_beacon_text_get_received_at_and_the_client(
    collector, kafka
):
    def event(n: int, **fields) -> dict:
        return {
            "event_id": f"ev-stamp-{n}",
            "event_type": "heartbeat",
            "ts": 1764000000000 + n,
            "session_id": f"s-stamp-{n % 2}",
            **fields,
        }

    own = {"client_ip": "203.0.113.7", "user_agent": "Roku/DVP-12.5", "received_at": 1}
    bodies = [
        (json.dumps(event(0, **own)), "application/json"),
        (json.dumps([event(1), event(2)]), "application/json"),
        ("\n".join(json.dumps(event(n)) for n in (3, 4)) + "\n", "application/x-ndjson"),
        # navigator.sendBeacon(url, string) sends text/plain.
        (json.dumps(event(5), indent=2), "text/plain;charset=UTF-8"),
    ]
    stamps = []
    for body, kind in bodies:
        before = int(time.time() * 1000)
        status, _, _ = post(
            collector, "/events", body.encode(), Content_Type=kind, User_Agent=CHROME
        )
        assert status == 200
        stamps.append((before, int(time.time() * 1000)))

    found = records_with(kafka.bootstrap_servers, PLAYER, b"ev-stamp-")
    events = {json.loads(m.value())["event_id"]: (json.loads(m.value()), m) for m in found}
    assert sorted(events) == [f"ev-stamp-{n}" for n in range(6)]
    for event_id, (value, message) in events.items():
        n = int(event_id.rsplit("-", 1)[1])
        assert value["received_at"] == message.timestamp()[1]
        assert value["received_at"] == int(headers_of(message)["vsa.received_at"])
        assert headers_of(message)["vsa.endpoint"] == "events"
        assert message.key() == f"s-stamp-{n % 2}".encode()
        if n == 0:
            # The event's own client and user agent stay; its received_at is the collector's.
            assert (value["client_ip"], value["user_agent"]) == (
                own["client_ip"],
                own["user_agent"],
            )
            assert stamps[0][0] <= value["received_at"] <= stamps[0][1]
        else:
            assert (value["client_ip"], value["user_agent"]) == ("127.0.0.1", CHROME)
        assert {k: v for k, v in value.items() if k not in own} == {
            k: v for k, v in event(n).items() if k not in own
        }


def test_garbage_lines_are_written_as_sent(collector, kafka):
    cmcd = b'sid="garbage-1",e=ps,sta=s\n\xff\xfe not utf-8 garbage-1\n'
    events = (
        b'{"event_id": "garbage-2", "session_id": "g"}\n'
        b'{"event_id": garbage-2 broken\n'
        b"[1, 2 garbage-2\n"
        b"\xff garbage-2 not utf-8\n"
        # A lone surrogate: valid JSON, no valid UTF-8 text.
        b'{"event_id": "garbage-2-surrogate", "note": "\\ud800"}\n'
    )
    # A User-Agent that is not UTF-8 (http.client sends str headers as Latin-1).
    assert post(collector, "/cmcd", cmcd)[0] == 200
    assert post(collector, "/events", events, User_Agent="Player/1.0 \xff")[0] == 200

    found = records_with(kafka.bootstrap_servers, PLAYER, b"garbage-1")
    readable, unreadable = cmcd.splitlines()
    # A line that is not UTF-8 has no envelope: it is written as sent.
    assert sorted(m.value() for m in found if not m.value().startswith(b"{")) == [unreadable]
    assert [json.loads(m.value())["cmcd"].encode() for m in found if m.value()[:1] == b"{"] == [
        readable
    ]
    found = {m.value(): m for m in records_with(kafka.bootstrap_servers, PLAYER, b"garbage-2")}
    assert len(found) == 5
    assert set(events.splitlines()[1:4]) <= set(found)
    stamped = [json.loads(v) for v in found if v.startswith(b'{"event_id":"')]
    assert sorted(e["event_id"] for e in stamped) == ["garbage-2", "garbage-2-surrogate"]
    assert {e["user_agent"] for e in stamped} == {"Player/1.0 \ufffd"}
    assert [e["note"] for e in stamped if "note" in e] == ["\ud800"]
    for message in found.values():
        assert dict(message.headers())["vsa.user_agent"] == b"Player/1.0 \xff"


def test_cdn_pushes_akamai_gzip_array_fastly_and_nginx_lines(collector, kafka):
    ds2 = [
        {"reqId": f"ds2-{n}", "reqPath": "/vod/bbb/seg-1.m4s", "statusCode": "200"}
        for n in range(3)
    ]
    status, _, answer = post(
        collector,
        "/cdn/akamai-ds2",
        gzip.compress(json.dumps(ds2).encode()),
        Content_Type="application/json",
        Content_Encoding="gzip",
        Authorization="Basic "
        + base64.b64encode(b"akamai:" + SECRETS["akamai-ds2"].encode()).decode(),
    )
    assert (status, json.loads(answer)) == (200, {"records": 3})
    found = read_topic(kafka.bootstrap_servers, AKAMAI)
    assert sorted(json.loads(m.value())["reqId"] for m in found) == ["ds2-0", "ds2-1", "ds2-2"]
    assert [json.loads(m.value()) for m in sorted(found, key=lambda m: m.value())] == ds2
    assert {headers_of(m)["vsa.endpoint"] for m in found} == {"cdn/akamai-ds2"}

    fastly = b'{"request_id":"fastly-1","status":200}\n{"request_id":"fastly-2","status":206}\n'
    status, _, _ = post(collector, "/cdn/fastly", fastly, X_Vsa_Secret=SECRETS["fastly"])
    assert status == 200
    assert (
        sorted(m.value() for m in read_topic(kafka.bootstrap_servers, FASTLY))
        == fastly.splitlines()
    )

    nginx = (
        b'203.0.113.7 - - [25/Nov/2025:16:00:00 +0000] "GET /vod/bbb/seg-2.m4s'
        b'?CMCD=sid%3D%22nginx-1%22 HTTP/1.1" 200 1048576 "-" "Mozilla/5.0" 0.012\r\n'
        b'203.0.113.8 - - [25/Nov/2025:16:00:01 +0000] "GET /vod/bbb/seg-3.m4s HTTP/1.1" 404 0 '
        b'"-" "-" 0.001\r\n'
    )
    status, _, _ = post(
        collector, "/cdn/nginx", gzip.compress(nginx), Authorization=f"Bearer {SECRETS['nginx']}"
    )
    assert status == 200
    found = read_topic(kafka.bootstrap_servers, NGINX)
    assert [m.value() for m in sorted(found, key=lambda m: m.value())] == [
        line.rstrip(b"\r") for line in nginx.splitlines()
    ]
    assert all(headers_of(m)["vsa.endpoint"] == "cdn/nginx" for m in found)


def test_a_wrong_or_missing_secret_gets_401_and_nothing_is_written(collector, kafka):
    line = b'{"request_id":"unauthorized-1"}\n'
    basic = "Basic " + base64.b64encode(b"u:" + SECRETS["nginx"].encode()).decode()
    for headers in (
        {},
        {"X-Vsa-Secret": SECRETS["fastly"][:-1]},
        {"Authorization": f"Bearer {SECRETS['nginx']}"},  # nginx's, not fastly's
        {"Authorization": basic},
        {"Authorization": "Basic !!not base64"},
    ):
        status, answer_headers, _ = request(collector.port, "POST", "/cdn/fastly", line, headers)
        assert status == 401, headers
        assert answer_headers["www-authenticate"].startswith("Basic")
    # A format with a topic but no secret takes no pushes; one without a topic is unknown.
    assert post(collector, "/cdn/edgecast", line, X_Vsa_Secret="anything-at-all-1234")[0] == 403
    assert post(collector, "/cdn/cloudfront", line, X_Vsa_Secret=SECRETS["nginx"])[0] == 404
    assert post(collector, "/cdn/fastly", b"after-1\n", X_Vsa_Secret=SECRETS["fastly"])[0] == 200
    values = [m.value() for m in read_topic(kafka.bootstrap_servers, FASTLY)]
    assert b"after-1" in values  # the endpoint writes, and wrote none of the refused
    values += [m.value() for m in read_topic(kafka.bootstrap_servers, EDGECAST)]
    assert not [v for v in values if b"unauthorized-1" in v]


def test_limits_oversized_bodies_gzip_bombs_bad_gzip_and_too_many_lines(collector, kafka):
    big = b"x" * (MAX_BODY + 1)
    assert post(collector, "/cmcd", big)[0] == 413
    # A gzip bomb: 64 KiB on the wire, 64 MiB inflated; refused after MAX_BODY inflated bytes.
    bomb = gzip.compress(b'sid="bomb-1",e=t\n' + b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < MAX_BODY
    status, _, answer = post(collector, "/events", bomb, Content_Encoding="gzip")
    assert (status, json.loads(answer)["error"]) == (413, "too_large")
    # The same bomb without Content-Encoding: recognized by its magic bytes.
    assert post(collector, "/cmcd", bomb)[0] == 413
    assert (
        post(collector, "/cmcd", gzip.compress(b'sid="cut-1",e=t\n')[:-6], Content_Encoding="gzip")[
            0
        ]
        == 400
    )
    assert post(collector, "/cmcd", b"\x1f\x8b not gzip at all cut-1")[0] == 400
    assert post(collector, "/cmcd", b'sid="br-1"', Content_Encoding="br")[0] == 415
    many = b"".join(b'sid="many-1",e=t,sn=%d\n' % n for n in range(MAX_LINES + 1))
    assert post(collector, "/cmcd", many)[0] == 413
    assert post(collector, "/cmcd", many.split(b"\n", 1)[1])[0] == 200  # MAX_LINES: fine
    values = [m.value() for m in read_topic(kafka.bootstrap_servers, PLAYER)]
    assert not [v for v in values if b"bomb-1" in v or b"cut-1" in v or b"br-1" in v]
    assert len([v for v in values if b"many-1" in v]) == MAX_LINES


def test_cors_lets_listed_origins_in_and_keeps_others_out(collector, kafka):
    status, headers, _ = request(
        collector.port,
        "OPTIONS",
        "/cmcd",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "content-type"
    status, headers, _ = post(collector, "/cmcd", b'sid="cors-1",e=t\n', Origin=ORIGIN)
    assert (status, headers["access-control-allow-origin"]) == (200, ORIGIN)
    assert "retry-after" in headers["access-control-expose-headers"]

    evil = "https://evil.example.net"
    assert request(collector.port, "OPTIONS", "/events", headers={"Origin": evil})[0] == 403
    status, headers, _ = post(collector, "/events", b'{"event_id":"cors-2"}', Origin=evil)
    assert status == 403 and "access-control-allow-origin" not in headers
    values = [m.value() for m in read_topic(kafka.bootstrap_servers, PLAYER)]
    assert [v for v in values if b"cors-1" in v] and not [v for v in values if b"cors-2" in v]


def test_fastly_challenge_health_and_unknown_paths(collector):
    status, headers, body = request(collector.port, "GET", "/.well-known/fastly/logging/challenge")
    assert status == 200
    assert body.decode().splitlines() == [hashlib.sha256(FASTLY_SERVICE.encode()).hexdigest()]
    status, _, body = request(collector.port, "GET", "/healthz")
    assert (status, json.loads(body)) == (200, {"kafka": "up"})
    assert request(collector.port, "GET", "/cmcd")[0] == 405
    assert request(collector.port, "POST", "/nowhere", b"x")[0] == 404


def test_progress_lines_count_and_hold_no_address(collector):
    post(collector, "/cmcd", b'sid="progress-1",e=t\n', User_Agent=CHROME)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [
            line
            for line in collector.log.read_text().splitlines()
            if "collect: " in line and " requests" in line
        ]
        if any(" 0 requests" not in line for line in lines):
            break
        time.sleep(0.5)
    busy = [line for line in lines if " 0 requests" not in line]
    assert busy, collector.log.read_text()[-2000:]
    assert "records" in busy[0] and "broker ack p50" in busy[0]
    assert not [line for line in lines if re.search(r"\d+\.\d+\.\d+\.\d+", line)]
    # The log holds the listen and broker addresses, but nothing of a client.
    log = collector.log.read_text()
    assert "198.51.100.9" not in log and "203.0.113.7" not in log and CHROME not in log


def test_client_address_behind_trusted_proxies():
    app = CollectorApp(
        VsaConfig(collect_trusted_proxies=("10.0.0.0/8", "2001:db8::/48")), broker_settings={}
    )

    def client(peer: str, forwarded: str | None) -> str | None:
        headers = {b"x-forwarded-for": forwarded.encode()} if forwarded else {}
        return app._client_ip({"client": (peer, 50000)}, headers)

    assert client("198.51.100.1", "203.0.113.7") == "198.51.100.1"  # untrusted peer
    assert client("10.0.0.5", None) == "10.0.0.5"
    assert client("10.0.0.5", "203.0.113.7") == "203.0.113.7"
    # Right-most untrusted hop: a client cannot forge what its proxies appended.
    assert client("10.0.0.5", "192.0.2.66, 203.0.113.7, 10.1.1.1") == "203.0.113.7"
    assert client("2001:db8::1", "2001:db8::2, 2001:db8:ffff::9") == "2001:db8:ffff::9"
    assert client("10.0.0.5", "10.0.0.9, 10.0.0.8") == "10.0.0.9"
    assert client("10.0.0.5", "garbage, 10.0.0.8") == "10.0.0.8"


def test_config_hides_cdn_secrets_and_check_covers_the_collector(tmp_path):
    from vsa.collect.checks import collect_checks

    path = tmp_path / "vsa.toml"
    path.write_text(config_text("127.0.0.1:9"))
    shown = subprocess.run(
        [sys.executable, "-m", "vsa", "config", "--config", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "collect_cdn_secrets" in shown
    assert not [s for s in SECRETS.values() if s in shown]

    # Secrets can stay out of the file.
    secret = "from-the-environment-123"
    config = load_config(path, env={"VSA_COLLECT_CDN_SECRET_AKAMAI_DS2": secret})
    assert config.collect_cdn_secrets["akamai-ds2"] == secret
    assert config.collect_cdn_secrets["nginx"] == SECRETS["nginx"]
    assert secret not in repr(config)

    checks = {c.name: c for c in collect_checks(load_config(path, env={}))}
    assert checks["collect"].status == "ok"
    assert f"/cdn/fastly → {FASTLY}" in checks["collect"].detail
    assert checks["collect secrets"].status == "ok"
    assert "/cdn/edgecast refuses pushes (no secret)" in checks["collect secrets"].detail
    assert "/cdn/fastly takes pushes" in checks["collect secrets"].detail
    assert checks["collect kafka"].status == "ok"
    assert checks["collect origins"].detail == ORIGIN

    # A secret for a format no topic reads is a mistake worth a warning.
    config = load_config(path, env={"VSA_COLLECT_CDN_SECRET_CLOUDFRONT": "x" * 16})
    checks = {c.name: c for c in collect_checks(config)}
    assert checks["collect secrets"].status == "warn"
    assert "collect_cdn_secrets.cloudfront has no CDN topic" in checks["collect secrets"].detail

    oauth = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
    config = load_config(path, env={"VSA_KAFKA_OPTION_SASL_JAAS_CONFIG": oauth})
    checks = {c.name: c for c in collect_checks(config)}
    assert checks["collect kafka"].status == "warn"
    assert "OAuthBearerLoginModule" in checks["collect kafka"].detail


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('collect_trusted_proxies = ["10.0.0.0/33"]', "collect_trusted_proxies"),
        ('collect_cors_origins = ["player.example.com"]', "collect_cors_origins"),
        ('[collect_cdn_secrets]\n"nginx" = "short"', "too short"),
        ('[collect_cdn_secrets]\n"squid" = "long-enough-secret-123"', "unknown CDN log format"),
        ("collect_max_body_bytes = 0", "collect_max_body_bytes must be positive"),
    ],
)
def test_bad_collector_settings_are_named_at_load(tmp_path, line, error):
    path = tmp_path / "vsa.toml"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=error):
        load_config(path, env={})


def test_without_the_extra_collect_says_what_to_install():
    # The extra's modules made unimportable, as in `pip install vsa` without [collect].
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.modules['confluent_kafka'] = None\n"
        "from vsa.cli import main; sys.exit(main(['collect', '--port', '1']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "pip install 'vsa[collect]'" in done.stderr


def test_a_cdn_body_that_only_looks_like_a_json_array_stays_lines():
    from vsa.collect.records import cdn_records

    assert cdn_records(b"[not json\n[2\n") == [(b"[not json", None), (b"[2", None)]
    assert cdn_records(b'[{"a":1},{"b":"\xc3\xa9"}]') == [
        (b'{"a":1}', None),
        ('{"b":"é"}'.encode(), None),
    ]


def test_the_package_imports_without_the_extra():
    # The package imports without the extra: `vsa check` and `vsa config` need no web server.
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.modules['confluent_kafka'] = None\n"
        "import vsa.collect.checks, vsa.collect.app; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b'e=t,sid="s-1",v=2', b"s-1"),
        (b'sid="s-2"', b"s-2"),
        (b'bl=(0;v 0;a),cid="x",e=ps,sid="s-3",sta=s', b"s-3"),
        (b'xsid="no",sid="s-4",v=2', b"s-4"),  # a key that ends in "sid" is not sid
        (b'sid="s\\"5",v=2', b's\\"5'),  # an escaped quote: the value as sent
        (b"e=t,v=2", None),
        (b'sid="', None),
    ],
)
def test_a_cmcd_line_is_keyed_by_its_sid(line, key):
    from vsa.collect.records import Stamp, cmcd_records

    ((value, found),) = cmcd_records(line, Stamp(1, None, None))
    assert (json.loads(value), found) == ({"cmcd": line.decode(), "received_at": 1}, key)
