"""A real player, end to end: Debian's ffmpeg makes a short DASH stream, Debian's nginx serves it
(and the page) on loopback and writes an access log vsa reads, and headless Chromium plays it
with dash.js 5 from npm (tests/player/), CMCD v2 on every segment request and CMCD v2 event
reports POSTed to an event target. docs/real-player.md tells how it works.

``RealPlayer.play(scenario, event_target_url)`` plays one scenario and returns what the page
measured from the video element's events, the nginx log and the CMCD session id."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from browser import Browser
from vsa.kafka.broker import free_port

PLAYER_DIR = Path(__file__).resolve().parent / "player"
DASHJS = PLAYER_DIR / "node_modules" / "dashjs" / "dist" / "modern" / "umd" / "dash.all.min.js"
FFMPEG = os.environ.get("VSA_FFMPEG") or shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
NGINX = os.environ.get("VSA_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"

# The stream: a test pattern in two renditions of 2-s segments.
STREAM_SECONDS = 20
SEGMENT_SECONDS = 2
RENDITIONS = (("640x360", "800k"), ("320x180", "300k"))  # representation ids 0 and 1
MANIFEST = "stream.mpd"

# Scenarios. "stall": this segment (of every rendition) reaches the player only after
# STALL_DELIVERY_SECONDS, past the buffer it has by then. "fatal": from this segment on, every
# segment answers 404, so the player runs dry and gives up.
STALL_SEGMENT = 3  # media time 4-6 s
STALL_DELIVERY_SECONDS = 8.0
FATAL_SEGMENT = 4  # media time 6-8 s
SCENARIOS = ("clean", "stall", "fatal")

# nginx's combined format extended as docs/cdn.md describes: the request line holds the query
# (CMCD=...) of every segment request.
ACCESS_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" rt=$request_time ut="$upstream_response_time" '
    "cs=$upstream_cache_status"
)
# The event target's sink: one JSON object per POST, its body as received.
REPORT_LOG_FORMAT = (
    '{"received_s":$msec,"content_type":"$content_type","user_agent":"$http_user_agent",'
    '"body":"$request_body"}'
)


def make_stream(out: Path) -> Path:
    """Encodes the stream into ``out`` (a few seconds: low resolution, fastest preset) and
    returns the manifest's path."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = [size for size, _ in RENDITIONS]
    split = f"[0:v]split={len(RENDITIONS)}" + "".join(f"[s{i}]" for i in range(len(sizes)))
    scales = ";".join(f"[s{i}]scale={size.replace('x', ':')}[v{i}]" for i, size in enumerate(sizes))
    command = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={sizes[0]}:rate=25:duration={STREAM_SECONDS}",
        "-filter_complex", f"{split};{scales}",
    ]  # fmt: skip
    for index, (_, bitrate) in enumerate(RENDITIONS):
        command += ["-map", f"[v{index}]", f"-b:v:{index}", bitrate, f"-maxrate:v:{index}", bitrate]
        command += [f"-bufsize:v:{index}", bitrate]
    gop = str(25 * SEGMENT_SECONDS)
    command += [
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
        "-bf", "0",
        "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-f", "dash", "-seg_duration", str(SEGMENT_SECONDS), "-use_template", "1",
        "-use_timeline", "0", "-adaptation_sets", "id=0,streams=v",
        "-init_seg_name", "init-$RepresentationID$.m4s",
        "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.m4s",
        str(out / MANIFEST),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return out / MANIFEST


def segment_name(representation: int, number: int) -> str:
    return f"chunk-{representation}-{number:05d}.m4s"


class Nginx:
    """Debian's nginx on a loopback port, run by the test (no root needed: every path it writes
    is under ``workdir``). It serves ``/stream/`` (the stream, with the scenario's faults, into
    ``access.log``), ``/player/`` (the page and dash.js) and ``POST /cmcd`` (an event target
    that logs each report body into ``cmcd.log``)."""

    def __init__(self, workdir: Path, stream: Path, scenario: str, port: int) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}: one of {SCENARIOS}")
        self.workdir = workdir
        self.port = port
        self.access_log = workdir / "access.log"
        self.report_log = workdir / "cmcd.log"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "nginx.conf").write_text(self._config(stream, scenario))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _faults(self, stream: Path, scenario: str) -> str:
        locations = []
        for representation in range(len(RENDITIONS)):
            if scenario == "stall":
                name = segment_name(representation, STALL_SEGMENT)
                # Bytes per second so that the whole segment takes STALL_DELIVERY_SECONDS.
                rate = max(1, int((stream / name).stat().st_size / STALL_DELIVERY_SECONDS))
                locations.append(
                    f"location = /stream/{name} {{ alias {stream}/{name}; limit_rate {rate}; }}"
                )
            elif scenario == "fatal":
                last = STREAM_SECONDS // SEGMENT_SECONDS
                numbers = "|".join(f"{n:05d}" for n in range(FATAL_SEGMENT, last + 1))
                pattern = f"^/stream/chunk-{representation}-({numbers})\\.m4s$"
                locations.append(f"location ~ {pattern} {{ return 404; }}")
        return "\n        ".join(locations)

    def _config(self, stream: Path, scenario: str) -> str:
        work = self.workdir
        # As root, nginx's workers would switch to nobody, who cannot read pytest's 0700 tmp dirs.
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""
{user}
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    types {{
        text/html html; application/javascript js; application/dash+xml mpd; video/mp4 m4s mp4;
    }}
    default_type application/octet-stream;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    log_format vsa '{ACCESS_LOG_FORMAT}';
    log_format cmcd_reports escape=json '{REPORT_LOG_FORMAT}';
    sendfile on;
    server {{
        listen 127.0.0.1:{self.port};
        add_header Cache-Control no-store always;
        # The CDN's side: every request for the stream, faults included.
        access_log {self.access_log} vsa;
        location /stream/ {{ alias {stream}/; }}
        {self._faults(stream, scenario)}
        location /player/ {{ alias {PLAYER_DIR}/; access_log off; }}
        # The event target: nginx logs a body it has read, and proxying is what reads it.
        location = /cmcd {{
            client_body_buffer_size 1m;
            client_body_in_single_buffer on;
            access_log {self.report_log} cmcd_reports;
            proxy_pass http://127.0.0.1:{self.port}/sink;
        }}
        location = /sink {{ access_log off; return 204; }}
    }}
}}
"""

    def start(self) -> Nginx:
        self._proc = subprocess.Popen(
            [NGINX, "-p", str(self.workdir), "-e", str(self.workdir / "error.log"),
             "-c", str(self.workdir / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self._proc.stderr.read().decode()}")
            try:
                urllib.request.urlopen(f"{self.base_url}/player/index.html", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not answer in 10 s")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()  # SIGTERM: nginx's fast shutdown, logs flushed
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Playback:
    """One scenario played: ``page`` is window.result (startup_ms, watch_ms, played_s, stalls,
    errors, ... ; docs/real-player.md); ``access_log`` nginx's log of the stream's requests;
    ``report_log`` the CMCD reports nginx's own event target received; ``sid`` the CMCD session
    id of every request and report."""

    scenario: str
    sid: str
    cid: str
    page: dict[str, Any]
    access_log: Path
    report_log: Path
    browser_errors: list[str] = field(default_factory=list)

    def access_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines()

    def report_bodies(self) -> list[str]:
        """The body of each POST nginx's event target received."""
        return [json.loads(line)["body"] for line in self.report_log.read_text().splitlines()]


class RealPlayer:
    """Plays the scenarios of one stream, made once into ``workdir``, one after the other from
    the same origin (``origin``: the page's, for an event target's CORS allow-list)."""

    def __init__(self, workdir: Path) -> None:
        for tool in (FFMPEG, NGINX, DASHJS):
            if not Path(tool).exists():
                raise FileNotFoundError(f"{tool} not found: `make player` installs it")
        self.workdir = workdir
        self.stream = make_stream(workdir / "stream").parent
        self.port = free_port()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def play(
        self,
        scenario: str,
        event_target_url: str | None = None,
        timeout: float = 60,
        sid: str | None = None,
    ) -> Playback:
        """Plays ``scenario`` in a fresh Chromium and nginx until the video ends or the player
        gives up. CMCD event reports go to nginx's own target (``Playback.report_log``) and, if
        given, to ``event_target_url`` too (``vsa collect``'s ``POST /cmcd``)."""
        sid = sid or str(uuid.uuid4())
        cid = f"vsa-real-player-{scenario}"
        run = self.workdir / f"{scenario}-{sid[:8]}"
        with Nginx(run, self.stream, scenario, self.port) as nginx:
            targets = [f"{nginx.base_url}/cmcd", *([event_target_url] if event_target_url else [])]
            query = urllib.parse.urlencode(
                {"mpd": f"{nginx.base_url}/stream/{MANIFEST}", "target": targets, "sid": sid,
                 "cid": cid},
                doseq=True,
            )  # fmt: skip
            with Browser(
                extra_args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"]
            ) as browser:
                browser.open(f"{nginx.base_url}/player/index.html?{query}")
                page = wait_for_page(browser, timeout)
                # The reports of the end (or of the failure) are on their way: let them land.
                for target in targets:
                    browser.wait_for_requests(target)
                wait_for_last_report(nginx.report_log)
                errors = list(browser.errors)
        (run / "page.json").write_text(json.dumps(page, indent=1))
        return Playback(
            scenario=scenario,
            sid=sid,
            cid=cid,
            page=page,
            access_log=nginx.access_log,
            report_log=nginx.report_log,
            browser_errors=errors,
        )


def wait_for_page(browser: Browser, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        page = browser.evaluate("JSON.stringify(window.result || null)")
        result = json.loads(page) if page else None
        if result and result["done"]:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page did not finish in {timeout} s: {result}")
        time.sleep(0.2)


def wait_for_last_report(report_log: Path, timeout: float = 10) -> None:
    """Waits until the report of the final play state (ended, fatal error) or of an error is
    logged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if report_log.exists() and any(
            "sta=e" in body or "sta=f" in body or "e=e" in body
            for body in (json.loads(line)["body"] for line in report_log.read_text().splitlines())
        ):
            return
        time.sleep(0.1)
